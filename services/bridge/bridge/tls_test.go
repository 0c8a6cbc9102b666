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

// A client certificate selects SASL EXTERNAL over TLS, like Fedora's
// public broker; a CA alone only verifies the server.
func TestAMQPConfigTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fedora"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, blocks ...*pem.Block) string {
		var b []byte
		for _, bl := range blocks {
			b = append(b, pem.EncodeToMemory(bl)...)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	certPEM := &pem.Block{Type: "CERTIFICATE", Bytes: der}
	keyPEM := &pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}
	ca := write("cacert.pem", certPEM)
	cert := write("fedora-cert.pem", certPEM)
	keyFile := write("fedora-key.pem", keyPEM)
	both := write("fedora.pem", certPEM, keyPEM)
	url := "amqps://fedora:@rabbitmq.fedoraproject.org/%2Fpublic_pubsub"

	ac, err := amqpConfig(url, Config{AMQPCA: ca, AMQPCert: cert, AMQPKey: keyFile}, "t")
	if err != nil {
		t.Fatal(err)
	}
	if len(ac.SASL) != 1 || ac.SASL[0].Mechanism() != "EXTERNAL" || ac.TLSClientConfig == nil ||
		ac.TLSClientConfig.ServerName != "rabbitmq.fedoraproject.org" || ac.TLSClientConfig.RootCAs == nil ||
		len(ac.TLSClientConfig.Certificates) != 1 || ac.Properties["app"] != "ebs bridge" {
		t.Fatalf("config %+v", ac)
	}
	// Certificate and key in one file.
	if ac, err := amqpConfig(url, Config{AMQPCert: both}, "t"); err != nil || len(ac.TLSClientConfig.Certificates) != 1 {
		t.Fatalf("combined PEM: %v", err)
	}
	// CA only: TLS, authentication from the URL.
	if ac, err := amqpConfig(url, Config{AMQPCA: ca}, "t"); err != nil || ac.SASL != nil || ac.TLSClientConfig == nil {
		t.Fatalf("CA only: %v", err)
	}
	// Nothing: plain AMQP.
	if ac, err := amqpConfig("amqp://guest:guest@127.0.0.1:5672/", Config{}, "t"); err != nil || ac.TLSClientConfig != nil {
		t.Fatalf("plain: %v", err)
	}
	for _, bad := range []Config{{AMQPCA: filepath.Join(dir, "nope.pem")}, {AMQPCA: keyFile}, {AMQPCert: cert, AMQPKey: filepath.Join(dir, "nope")}} {
		if _, err := amqpConfig(url, bad, "t"); err == nil || !strings.Contains(err.Error(), "bridge:") {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c := Config{}.withDefaults()
	if c.Exchange != "amq.topic" || len(c.RoutingKeys) != 6 || c.RoutingKeys[5] != "#.buildsys.build.state.change" ||
		c.Prefetch != 25 || c.TopicPrefix != "org.fedoraproject.prod" || c.ReconnectMin != time.Second || c.ReconnectMax != 30*time.Second {
		t.Fatalf("%+v", c)
	}
	c = Config{AMQPURL: "amqp://x", routingKeys: " a.b , c.#,"}.withDefaults()
	if c.OutboundURL != "amqp://x" || len(c.RoutingKeys) != 2 || c.RoutingKeys[1] != "c.#" {
		t.Fatalf("%+v", c)
	}
}

// Services run in-process with a bare Config read their settings from env.
func TestConfigFromEnvironment(t *testing.T) {
	t.Setenv("EBS_AMQP_URL", "amqp://broker/")
	t.Setenv("EBS_AMQP_QUEUE", "q1")
	t.Setenv("EBS_AMQP_PREFETCH", "7")
	t.Setenv("EBS_AMQP_QUEUE_TRANSIENT", "true")
	t.Setenv("EBS_AMQP_ROUTING_KEYS", "x.#")
	c := Config{}.withDefaults()
	if c.AMQPURL != "amqp://broker/" || c.Queue != "q1" || c.Prefetch != 7 || !c.QueueTransient || len(c.RoutingKeys) != 1 || c.OutboundURL != "amqp://broker/" {
		t.Fatalf("%+v", c)
	}
	if c := (Config{AMQPURL: "amqp://explicit/"}).withDefaults(); c.AMQPURL != "amqp://explicit/" {
		t.Fatalf("explicit value overridden: %s", c.AMQPURL)
	}
}
