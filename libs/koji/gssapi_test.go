package koji_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/keytab"

	"github.com/fedora-eln/ebs/libs/koji"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
)

const realm = "EBS.TEST"

// startKDC runs a throwaway MIT Kerberos realm (Debian's krb5-kdc and
// krb5-admin-server) on a free port and returns the krb5.conf path and a
// keytab path per principal.
func startKDC(t *testing.T, principals ...string) (krb5conf string, keytabs map[string]string) {
	t.Helper()
	var bins []string
	for _, b := range []string{"krb5kdc", "kdb5_util", "kadmin.local"} {
		p, err := exec.LookPath(b)
		if err != nil {
			for _, dir := range []string{"/usr/sbin", "/sbin"} {
				if _, e := os.Stat(filepath.Join(dir, b)); e == nil {
					p, err = filepath.Join(dir, b), nil
				}
			}
		}
		if err != nil {
			t.Fatalf("Kerberos test needs MIT Kerberos: %s not found. Install it: apt-get install -y krb5-kdc krb5-admin-server", b)
		}
		bins = append(bins, p)
	}
	kdc, kdb5, kadmin := bins[0], bins[1], bins[2]
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	krb5conf = filepath.Join(dir, "krb5.conf")
	kdcconf := filepath.Join(dir, "kdc.conf")
	enc := "aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96"
	write := func(path, body string) {
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(krb5conf, fmt.Sprintf(`[libdefaults]
 default_realm = %[1]s
 dns_lookup_kdc = false
 dns_lookup_realm = false
 udp_preference_limit = 1
 default_tkt_enctypes = %[3]s
 default_tgs_enctypes = %[3]s
 permitted_enctypes = %[3]s
[realms]
 %[1]s = {
  kdc = 127.0.0.1:%[2]d
 }
`, realm, port, enc))
	write(kdcconf, fmt.Sprintf(`[kdcdefaults]
 kdc_ports = %[2]d
 kdc_tcp_ports = %[2]d
[realms]
 %[1]s = {
  database_name = %[3]s/principal
  key_stash_file = %[3]s/stash
  acl_file = %[3]s/kadm5.acl
  supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
  max_life = 1h
 }
[logging]
 kdc = FILE:%[3]s/kdc.log
`, realm, port, dir))
	env := append(os.Environ(), "KRB5_CONFIG="+krb5conf, "KRB5_KDC_PROFILE="+kdcconf)
	run := func(name string, args ...string) {
		cmd := exec.Command(name, args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	run(kdb5, "-r", realm, "create", "-s", "-P", "throwaway-master-password")
	keytabs = map[string]string{}
	for i, p := range principals {
		kt := filepath.Join(dir, fmt.Sprintf("p%d.keytab", i))
		run(kadmin, "-r", realm, "-q", "addprinc -randkey "+p)
		run(kadmin, "-r", realm, "-q", fmt.Sprintf("ktadd -k %s %s", kt, p))
		keytabs[p] = kt
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, kdc, "-n", "-r", realm)
	cmd.Env = env
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "kdc.log"))
			t.Fatalf("krb5kdc did not start: %v\n%s", err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return krb5conf, keytabs
}

// GSSAPI login with a keytab against a real KDC, through SPNEGO on the
// simulator's /ssllogin.
func TestGSSAPILoginWithKeytab(t *testing.T) {
	t.Parallel()
	user, service := "eln-buildsync@"+realm, "HTTP/127.0.0.1@"+realm
	krb5conf, kts := startKDC(t, user, service)
	skt, err := keytab.Load(kts[service])
	if err != nil {
		t.Fatal(err)
	}
	h := kojihub.Start(t, kojihub.Options{Kerberos: &kojihub.KerberosService{Keytab: skt, Principal: "HTTP/127.0.0.1"}})
	c, err := koji.New(koji.Options{URL: h.URL(), Auth: &koji.GSSAPIAuth{
		Principal: user, Keytab: kts[user], Krb5Conf: krb5conf, ServiceSPN: "HTTP/127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	u, err := c.GetLoggedInUser(ctx)
	if err != nil || u == nil || u.Name != "eln-buildsync" || u.AuthType != koji.AuthTypeGSSAPI || u.KrbPrincipal != user {
		t.Fatalf("getLoggedInUser = %+v, %v", u, err)
	}
	if _, err := c.CreateSideTag(ctx, "eln-build"); err != nil {
		t.Fatal(err)
	}
	// Expiry renews through Kerberos again.
	h.ExpireSessions("eln-buildsync")
	if u, err := c.GetLoggedInUser(ctx); err != nil || u.Name != "eln-buildsync" || c.Stats().Relogins != 1 {
		t.Fatalf("after expiry %+v %v %+v", u, err, c.Stats())
	}
	// Without Kerberos credentials the hub answers 401 Negotiate: an AuthError.
	anon, _ := koji.New(koji.Options{URL: h.URL(), Auth: koji.SSLAuth{}})
	if err := anon.Login(ctx); !errors.Is(err, koji.ErrAuthError) {
		t.Fatalf("login without a ticket: %v", err)
	}
	// A keytab for the wrong principal fails cleanly.
	bad, _ := koji.New(koji.Options{URL: h.URL(), RetryBudget: -1, Auth: &koji.GSSAPIAuth{
		Principal: "nobody@" + realm, Keytab: kts[user], Krb5Conf: krb5conf}})
	if err := bad.Login(ctx); err == nil {
		t.Fatal("login with a foreign keytab succeeded")
	}
}
