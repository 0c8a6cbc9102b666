package bodhipublisher_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/lifecycle/lifecycletest"
	"github.com/fedora-eln/ebs/libs/natsx"
	bodhisim "github.com/fedora-eln/ebs/libs/sim/bodhi"
)

// syncBuffer is a log buffer safe for the service's goroutines and the test.
type syncBuffer = lifecycletest.LockedBuffer

// TestBinaryKilledBetweenChunks runs the real bodhi-publisher binary,
// configured only through its environment (client credentials discovered
// from the OIDC issuer), and SIGKILLs it between two chunks: the re-issued
// first chunk files no second update.
func TestBinaryKilledBetweenChunks(t *testing.T) {
	t.Parallel()
	e := setup(t, bodhisim.Options{Held: true}, nil)
	bin := filepath.Join(t.TempDir(), "bodhi-publisher")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/fedora-eln/ebs/services/bodhi-publisher").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte(e.OIDC.ClientSecret()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	run := func() *exec.Cmd {
		cmd := exec.Command(bin, "-admin-addr", "127.0.0.1:0", "-follow-interval", "100ms")
		cmd.Env = append(os.Environ(),
			"EBS_NATS_URL="+e.natsURL,
			"EBS_BODHI_URL="+e.sim.URL(),
			"EBS_OIDC_ISSUER="+e.OIDC.Issuer(),
			"EBS_BODHI_CLIENT_ID="+e.OIDC.ClientID(),
			"EBS_BODHI_CLIENT_SECRET_FILE="+secret,
		)
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
		return cmd
	}
	tag0, tag1 := e.SideTag(t, "a-1-1.eln150"), e.SideTag(t, "b-1-1.eln150")
	c0, c1 := command("k9", 0, 2, tag0, "a-1-1.eln150"), command("k9", 1, 2, tag1, "b-1-1.eln150")

	acked := func(delivered uint64) func() bool {
		return func() bool {
			cons, err := e.conn.JS.Consumer(context.Background(), natsx.StreamEBS, natsx.ConsumerBodhiPublisher)
			if err != nil {
				t.Fatal(err)
			}
			info, err := cons.Info(context.Background())
			return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.Delivered.Stream >= delivered
		}
	}

	p := run()
	e.send(c0, c0.CommandId)
	r0 := e.result(c0.CommandId)
	// Kill between chunks: after chunk 0's ack. (A kill between its result
	// and its ack leaves the delivery pending for the 2-minute AckWait.)
	waitFor(t, "chunk 0 to be acked", acked(1))
	if err := p.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = p.Process.Wait()

	e.send(c0, c0.CommandId+"#reissued")
	e.send(c1, c1.CommandId)
	p = run()
	r1 := e.result(c1.CommandId)
	waitFor(t, "every command to be acked", acked(3))
	if e.sim.Created() != 2 || r0.GetUpdateCreated().GetAlias() == "" || r1.GetUpdateCreated().GetAlias() == "" ||
		r0.GetUpdateCreated().GetAlias() == r1.GetUpdateCreated().GetAlias() {
		t.Fatalf("created %d; results %v / %v\n%s", e.sim.Created(), r0, r1, logs.String())
	}
	// The stored outcome of chunk 0 is the one replayed: not filed again.
	if got := e.result(c0.CommandId); got.GetUpdateCreated().GetAlias() != r0.GetUpdateCreated().GetAlias() {
		t.Fatalf("chunk 0 result changed: %v", got)
	}
	if strings.Contains(logs.String(), "deprecated") {
		t.Errorf("the current variable names logged a deprecation:\n%s", logs.String())
	}
	// The Bodhi client's counters are on the admin port's /metrics: the
	// second process filed chunk 1 (chunk 0's outcome was replayed).
	addrs := regexp.MustCompile(`admin server listening.* addr=(\S+)`).FindAllStringSubmatch(logs.String(), -1)
	if len(addrs) != 2 {
		t.Fatalf("admin addresses %v in the logs:\n%s", addrs, logs.String())
	}
	resp, err := http.Get("http://" + addrs[1][1] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `ebs_bodhi_client_requests_total{code="200",op="create_update"} 1` + "\n"; !strings.Contains(string(metrics), want) {
		t.Errorf("/metrics lacks %s:\n%s", want, metrics)
	}
	if err := p.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no exit after SIGTERM\n%s", logs.String())
	}
}
