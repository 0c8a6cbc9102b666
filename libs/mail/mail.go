package mail

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Subject is the failure mail's subject.
const Subject = "ELNBuildSync build failures"

// HeaderPackages names the failed packages.
const HeaderPackages = "elnbuildsync-packages"

// Config is how to reach the SMTP server.
type Config struct {
	Host       string
	Port       int
	Username   string
	Password   string
	From       string
	Recipients []string
	// TLS configures STARTTLS (ServerName defaults to Host).
	TLS     *tls.Config
	Timeout time.Duration
	// LocalName is sent in EHLO (default "localhost").
	LocalName string
}

// Message is one mail.
type Message struct {
	Subject string
	Body    string
	// Headers are extra headers, in order of their names.
	Headers map[string]string
}

// PackageName is the package of an SCM URL: the last path element without
// ".git" (git+https://src.fedoraproject.org/rpms/zlib.git#abc -> zlib).
func PackageName(scmURL string) string {
	u, err := url.Parse(scmURL)
	p := scmURL
	if err == nil {
		p = u.Path
	} else if i := strings.IndexAny(p, "#?"); i >= 0 {
		p = p[:i]
	}
	return strings.TrimSuffix(path.Base(p), ".git")
}

// FailureMessage is the original's mail for the SCM URLs that still failed.
func FailureMessage(scmURLs []string) Message {
	names := make([]string, len(scmURLs))
	for i, u := range scmURLs {
		names[i] = PackageName(u)
	}
	return Message{
		Subject: Subject,
		Body:    "The ELNBuildSync build failed for the following requests: " + strings.Join(scmURLs, "\n"),
		Headers: map[string]string{HeaderPackages: strings.Join(names, ", ")},
	}
}

// ErrNoSTARTTLS is returned when the server does not offer STARTTLS.
var ErrNoSTARTTLS = errors.New("mail: the SMTP server does not offer STARTTLS")

// Render returns the RFC 5322 text of m as sent by c.
func (c Config) Render(m Message, now time.Time) []byte {
	var b strings.Builder
	hdr := func(k, v string) {
		// Header values never carry line breaks from our inputs.
		v = strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
		b.WriteString(k + ": " + v + "\r\n")
	}
	hdr("From", c.From)
	hdr("To", strings.Join(c.Recipients, ", "))
	hdr("Subject", m.Subject)
	hdr("Date", now.Format(time.RFC1123Z))
	var id [12]byte
	_, _ = rand.Read(id[:])
	host := c.LocalName
	if host == "" {
		host = "localhost"
	}
	hdr("Message-ID", "<"+hex.EncodeToString(id[:])+"@"+host+">")
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "text/plain; charset=utf-8")
	hdr("Content-Transfer-Encoding", "8bit")
	keys := make([]string, 0, len(m.Headers))
	for k := range m.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		hdr(k, m.Headers[k])
	}
	b.WriteString("\r\n")
	body := strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n")
	b.WriteString(body)
	b.WriteString("\r\n")
	return []byte(b.String())
}

// Send delivers m to every recipient. STARTTLS is required: a server without
// it gets nothing (no credentials or failure lists in clear text).
func (c Config) Send(ctx context.Context, m Message) error {
	if c.Host == "" || c.From == "" || len(c.Recipients) == 0 {
		return errors.New("mail: smtp_host, from and recipients are required")
	}
	port := c.Port
	if port == 0 {
		port = 587
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr := net.JoinHostPort(c.Host, strconv.Itoa(port))
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("mail: dial %s: %w", addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	cl, err := smtp.NewClient(conn, c.Host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("mail: greeting from %s: %w", addr, err)
	}
	defer cl.Close()
	local := c.LocalName
	if local == "" {
		local = "localhost"
	}
	if err := cl.Hello(local); err != nil {
		return fmt.Errorf("mail: EHLO: %w", err)
	}
	if ok, _ := cl.Extension("STARTTLS"); !ok {
		return ErrNoSTARTTLS
	}
	tc := c.TLS
	if tc == nil {
		tc = &tls.Config{}
	} else {
		tc = tc.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = c.Host
	}
	if tc.MinVersion == 0 {
		tc.MinVersion = tls.VersionTLS12
	}
	if err := cl.StartTLS(tc); err != nil {
		return fmt.Errorf("mail: STARTTLS: %w", err)
	}
	if c.Password != "" {
		if err := cl.Auth(smtp.PlainAuth("", c.Username, c.Password, c.Host)); err != nil {
			return fmt.Errorf("mail: login as %s: %w", c.Username, err)
		}
	}
	if err := cl.Mail(c.From); err != nil {
		return fmt.Errorf("mail: MAIL FROM: %w", err)
	}
	for _, r := range c.Recipients {
		if err := cl.Rcpt(r); err != nil {
			return fmt.Errorf("mail: RCPT TO %s: %w", r, err)
		}
	}
	w, err := cl.Data()
	if err != nil {
		return fmt.Errorf("mail: DATA: %w", err)
	}
	if _, err := w.Write(c.Render(m, time.Now())); err != nil {
		return fmt.Errorf("mail: write: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("mail: end of data: %w", err)
	}
	if err := cl.Quit(); err != nil {
		return fmt.Errorf("mail: QUIT: %w", err)
	}
	return nil
}
