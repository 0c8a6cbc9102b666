package status

import (
	"context"
	"fmt"

	"github.com/fedora-eln/ebs/libs/mail"
	"github.com/fedora-eln/ebs/libs/natsx"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// PersistentFailures returns the SCM URLs of a batch's packages that still
// failed and were denylisted: what the original mailed.
func PersistentFailures(c *ebsv1.BatchCompleted) []string {
	var urls []string
	seen := map[string]bool{}
	for _, o := range c.GetOutcomes() {
		if o.GetState() == ebsv1.PackageState_PACKAGE_STATE_FAILED && o.GetDenylisted() && o.GetScmUrl() != "" && !seen[o.GetScmUrl()] {
			seen[o.GetScmUrl()] = true
			urls = append(urls, o.GetScmUrl())
		}
	}
	return urls
}

// startMailer consumes ebs.batch.completed (durable status-mail) and sends
// one failure mail per batch with persistent failures. Sent mails are
// recorded in PostgreSQL, so a redelivered event does not mail twice.
func (s *Server) startMailer(ctx context.Context) error {
	st := s.cfg.Settings
	if st == nil || st.Email == nil {
		s.log.Info("failure mail disabled (email: false)")
		return nil
	}
	mc := mail.Config{Host: st.Email.SMTPHost, Port: st.Email.SMTPPort, Username: st.Email.SMTPUsername, Password: s.secrets.smtpPassword,
		From: st.Email.From, Recipients: st.Email.Recipients, TLS: s.cfg.MailTLS}
	h := func(ctx context.Context, d *natsx.Delivery[*ebsv1.BatchCompleted]) error {
		c := d.Msg
		urls := PersistentFailures(c)
		if len(urls) == 0 {
			return nil
		}
		sent, err := s.Store.MailSent(ctx, c.GetBatchId())
		if err != nil {
			return err
		}
		if sent {
			return nil
		}
		msg := mail.FailureMessage(urls)
		if err := mc.Send(ctx, msg); err != nil {
			s.m.mails.WithLabelValues("error").Inc()
			return fmt.Errorf("failure mail for batch %s: %w", c.GetBatchId(), err)
		}
		s.m.mails.WithLabelValues("sent").Inc()
		s.log.Info("failure mail sent", "batch_id", c.GetBatchId(), "packages", msg.Headers[mail.HeaderPackages])
		return s.Store.RecordMail(ctx, c.GetBatchId(), mc.Recipients, urls)
	}
	s.goRun("mailer", func() error {
		return natsx.Consume(ctx, s.conn.JS, natsx.StreamEBS, natsx.ConsumerStatusMail,
			func() *ebsv1.BatchCompleted { return new(ebsv1.BatchCompleted) }, h,
			natsx.ConsumeOptions{Service: Name, Logger: s.log})
	})
	return nil
}
