// Package natstest starts a real embedded nats-server with JetStream for
// tests: its own temp store directory and a random port, shut down when the
// test ends. Restart keeps the store and port, so tests can kill NATS mid-run.
package natstest

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fedora-eln/ebs/libs/natsx"
)

// Server is an embedded nats-server.
type Server struct {
	t    testing.TB
	opts server.Options
	srv  *server.Server
}

// Start starts a server for t and stops it at cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	// Port -1: the server picks a free port itself (choosing one here and
	// passing it races other tests that bind ports meanwhile); start records
	// it so Restart comes back on the same one.
	s := &Server{t: t, opts: server.Options{
		ServerName: "ebs-test",
		Host:       "127.0.0.1",
		Port:       -1,
		JetStream:  true,
		StoreDir:   t.TempDir(),
		MaxPayload: natsx.MaxPayload,
		NoLog:      true,
		NoSigs:     true,
	}}
	s.start()
	t.Cleanup(s.Shutdown)
	return s
}

// Options exposes the server options (read-only use).
func (s *Server) Options() server.Options { return s.opts }

func (s *Server) start() {
	s.t.Helper()
	opts := s.opts
	srv, err := server.NewServer(&opts)
	if err != nil {
		s.t.Fatalf("natstest: new server: %v", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		s.t.Fatalf("natstest: server not ready on %s", s.URL())
	}
	if addr, ok := srv.Addr().(*net.TCPAddr); ok {
		s.opts.Port = addr.Port
	}
	s.srv = srv
}

// URL is the client URL.
func (s *Server) URL() string { return "nats://127.0.0.1:" + strconv.Itoa(s.opts.Port) }

// Shutdown stops the server (idempotent).
func (s *Server) Shutdown() {
	if s.srv != nil {
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
		s.srv = nil
	}
}

// Restart stops the server and starts it again on the same port and store.
func (s *Server) Restart() {
	s.t.Helper()
	s.Shutdown()
	s.start()
}

// Connect returns a natsx connection closed at test cleanup.
func (s *Server) Connect(t testing.TB) *natsx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := natsx.Connect(ctx, natsx.ConnectOptions{URL: s.URL(), Name: t.Name()})
	if err != nil {
		t.Fatalf("natstest: connect: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Provisioned connects and provisions every stream, bucket and consumer.
func (s *Server) Provisioned(t testing.TB) *natsx.Conn {
	t.Helper()
	c := s.Connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := natsx.Provision(ctx, c.JS, natsx.ProvisionOptions{}); err != nil {
		t.Fatalf("natstest: provision: %v", err)
	}
	return c
}

// RawConn returns a plain nats.go connection and JetStream context.
func (s *Server) RawConn(t testing.TB) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(s.URL())
	if err != nil {
		t.Fatalf("natstest: connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("natstest: jetstream: %v", err)
	}
	return nc, js
}
