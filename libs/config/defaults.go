package config

import "time"

// Timers are the intervals and timeouts of the original service. They are
// not read from the YAML (the schema has no section for them), so every
// service gets the same defaults from here, independent of any file, and
// overrides them with its own flags.
type Timers struct {
	// Lull: a batch starts only after this long without a new request
	// (message_batch_timer).
	Lull time.Duration
	// ConfigRefresh: how often the configuration is re-read (config_timer).
	ConfigRefresh time.Duration
	// Reconcile: how often listed components missing from the stable tag are
	// requested (cleanup_timer).
	Reconcile time.Duration
	// TaskCheck and TagCheck: polling fallbacks for Koji tasks and tags.
	TaskCheck time.Duration
	TagCheck  time.Duration
	// TaskTimeout: a build task is cancelled after this long (24 h).
	TaskTimeout time.Duration
	// TagTimeout: a wait for one NVR to appear in a tag (1 h).
	TagTimeout time.Duration
	// StableWait: a wait for one NVR to reach the stable tag after Bodhi (1 h).
	StableWait time.Duration
	// KojiRetry: total retry budget of one Koji call (exponential backoff).
	KojiRetry time.Duration
	// BodhiRetry: total retry budget of one Bodhi update submission.
	BodhiRetry time.Duration
	// HTTPTimeout and HTTPRetry: Content Resolver and Bodhi fetches made while
	// loading the configuration (one request, and the whole retry budget).
	HTTPTimeout time.Duration
	HTTPRetry   time.Duration
	// KojiMulticallBatch is the number of calls per Koji multicall.
	KojiMulticallBatch int
}

// DefaultTimers returns the original service's values.
func DefaultTimers() Timers {
	return Timers{
		Lull:               60 * time.Second,
		ConfigRefresh:      15 * time.Minute,
		Reconcile:          12 * time.Hour,
		TaskCheck:          5 * time.Minute,
		TagCheck:           5 * time.Minute,
		TaskTimeout:        24 * time.Hour,
		TagTimeout:         time.Hour,
		StableWait:         time.Hour,
		KojiRetry:          60 * time.Second,
		BodhiRetry:         15 * time.Minute,
		HTTPTimeout:        15 * time.Second,
		HTTPRetry:          60 * time.Second,
		KojiMulticallBatch: 500,
	}
}

// Defaults returns a Config holding every default of the schema and the
// default Timers, without reading any file: the values a key takes when the
// YAML leaves it out. Required keys without a default (trigger tag, build
// target, stable tag, profile, db, components) are the Fedora production
// values of the single-file layout, so services and tests that need "the
// usual" settings can start from it. It is not validated.
func Defaults() *Config {
	return &Config{
		Koji: Koji{Profile: "koji", BuildTarget: "eln", StableTag: "eln", WaitRepo: true, Instance: "primary"},
		Bodhi: Bodhi{
			WarnTimeout: 180 * time.Minute,
		},
		DB:      DB{Port: 5432, Driver: "postgresql+asyncpg", PageSize: 500},
		Control: Control{TriggerTag: RawhideTriggerTag, StatusInterval: 600 * time.Second},
		Components: Components{
			AutoPackageList: &AutoPackageList{
				Views:           []string{"eln", "eln-extras"},
				Sources:         []string{"source", "buildroot-source"},
				ContentResolver: DefaultContentResolver,
			},
			Overrides: map[string]Override{},
		},
		Timers:        DefaultTimers(),
		Source:        "(defaults)",
		Layout:        LayoutSplit,
		TriggerTagKey: "configuration.control.trigger_tag",
	}
}
