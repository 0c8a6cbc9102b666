// Package filter is the filter service: it turns trigger-tag messages,
// manual rebuilds and reconciler findings into RebuildRequests on
// ebs.rebuild.requested, with the original ELNBuildSync's eligibility and
// naming.
//
// Triggers: a buildsys.tag message (durable consumer "filter" on
// fedmsg.buildsys.tag) whose tag equals the trigger tag (control.trigger_tag
// or koji.trigger_tag; "rawhide" is resolved through Bodhi's pending
// releases at each configuration load) is eligible when its Fedora name is
// in the component universe (Content Resolver lists walked in reverse so the
// first-listed view and source win, plus overrides' upstream_name) and no
// exclude pattern matches it (re.search). The request carries the ELN name,
// the ordering of the first ordering rule matching the ELN name (default
// 1000), the view, the build, the message id ("trigger-<message id>" is the
// request id and Nats-Msg-Id) and the user who tagged. Ineligible messages
// are only counted and logged at debug level.
//
// Manual rebuilds (ManualRebuild on ebs.rebuild.manual, consumer
// "filter-manual") and the reconciler (every 12 h: every listed component
// with no build in the stable tag) pick the source build like the
// original's rebuild_from_components: the latest Rawhide build of the
// Fedora name against the latest ELN build of the ELN name, dist tags
// stripped, rpm labelCompare, creation time on ties, ELN winning an exact
// tie. Unknown, excluded or build-less names of a manual rebuild become
// RequestRejected on ebs.rebuild.rejected. The reconciler publishes no
// rejections: excluded components are expected to be missing, and the
// hundreds without any build are counted (ebs_filter_reconcile_no_build_total)
// and named in the run's one "reconcile done" log line.
//
// Reconcile rounds are shared by the replicas: a round is the key
// "reconcile" in KV ebs_lock, created by the replica that runs it with a TTL
// of one interval less half a check, its value the run id (request ids
// "reconcile-<run id>-<component>"). Every replica checks every twelfth of
// the interval (at most 5 min) and the first to create the next key runs the
// round, so replicas started at different times run each round once, under
// one id. Each round created is also recorded in "reconcile-last" (no TTL).
// A starting replica looks at once: a round open, it does nothing; none open
// but one recorded, the round is due and it runs it; none ever, a fresh
// deployment, it opens one (value "start-up ...") without running it, so the
// first reconcile comes one interval after the service first starts, as in
// the original. A restart neither delays nor repeats a round.
//
// The configuration is checked at start-up (an invalid one stops the
// service) and refreshed every 15 min; a candidate replaces the state only
// when it loads, rawhide resolves and the lists fetch. Koji is read through
// libs/koji (KojiReader: listTagged, getBuildTarget), Bodhi through
// libs/bodhi (ReleaseResolver), anonymously: the filter changes nothing.
//
// # Configuration
//
// Flags, each with its environment variable (Config documents the
// defaults): -koji-url (EBS_KOJI_URL), -bodhi-url (EBS_BODHI_URL),
// -config-refresh (EBS_CONFIG_REFRESH), -reconcile-interval
// (EBS_RECONCILE_INTERVAL; negative disables), -http-timeout
// (EBS_HTTP_TIMEOUT), -http-retry (EBS_HTTP_RETRY). The filter holds no
// secrets: it reads Koji and Bodhi anonymously.
// Every service also takes the shared flags: -nats-url (EBS_NATS_URL),
// -nats-creds (EBS_NATS_CREDS), -nats-replicas (EBS_NATS_REPLICAS),
// -admin-addr (EBS_ADMIN_ADDR; /alive, /startup, /metrics), -config
// (EBS_CONFIG), -log-level (EBS_LOG_LEVEL) and -log-format (EBS_LOG_FORMAT).
package filter
