package kojihub

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// PKI is a throwaway certificate authority for TLS tests: it signs the
// hub's server certificate and client certificates whose CN is the Koji
// user name (what sslLogin reads).
type PKI struct {
	CA     *x509.Certificate
	CAPEM  []byte
	caKey  *ecdsa.PrivateKey
	server tls.Certificate

	mu      sync.Mutex
	clients map[string]tls.Certificate
}

// NewTestPKI makes a PKI or fails the test.
func NewTestPKI(t testing.TB) *PKI {
	t.Helper()
	p, err := NewPKI()
	if err != nil {
		t.Fatalf("kojihub: PKI: %v", err)
	}
	return p
}

// NewPKI makes a CA and a server certificate for 127.0.0.1, ::1, localhost
// and the extra host names given (e.g. a container's service name).
func NewPKI(hosts ...string) (*PKI, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ebs test Koji CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	p := &PKI{CA: ca, caKey: key, CAPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		clients: map[string]tls.Certificate{}}
	p.server, err = p.issue("localhost", true, hosts...)
	if err != nil {
		return nil, err
	}
	return p, nil
}

var serial struct {
	sync.Mutex
	n int64
}

func (p *PKI) issue(cn string, server bool, hosts ...string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial.Lock()
	serial.n++
	sn := big.NewInt(time.Now().UnixNano() + serial.n)
	serial.Unlock()
	tmpl := &x509.Certificate{
		SerialNumber: sn, Subject: pkix.Name{CommonName: cn, Organization: []string{"Fedora Project"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = append([]string{"localhost"}, hosts...)
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.CA, &key.PublicKey, p.caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// ServerTLS is the hub's TLS configuration: it asks for (but does not
// require) a client certificate signed by the CA, like Koji's Apache
// (SSLVerifyClient optional), so anonymous calls still work.
func (p *PKI) ServerTLS() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(p.CA)
	return &tls.Config{Certificates: []tls.Certificate{p.server}, ClientCAs: pool,
		ClientAuth: tls.VerifyClientCertIfGiven, MinVersion: tls.VersionTLS12}
}

// ClientCert returns (and caches) a client certificate with CN = user.
func (p *PKI) ClientCert(user string) (tls.Certificate, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.clients[user]; ok {
		return c, nil
	}
	c, err := p.issue(user, false)
	if err != nil {
		return tls.Certificate{}, err
	}
	p.clients[user] = c
	return c, nil
}

// ClientTLS is a client configuration trusting the CA, presenting user's
// certificate ("" for none).
func (p *PKI) ClientTLS(user string) (*tls.Config, error) {
	pool := x509.NewCertPool()
	pool.AddCert(p.CA)
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if user != "" {
		c, err := p.ClientCert(user)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return cfg, nil
}

// WriteClientFiles writes <dir>/<user>.pem (certificate and key together,
// like ~/.fedora.cert) and <dir>/ca.pem, for configurations that take paths.
func (p *PKI) WriteClientFiles(dir, user string) (certFile, caFile string, err error) {
	c, err := p.ClientCert(user)
	if err != nil {
		return "", "", err
	}
	keyDER, err := x509.MarshalECPrivateKey(c.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		return "", "", err
	}
	body := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]})
	body = append(body, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})...)
	certFile = filepath.Join(dir, user+".pem")
	caFile = filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(certFile, body, 0o600); err != nil {
		return "", "", fmt.Errorf("kojihub: %w", err)
	}
	if err := os.WriteFile(caFile, p.CAPEM, 0o644); err != nil {
		return "", "", fmt.Errorf("kojihub: %w", err)
	}
	return certFile, caFile, nil
}
