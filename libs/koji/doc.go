// Package koji is ebs's client for the Koji hub's XML-RPC API
// (https://koji.fedoraproject.org/kojihub), built on github.com/kolo/xmlrpc
// with Koji's wire dialect in the wire subpackage.
//
// # Making a client
//
//	c, err := koji.New(koji.Options{URL: "https://koji.fedoraproject.org/kojihub"})   // anonymous
//
//	tlsCfg, _ := koji.TLSConfig("/etc/ebs/koji.pem", "", "/etc/ebs/koji-ca.pem")      // cert+key in one file is fine
//	c, err := koji.New(koji.Options{URL: hub, HTTPClient: koji.HTTPClientFor(tlsCfg), Auth: koji.SSLAuth{}})
//
//	c, err := koji.New(koji.Options{URL: hub, Auth: &koji.GSSAPIAuth{
//		Principal: "eln-buildsync/host@FEDORAPROJECT.ORG", Keytab: "/etc/ebs/koji.keytab"}})
//
// A client with Auth logs in (sslLogin on <hub>/ssllogin) on first use or
// with Login, sends Koji-Session-Id/-Key/-Callnum on every call, and renews
// the session transparently on AuthExpired (1007), the way the Python client
// does (renew=True with the old session headers, then one retry). An
// invalid session (AuthError 1002) or SequenceError (1008) gets a fresh
// login and one retry: the hub rejected the call before running it.
// Logged-in calls are serialised per client because the hub requires the
// callnum to grow; anonymous calls run in parallel.
//
// In tests, libs/sim/kojihub gives a client in one line:
//
//	hub := kojihub.Start(t, kojihub.Options{})
//	c := hub.NewClient(t, "eln-buildsync")   // "" for anonymous
//
// # Calls
//
// Every call ebs makes has a typed method: GetAPIVersion, GetLoggedInUser,
// GetLastEvent, GetBuildTarget, GetTag, GetBuild, ListBuilds, ListTagged,
// ListTags, CreateSideTag, RemoveSideTag, ListSideTags, DeleteTag, TagBuild,
// UntagBuild, Build, GetTaskInfo, GetTaskChildren, ListTasks, GetTaskResult,
// CancelTask, PromoteBuild, GetRepo, GetRepoState, RepoInfo. Arguments go
// on the wire as koji.ClientSession sends them (positional, optional ones in
// the trailing "__starstar" keyword struct; compare testdata/koji-wire).
// Call(ctx, &out, method, params...) reaches any other method; KW builds
// keyword arguments.
//
// Results are typed: Build, Task, Tag, Target, Repo, SideTag, SideTagInfo,
// User, Event, with Koji's enums TaskState, BuildState, RepoState (Koji's
// integers; Finished helpers). Task.SCMURL/Target/Opts/CustomUserMetadata
// read a build task's request, which is how koji-worker finds, after a
// crash, whether a build command already created its task:
//
//	tasks, _ := c.ListTasks(ctx, koji.TaskFilter{Method: "build", Owner: me.ID, TopLevel: true,
//		CreatedAfter: since}, nil)
//	for _, t := range tasks { if t.SCMURL() == url && t.Target() == tag && t.CustomUserMetadata()["ebs_cmd"] == id { ... } }
//
// # Multicall
//
// Multicall(ctx, calls, chunk) sends multiCall requests of at most chunk
// calls (default 500) and returns one Result per call; one call's fault
// never loses the others. Typed batch helpers wrap the common cases and
// return []BatchResult[T]: GetBuilds, TagBuilds, UntagBuilds, SubmitBuilds,
// GetTaskInfos, CancelTasks, PromoteBuilds, ListBuildsByTask.
//
// # Errors
//
// A hub fault is a *Fault with Koji's code, class name and message:
//
//	var f *koji.Fault
//	if errors.As(err, &f) && f.Code == koji.CodeTagError { ... }
//	if errors.Is(err, koji.ErrAuthError) { ... }   // follows Koji's class hierarchy
//
// Non-200 answers are *HTTPError. Retries with exponential backoff and
// jitter cover transport errors, HTTP 5xx/408/429 and ServerOffline (1014),
// within Options.RetryBudget (default 60 s, like the original service);
// other faults are never retried. When a retried write meets RetryError
// (1009), the first attempt was committed but its answer lost: the error is
// returned (errors.Is(err, koji.ErrRetryError)) so the caller can look the
// effect up; a read is simply asked again with a fresh callnum. Every call
// honours its context, during backoff too (the error wraps ctx.Err()).
//
// # Counters
//
// Stats() returns HTTP requests, retries, re-logins, calls per method
// (multicall elements under their own method, the requests under
// "multiCall") and faults per code. NewMetrics(reg) registers
// ebs_koji_client_{calls_total,faults_total,http_requests_total,
// retries_total,call_duration_seconds} on a Prometheus registerer; pass it
// as Options.Metrics.
package koji
