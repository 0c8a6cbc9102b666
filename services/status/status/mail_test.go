package status_test

import (
	"context"
	"crypto/tls"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/config"
	"github.com/fedora-eln/ebs/libs/mail/mailtest"
	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/store/storetest"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
	ebsstatus "github.com/fedora-eln/ebs/services/status/status"
	"github.com/fedora-eln/ebs/services/status/status/statustest"
)

func TestFailureMailOnBatchCompleted(t *testing.T) {
	t.Parallel()
	smtp := mailtest.Start(t)
	cfg := ebsstatus.Config{
		MailTLS: &tls.Config{RootCAs: smtp.RootCAs},
		Settings: &config.Config{Email: &config.Email{SMTPHost: smtp.Host, SMTPPort: smtp.Port, From: "ebs@fedoraproject.org",
			Recipients: []string{"eln@lists.fedoraproject.org"}}},
	}
	env := statustest.Start(t, statustest.Options{Config: cfg, Seed: true})
	msgs := smtp.Wait(1, 20*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("%d mails, want 1", len(msgs))
	}
	m, err := mail.ReadMessage(strings.NewReader(string(msgs[0].Data)))
	if err != nil {
		t.Fatal(err)
	}
	if !msgs[0].TLS || m.Header.Get("Subject") != "ELNBuildSync build failures" ||
		m.Header.Get("Elnbuildsync-Packages") != "python-broken" || m.Header.Get("To") != "eln@lists.fedoraproject.org" {
		t.Fatalf("mail: tls %v headers %v", msgs[0].TLS, m.Header)
	}
	body := string(msgs[0].Data[strings.Index(string(msgs[0].Data), "\r\n\r\n")+4:])
	if body != "The ELNBuildSync build failed for the following requests: "+storetest.FailingSCM+"\r\n" {
		t.Fatalf("body %q", body)
	}

	// The same completion delivered again (another message id): no second mail.
	var completed *ebsv1.BatchCompleted
	for _, x := range storetest.FinishedBatchWithFailure(env.Base) {
		if c, ok := x.Msg.(*ebsv1.BatchCompleted); ok {
			completed = c
		}
	}
	// And a completion without persistent failures: no mail either.
	clean := &ebsv1.BatchCompleted{BatchId: "b-clean", Result: ebsv1.BatchResult_BATCH_RESULT_SUCCEEDED,
		Outcomes: []*ebsv1.PackageOutcome{{Component: "zlib", State: ebsv1.PackageState_PACKAGE_STATE_BUILT}}}
	ctx := context.Background()
	last, err := storetest.Publish(ctx, env.Conn.JS, []storetest.Msg{
		{Subject: natsx.SubjectBatchCompleted, ID: "redelivered-completion", Msg: completed},
		{Subject: natsx.SubjectBatchCompleted, ID: "clean-completion", Msg: clean}})
	if err != nil {
		t.Fatal(err)
	}
	// The mailer acks a completion only after its mail went out (or was
	// found already sent), so once the status-mail consumer has acked both
	// messages every mail they could cause has been sent.
	cons, err := env.Conn.JS.Consumer(ctx, natsx.StreamEBS, natsx.ConsumerStatusMail)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		info, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.NumAckPending == 0 && info.NumPending == 0 && info.AckFloor.Stream >= last {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status-mail consumer did not ack up to %d: ack floor %d, %d pending, %d unacked",
				last, info.AckFloor.Stream, info.NumPending, info.NumAckPending)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := smtp.Messages(); len(got) != 1 {
		t.Fatalf("%d mails after a redelivered completion and a clean one, want 1", len(got))
	}
}

func TestPersistentFailures(t *testing.T) {
	t.Parallel()
	c := &ebsv1.BatchCompleted{Outcomes: []*ebsv1.PackageOutcome{
		{ScmUrl: "a", State: ebsv1.PackageState_PACKAGE_STATE_FAILED, Denylisted: true},
		{ScmUrl: "b", State: ebsv1.PackageState_PACKAGE_STATE_FAILED},                      // not denylisted
		{ScmUrl: "c", State: ebsv1.PackageState_PACKAGE_STATE_TIMED_OUT, Denylisted: true}, // timeouts are not mailed
		{ScmUrl: "a", State: ebsv1.PackageState_PACKAGE_STATE_FAILED, Denylisted: true},
		{ScmUrl: "d", State: ebsv1.PackageState_PACKAGE_STATE_FAILED, Denylisted: true},
	}}
	got := ebsstatus.PersistentFailures(c)
	if strings.Join(got, ",") != "a,d" {
		t.Fatalf("persistent failures %v", got)
	}
}
