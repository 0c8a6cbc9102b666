package world

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/fedora-eln/ebs/libs/koji"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
)

// KojiClient returns a client of the Koji simulator at url logged in as
// user (plain HTTP: the simulator's remote-user header names the account;
// "" is anonymous).
func KojiClient(url, user string) (*koji.Client, error) {
	o := koji.Options{URL: url, HTTPClient: &http.Client{Timeout: time.Minute, Transport: remoteUser{user: user, base: http.DefaultTransport}}}
	if user != "" {
		o.Auth = koji.SSLAuth{}
	}
	return koji.New(o)
}

// KojiTLSClient returns a client of a hub on HTTPS trusting caFile, logged
// in with the client certificate certFile (cert and key in one PEM file)
// when given, else anonymous.
func KojiTLSClient(url, certFile, caFile string) (*koji.Client, error) {
	tc, err := koji.TLSConfig(certFile, "", caFile)
	if err != nil {
		return nil, err
	}
	o := koji.Options{URL: url, HTTPClient: koji.HTTPClientFor(tc)}
	if certFile != "" {
		o.Auth = koji.SSLAuth{}
	}
	return koji.New(o)
}

type remoteUser struct {
	user string
	base http.RoundTripper
}

func (r remoteUser) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	if r.user != "" {
		req.Header.Set(kojihub.RemoteUserHeader, r.user)
	}
	return r.base.RoundTrip(req)
}

// Feed tags the triggers' new Rawhide builds into f45 through the hub, as
// Bodhi does when a Rawhide update goes stable: the hub then publishes one
// buildsys.tag per build, which is what ebs reacts to. c must be logged in
// as an account allowed to tag (Tagger). Builds already in f45 are left
// alone, so feeding twice is harmless. It returns how many it tagged.
func Feed(ctx context.Context, c *koji.Client, triggers []Trigger) (int, error) {
	in, err := c.ListTagged(ctx, TriggerTag, koji.ListTaggedOpts{})
	if err != nil {
		return 0, fmt.Errorf("world: listTagged %s: %w", TriggerTag, err)
	}
	tagged := map[string]bool{}
	for _, b := range in {
		tagged[b.NVR] = true
	}
	var nvrs []string
	for _, t := range triggers {
		if !tagged[t.NVR] {
			nvrs = append(nvrs, t.NVR)
		}
	}
	if len(nvrs) == 0 {
		return 0, nil
	}
	res, err := c.TagBuilds(ctx, TriggerTag, nvrs)
	if err != nil {
		return 0, fmt.Errorf("world: tagBuild into %s: %w", TriggerTag, err)
	}
	var errs []error
	for i, r := range res {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("tagBuild %s %s: %w", TriggerTag, nvrs[i], r.Err))
		}
	}
	return len(nvrs) - len(errs), errors.Join(errs...)
}

// WaitQueue waits until queue exists on the broker at amqpURL and has a
// consumer (the bridge declares and binds it, then consumes): messages
// published before would be routed nowhere. The queue must not be exclusive.
func WaitQueue(ctx context.Context, amqpURL, queue string) error {
	for {
		err := queueExists(amqpURL, queue)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("world: waiting for queue %s: %w (last: %v)", queue, ctx.Err(), err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func queueExists(amqpURL, queue string) error {
	conn, err := amqp.DialConfig(amqpURL, amqp.Config{Heartbeat: 10 * time.Second,
		Properties: amqp.Table{"connection_name": "ebs-world"}})
	if err != nil {
		return err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	// A passive declare fails (and closes the channel) when the queue is missing.
	q, err := ch.QueueDeclarePassive(queue, false, false, false, false, nil)
	if err != nil {
		return err
	}
	if q.Consumers == 0 {
		return fmt.Errorf("queue %s has no consumer yet", queue)
	}
	return nil
}

// DeleteQueue removes a queue (best effort: the demo's and the tests').
func DeleteQueue(amqpURL, queue string) error {
	conn, err := amqp.Dial(amqpURL)
	if err != nil {
		return err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	_, err = ch.QueueDelete(queue, false, false, false)
	return err
}
