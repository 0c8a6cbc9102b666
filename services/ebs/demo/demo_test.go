package demo_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fedora-eln/ebs/libs/lifecycle/lifecycletest"
	"github.com/fedora-eln/ebs/libs/store/pglocal"
	"github.com/fedora-eln/ebs/services/ebs/demo"
	"github.com/fedora-eln/ebs/services/ebs/world"
)

// The demo runs a whole batch on embedded defaults and it ends as the
// scenario expects, with Fedora messages through RabbitMQ and without it.
func TestDemoCompletesABatchAsExpected(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, amqp string }{
		{"through-rabbitmq", "amqp://guest:guest@127.0.0.1:5672/"},
		{"straight-into-fedmsg", "off"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := fmt.Sprintf("ebs_test_demo_%d", time.Now().UnixNano()%1e9)
			t.Cleanup(func() { dropDatabase(t, db) })
			var out syncBuffer
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			res, err := demo.Run(ctx, demo.Config{
				HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", AMQPURL: tc.amqp, Database: db,
				World: world.Options{Build: 300 * time.Millisecond},
				Lull:  time.Second, Poll: time.Second, ExitWhenDone: true, Timeout: 2 * time.Minute,
				Progress: "plain", Out: &out,
			})
			if err != nil {
				t.Fatalf("demo: %v\n%s", err, out.String())
			}
			if !res.OK() {
				t.Fatalf("the demo did not end as expected:\n%s\n%s", res.Findings, out.String())
			}
			text := out.String()
			for _, want := range []string{"batch ", "slice 1/", "Bodhi update FEDORA-ELN-", "Summary", "Koji calls by ebs",
				"The batch ended as the scenario expects."} {
				if !strings.Contains(text, want) {
					t.Errorf("output lacks %q:\n%s", want, text)
				}
			}
			if tc.amqp != "off" && !strings.Contains(text, "through RabbitMQ") {
				t.Errorf("RabbitMQ answers on 127.0.0.1:5672 but the demo did not use it:\n%s", text)
			}
		})
	}
}

func dropDatabase(t *testing.T, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pg, err := pglocal.Find(ctx, pglocal.Options{})
	if err != nil {
		t.Errorf("drop %s: %v", name, err)
		return
	}
	c, err := pgx.Connect(ctx, pg.URL)
	if err != nil {
		t.Errorf("drop %s: %v", name, err)
		return
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Errorf("drop %s: %v", name, err)
	}
}

// syncBuffer is a log buffer safe for the service's goroutines and the test.
type syncBuffer = lifecycletest.LockedBuffer
