package mail_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/mail"
	"strings"
	"testing"
	"time"

	ebsmail "github.com/fedora-eln/ebs/libs/mail"
	"github.com/fedora-eln/ebs/libs/mail/mailtest"
)

func TestPackageName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"git+https://src.fedoraproject.org/rpms/zlib.git#abc123":       "zlib",
		"git+https://src.fedoraproject.org/rpms/python-broken.git#def": "python-broken",
		"https://src.fedoraproject.org/rpms/bash#x":                    "bash",
		"git+https://src.fedoraproject.org/rpms/rust-serde.git":        "rust-serde",
	} {
		if got := ebsmail.PackageName(in); got != want {
			t.Errorf("PackageName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFailureMailOverSTARTTLS(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t)
	srv.Username, srv.Password = "ebs", "pw"
	cfg := ebsmail.Config{Host: srv.Host, Port: srv.Port, Username: "ebs", Password: "pw", From: "ebs@fedoraproject.org",
		Recipients: []string{"eln@lists.fedoraproject.org", "releng@fedoraproject.org"}, TLS: &tls.Config{RootCAs: srv.RootCAs}}
	urls := []string{"git+https://src.fedoraproject.org/rpms/python-broken.git#abc123", "git+https://src.fedoraproject.org/rpms/zlib.git#def"}
	if err := cfg.Send(context.Background(), ebsmail.FailureMessage(urls)); err != nil {
		t.Fatalf("send: %v", err)
	}
	msgs := srv.Wait(1, 10*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	m := msgs[0]
	if !m.TLS || m.User != "ebs" || m.From != "ebs@fedoraproject.org" || len(m.To) != 2 {
		t.Fatalf("envelope: %+v", m)
	}
	parsed, err := mail.ReadMessage(strings.NewReader(string(m.Data)))
	if err != nil {
		t.Fatal(err)
	}
	h := parsed.Header
	if h.Get("Subject") != "ELNBuildSync build failures" {
		t.Errorf("subject %q", h.Get("Subject"))
	}
	if h.Get("Elnbuildsync-Packages") != "python-broken, zlib" {
		t.Errorf("packages header %q", h.Get("Elnbuildsync-Packages"))
	}
	if h.Get("To") != "eln@lists.fedoraproject.org, releng@fedoraproject.org" || h.Get("From") != "ebs@fedoraproject.org" {
		t.Errorf("from/to: %q %q", h.Get("From"), h.Get("To"))
	}
	body := new(strings.Builder)
	buf := make([]byte, 1024)
	for {
		n, err := parsed.Body.Read(buf)
		body.Write(buf[:n])
		if err != nil {
			break
		}
	}
	want := "The ELNBuildSync build failed for the following requests: " + urls[0] + "\r\n" + urls[1] + "\r\n"
	if body.String() != want {
		t.Errorf("body %q, want %q", body.String(), want)
	}
}

func TestSendRefusesWithoutSTARTTLS(t *testing.T) {
	t.Parallel()
	// A bare SMTP greeting without STARTTLS in its EHLO answer.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = c.Write([]byte("220 plain ESMTP\r\n"))
		buf := make([]byte, 512)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			line := string(buf[:n])
			switch {
			case strings.HasPrefix(line, "EHLO"):
				_, _ = c.Write([]byte("250-plain\r\n250 AUTH PLAIN\r\n"))
			case strings.HasPrefix(line, "QUIT"):
				_, _ = c.Write([]byte("221 bye\r\n"))
				return
			default:
				_, _ = c.Write([]byte("250 ok\r\n"))
			}
		}
	}()
	cfg := ebsmail.Config{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, From: "a@b", Recipients: []string{"c@d"}, Password: "secret", Username: "u"}
	if err := cfg.Send(context.Background(), ebsmail.FailureMessage([]string{"x"})); !errors.Is(err, ebsmail.ErrNoSTARTTLS) {
		t.Fatalf("send without STARTTLS: %v, want ErrNoSTARTTLS", err)
	}
}
