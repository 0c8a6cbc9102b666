package fedmsgsim

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
)

// BrokerProxy is a TCP proxy in front of a broker whose connections a test
// can cut at will, to simulate losing the broker mid-stream without
// touching the broker itself (RabbitMQ notices the closed socket, requeues
// the unacknowledged deliveries and the client must reconnect).
type BrokerProxy struct {
	ln       net.Listener
	upstream string
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	accepted int
	closed   bool
	wg       sync.WaitGroup
}

// StartProxy listens on a loopback port and forwards to upstream (host:port).
func StartProxy(upstream string) (*BrokerProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fedmsgsim: proxy listen: %w", err)
	}
	p := &BrokerProxy{ln: ln, upstream: upstream, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *BrokerProxy) Addr() string { return p.ln.Addr().String() }

// URL rewrites a broker URL (amqp://user:pw@host:port/vhost) to go through the proxy.
func (p *BrokerProxy) URL(brokerURL string) (string, error) {
	u, err := url.Parse(brokerURL)
	if err != nil {
		return "", fmt.Errorf("fedmsgsim: %w", err)
	}
	u.Host = p.Addr()
	return u.String(), nil
}

// Accepted is how many client connections the proxy has accepted.
func (p *BrokerProxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

func (p *BrokerProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.upstream)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			_ = c.Close()
			_ = up.Close()
			return
		}
		p.accepted++
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

func (p *BrokerProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	_ = dst.Close()
	_ = src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// CutAll closes every proxied connection (both sides) and returns how many
// client connections it cut. New connections are still accepted.
func (p *BrokerProxy) CutAll() int {
	p.mu.Lock()
	conns := make([]net.Conn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
	return len(conns) / 2
}

// Close stops the proxy and cuts every connection.
func (p *BrokerProxy) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	err := p.ln.Close()
	p.CutAll()
	p.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
