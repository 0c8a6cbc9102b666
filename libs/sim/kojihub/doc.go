// Package kojihub is a faithful, fast simulator of the Koji hub for tests,
// benchmarks and the demo: a real HTTP(S) XML-RPC server with Koji's method
// names, signatures (positional and "__starstar" keyword arguments, Python
// argument binding and ParameterError), return shapes, fault codes and
// strings, HTTP behaviour (POST only, 405 with Allow: POST, faults as HTTP
// 200, 400 for unparsable bodies, Koji-Version header), sessions (sslLogin
// on /ssllogin, Koji-Session-* headers, callnum SequenceError/RetryError,
// AuthExpired, renewal), multiCall with per-call savepoints, and the
// buildsys.* messages of the koji-fedoramessaging plugin, published after
// "commit".
//
// # Starting one
//
//	hub := kojihub.Start(t, kojihub.Options{})                 // plain HTTP on 127.0.0.1, closed at cleanup
//	hub := kojihub.Start(t, kojihub.Options{TLS: true})        // HTTPS + certificate login (NewTestPKI)
//	c := hub.NewClient(t, "eln-buildsync")                     // *koji.Client logged in on first use
//	anon := hub.NewClient(t, "")
//	url := hub.URL()                                           // http://127.0.0.1:port/kojihub
//
// Without a test: h, _ := kojihub.New(opts); url, _ := h.Listen(ctx, "127.0.0.1:0")
// (or use h as an http.Handler). cmd/kojisim runs it alone.
//
// Logins: on plain HTTP /ssllogin authenticates the user named by the
// RemoteUserHeader request header (Hub.NewClient sets it) or else
// Options.LoginUser (default the bot, "eln-buildsync"); with TLS it takes
// the CN of a client certificate signed by the hub's PKI
// (PKI.ClientTLS(user), PKI.WriteClientFiles); with Options.Kerberos it
// accepts SPNEGO tokens for the hub's HTTP service keytab. Unknown users
// are created at login (LoginCreatesUser). Anonymous calls may read; writes
// fault with ActionNotAllowed (1004).
//
// # The world
//
// Every hub starts with the Rawhide tree (f45 <- f45-build,
// f45-updates-candidate; targets f45 and rawhide), the ELN tree (eln <-
// eln-build; target eln -> eln-build / eln), READY repos for the build
// tags, and users kojiadmin (admin), bodhi (admin + tag: Bodhi's simulator
// tags into eln and deletes update side tags), kojira, releng and the bot.
// Populate it with:
//
//	hub.Generate(kojihub.GenerateOptions{Packages: 25000, ELNFraction: 0.1})  // or Options.Packages
//	hub.AddBuild(kojihub.BuildSpec{NVR: "bash-5.3-1.fc45", Tags: []string{"f45"}, State: koji.BuildComplete, WithTask: true})
//	hub.NewRawhideBuild("bash-5.3-2.fc45", "kdudka")   // creates + tags into f45, publishes buildsys.tag
//	hub.Tag("eln", nvr, "bodhi"); hub.Untag(...)         // as another actor, with messages
//	hub.AddUser / AddTag / AddTarget / AddPackages / BlockPackage
//
// Generation is seeded (Options.Seed) and deterministic; 25,000 packages
// load in well under a second.
//
// Reads answer as Koji's do: listBuilds resolves packageID and userID by
// id, name (a user also by Kerberos principal) or struct, returns [] for an
// unknown one, and orders by queryOpts' field ("-start_ts") with
// PostgreSQL's NULL placement. system.listMethods, system.methodSignature
// ("signatures not supported") and system.methodHelp ("name(args)") answer
// as Koji's HandlerRegistry does.
//
// Side tags are <basetag>-side-<id> with a target of the same name, extra
// {sidetag, sidetag_user, sidetag_user_id}, owner-or-admin removal and a
// per-user limit (Options.SideTagLimit, ActionNotAllowed "policy violation
// (sidetag)"). tagBuild validates synchronously (COMPLETE build, package
// listed and not blocked through inheritance, tag policy: admins, "tag"
// permission, side tag owners) and tags in a tagBuild task. untagBuild is
// immediate. Tag changes regenerate repos of every build tag below the tag
// (newRepo task, repo INIT with buildsys.repo.init, READY after
// Scenario.RepoDelay with buildsys.repo.done); build(wait_repo) waits for it.
//
// # Builds and scenarios
//
// build() creates the real task tree: build (noarch) -> buildSRPMFromSCM
// (label srpm) -> buildArch per tag arch -> tagBuild into the target's
// destination tag; a build entry (BUILDING, then COMPLETE/FAILED/CANCELED)
// with NVR derived from the Rawhide build of the same SCM URL (dist tag
// fc45 -> eln150), drafts as "<release>,draft_<id>" and promoteBuild.
// What happens per package comes from a Scenario (Go value or YAML file,
// see ScenarioFile and cmd/kojisim --help):
//
//	kojihub.Options{Scenario: &kojihub.Scenario{
//		Default:  kojihub.Outcome{Result: kojihub.ResultSucceed, Duration: kojihub.Duration(20 * time.Millisecond)},
//		Packages: map[string]kojihub.Outcome{
//			"gcc":   {Result: kojihub.ResultFail, Times: 2},   // fails twice, then succeeds
//			"glibc": {Result: kojihub.ResultHang},             // until cancelTask
//			"rust":  {Result: kojihub.ResultSRPMFail},
//			"bash":  {Result: kojihub.ResultNVRExists},
//		},
//		TagDelay: kojihub.Duration(5 * time.Millisecond), RepoDelay: kojihub.Duration(10 * time.Millisecond)}}
//	hub.SetScenario(s); hub.SetOutcome("gcc", o); hub.Attempts("gcc")
//
// # Messages
//
// Options.Sink receives fedmsg.Message values built by fedmsg.KojiMessage
// (the koji-fedoramessaging bodies and headers): buildsys.tag, untag,
// build.state.change, task.state.change (only for top-level scratch
// tasks, as the real plugin), repo.init, repo.done, build.promote.
// NewChanSink(n) delivers on a channel; NewAMQPSink(url, "") publishes to
// RabbitMQ's amq.topic with confirms; MultiSink fans out. Options.Lossy or
// SetLossy(f) drops a seeded fraction so polling fallbacks get exercised.
// Messages() and PublishedTopics() show what was published; Flush waits
// for the queue.
//
// # Faults, call log, counters
//
//	remove := hub.InjectFault(kojihub.FaultRule{Method: "getBuild", HTTPStatus: 503, Count: 3})
//	hub.InjectFault(kojihub.FaultRule{Method: "*", Rate: 0.1, Fault: koji.CodeServerOffline})
//	hub.InjectFault(kojihub.FaultRule{Method: "build", Latency: kojihub.Duration(time.Second)})
//	hub.InjectFault(kojihub.FaultRule{Method: "createSideTag", ExpireSession: true, Count: 1})
//	hub.InjectFault(kojihub.FaultRule{Method: "tagBuild", HTTPStatus: 502, AfterCall: true}) // committed, answer lost
//	hub.ExpireSessions("eln-buildsync")
//
// A rule naming a method also matches that method inside a multiCall (as
// ebs calls build and tagBuild): a Fault rule faults only the matching
// element (it does not run; the others do), while an HTTPStatus, Latency or
// ExpireSession rule applies to the whole multiCall request when any
// element matches (AfterCall: the multicall runs and commits, then its
// answer is lost). "*" and "" match each HTTP request once, a multiCall as
// a whole. Injected element faults are in the call log (Injected,
// FaultCode).
//
// CallLog() lists every call (multicall elements follow their multiCall
// entry with InMulticall), CallsTo(method) filters it, Counters() gives
// HTTP requests, calls per method, faults per code and messages
// sent/dropped; ResetCounters clears them.
//
// # Inspecting state
//
// SideTags, TagExists, Tagged(tag), Build(nvr), BuildsOfPackage,
// Packages, TaskInfo(id), TaskChildren(id), RepoState(tag).
package kojihub
