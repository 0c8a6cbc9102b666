package bridge

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeClientCert writes a self-signed client certificate for user cn and
// returns its path (certificate then key, one file).
func writeClientCert(t *testing.T, cn string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	b := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})...)
	p := filepath.Join(t.TempDir(), cn+".pem")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// A durable queue always has the same name at every start: --amqp-queue,
// else the client certificate's user; never a fresh one per start.
func TestResolveQueue(t *testing.T) {
	t.Parallel()
	app := writeClientCert(t, "eln-buildsync")
	public := writeClientCert(t, PublicBrokerUser)
	tests := []struct {
		name   string
		cfg    Config
		want   string
		errHas string
	}{
		{"explicit durable", Config{Queue: "ebs-prod"}, "ebs-prod", ""},
		{"explicit wins over the certificate", Config{Queue: "ebs-prod", AMQPCert: app}, "ebs-prod", ""},
		{"explicit transient", Config{Queue: "ebs-tmp", QueueTransient: true}, "ebs-tmp", ""},
		{"transient: named by the broker", Config{QueueTransient: true}, "", ""},
		{"durable: the certificate's user", Config{AMQPCert: app}, "eln-buildsync", ""},
		{"durable without a name or certificate", Config{}, "", "--amqp-queue"},
		{"durable with Fedora's shared public certificate", Config{AMQPCert: public}, "", `user "fedora" is shared`},
		{"durable with an unreadable certificate", Config{AMQPCert: filepath.Join(t.TempDir(), "absent.pem")}, "", "client certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, why, err := tt.cfg.ResolveQueue()
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("error %v, want one containing %q", err, tt.errHas)
				}
				return
			}
			if err != nil || got != tt.want || why == "" {
				t.Fatalf("queue %q (%s), %v; want %q", got, why, err, tt.want)
			}
		})
	}
}
