package bridge

import (
	"flag"
	"os"
	"testing"
)

// --outbound alone publishes under <topic-prefix>.eln.buildsync.batch.complete;
// an explicit --outbound-topic wins and, alone, enables outbound too.
func TestOutboundTopicFromFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // "" = outbound off
	}{
		{"off by default", nil, ""},
		{"derived from the default prefix", []string{"-outbound"}, "org.fedoraproject.prod.eln.buildsync.batch.complete"},
		{"derived from --topic-prefix", []string{"-outbound", "-topic-prefix", "org.fedoraproject.stg"}, "org.fedoraproject.stg.eln.buildsync.batch.complete"},
		{"explicit topic with --outbound", []string{"-outbound", "-topic-prefix", "org.fedoraproject.stg", "-outbound-topic", "org.example.done"}, "org.example.done"},
		{"explicit topic alone", []string{"-outbound-topic", "org.example.done"}, "org.example.done"},
		{"prefix alone enables nothing", []string{"-topic-prefix", "org.fedoraproject.stg"}, ""},
	}
	for _, v := range []string{"EBS_OUTBOUND", "EBS_OUTBOUND_TOPIC", "EBS_TOPIC_PREFIX"} {
		t.Setenv(v, "") // restored after the test; not parallel: it changes the environment
		os.Unsetenv(v)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			fs := flag.NewFlagSet("bridge", flag.ContinueOnError)
			c.Flags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if got := c.withDefaults().OutboundTopic; got != tt.want {
				t.Fatalf("outbound topic %q, want %q", got, tt.want)
			}
		})
	}
	// In-process services (ebs run) read the same from the environment.
	t.Setenv("EBS_OUTBOUND", "true")
	t.Setenv("EBS_TOPIC_PREFIX", "org.fedoraproject.stg")
	if got := (Config{}).withDefaults().OutboundTopic; got != "org.fedoraproject.stg.eln.buildsync.batch.complete" {
		t.Fatalf("from the environment: %q", got)
	}
}
