package natsx

import "strings"

// Streams.
const (
	// StreamFedmsg holds Fedora Messaging messages as FedoraMessage envelopes.
	StreamFedmsg = "FEDMSG"
	// StreamEBS holds every ebs request, command, event and dead letter.
	StreamEBS = "EBS"
)

// Subjects on StreamFedmsg: "fedmsg." + the topic without its environment
// prefix, e.g. org.fedoraproject.prod.buildsys.tag -> fedmsg.buildsys.tag.
const (
	SubjectFedmsgPrefix           = "fedmsg."
	SubjectFedmsgAll              = "fedmsg.>"
	SubjectFedmsgTag              = "fedmsg.buildsys.tag"
	SubjectFedmsgUntag            = "fedmsg.buildsys.untag"
	SubjectFedmsgRepoInit         = "fedmsg.buildsys.repo.init"
	SubjectFedmsgRepoDone         = "fedmsg.buildsys.repo.done"
	SubjectFedmsgTaskStateChange  = "fedmsg.buildsys.task.state.change"
	SubjectFedmsgBuildStateChange = "fedmsg.buildsys.build.state.change"
)

// Subjects on StreamEBS.
const (
	SubjectEBSAll = "ebs.>"

	// Requests (filter, batcher, status).
	SubjectRebuildRequested  = "ebs.rebuild.requested"
	SubjectRebuildManual     = "ebs.rebuild.manual"
	SubjectRebuildSuperseded = "ebs.rebuild.superseded"
	SubjectRebuildRejected   = "ebs.rebuild.rejected"

	// Commands and events of the workers: <prefix><verb>, the verb being the
	// kebab-case name of the message's oneof case (see VerbSubject).
	SubjectKojiCmdPrefix  = "ebs.koji.cmd."
	SubjectKojiEvtPrefix  = "ebs.koji.evt."
	SubjectWatchCmdPrefix = "ebs.watch.cmd."
	SubjectWatchEvtPrefix = "ebs.watch.evt."
	SubjectBodhiCmdPrefix = "ebs.bodhi.cmd."
	SubjectBodhiEvtPrefix = "ebs.bodhi.evt."

	// Public batch events.
	SubjectBatchAll        = "ebs.batch.>"
	SubjectBatchStarted    = "ebs.batch.started"
	SubjectBatchPhase      = "ebs.batch.phase"
	SubjectSliceStarted    = "ebs.batch.slice.started"
	SubjectSliceFinished   = "ebs.batch.slice.finished"
	SubjectAttemptStarted  = "ebs.batch.attempt.started"
	SubjectAttemptFinished = "ebs.batch.attempt.finished"
	SubjectBatchCompleted  = "ebs.batch.completed"

	SubjectDeadLetter      = "ebs.deadletter"
	SubjectDenylistRemoved = "ebs.denylist.removed"
	SubjectConfigLoaded    = "ebs.config.loaded"
	SubjectConfigRejected  = "ebs.config.rejected"
)

// KV buckets.
const (
	BucketPending = "ebs_pending" // pending requests, one key per ELN component (batcher)
	BucketBatches = "ebs_batches" // batch saga checkpoints (batcher)
	BucketLock    = "ebs_lock"    // the batch lock (batcher)
	BucketControl = "ebs_control" // runtime pause (status writes, batcher reads)
	BucketFailed  = "ebs_failed"  // denylisted SCM URLs (batcher)
	BucketTasks   = "ebs_tasks"   // tracked Koji tasks (koji-worker)
	BucketWaits   = "ebs_waits"   // tag and repo waits (repo-watcher)
	BucketResults = "ebs_results" // command outcomes by command id (workers)
	BucketUpdates = "ebs_updates" // Bodhi updates being followed, by command id (bodhi-publisher)
)

// Well-known keys.
const (
	KeyBatchLock = "batch"   // in BucketLock
	KeyPause     = "pause"   // in BucketControl
	KeyCurrent   = "current" // in BucketBatches: id of the running batch

	// Poll rounds in BucketLock (ClaimRound): one replica polls per interval.
	KeyPollKojiTasks    = "poll-koji-tasks"    // koji-worker: getTaskInfo of open tasks
	KeyPollWaits        = "poll-waits"         // repo-watcher: listTagged/getRepo of open waits
	KeyPollBodhiUpdates = "poll-bodhi-updates" // bodhi-publisher: followed updates
	KeyReconcileRound   = "reconcile"          // filter: the reconciler's round; the value is its run id
	// KeyReconcileLast (no TTL) holds the value of the last reconcile round
	// created: a filter starting where it exists but no round is open runs
	// the due round; where it does not (a fresh deployment) it waits one.
	KeyReconcileLast = "reconcile-last"
)

// Durable consumer names.
const (
	ConsumerFilter         = "filter"          // FEDMSG buildsys.tag
	ConsumerFilterManual   = "filter-manual"   // EBS ebs.rebuild.manual
	ConsumerKojiWorkerFed  = "koji-worker"     // FEDMSG build/task state changes
	ConsumerKojiWorkerCmd  = "koji-worker"     // EBS ebs.koji.cmd.>
	ConsumerRepoWatcherCmd = "repo-watcher"    // EBS ebs.watch.cmd.>
	ConsumerBatcher        = "batcher"         // EBS ebs.rebuild.requested
	ConsumerBodhiPublisher = "bodhi-publisher" // EBS ebs.bodhi.cmd.>
	ConsumerStatus         = "status"          // EBS ebs.>
	ConsumerStatusMail     = "status-mail"     // EBS ebs.batch.completed
	ConsumerBridgeOutbound = "bridge-outbound" // EBS ebs.batch.completed
)

// FedmsgSubject maps a Fedora Messaging topic to its FEDMSG subject, removing
// the environment prefix (e.g. "org.fedoraproject.prod") when the topic has it.
func FedmsgSubject(topic, prefix string) string {
	if prefix != "" && strings.HasPrefix(topic, prefix+".") {
		topic = topic[len(prefix)+1:]
	}
	return SubjectFedmsgPrefix + topic
}
