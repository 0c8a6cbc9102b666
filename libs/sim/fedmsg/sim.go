package fedmsgsim

import (
	"context"
	"crypto/sha1"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/fedora-eln/ebs/libs/fedmsg"
)

// Simulator publishes Koji's buildsys.* messages into a Sink.
type Simulator struct {
	Sink Sink
	// Prefix is the topic prefix (default org.fedoraproject.prod).
	Prefix string
	// Now stamps sent-at (default time.Now).
	Now func() time.Time
	// BaseURL goes into generated bodies (default https://koji.fedoraproject.org).
	BaseURL string

	mu   sync.Mutex
	sent []fedmsg.Message
}

// New returns a simulator publishing into sink with topic prefix ("" = prod).
func New(sink Sink, prefix string) *Simulator {
	return &Simulator{Sink: sink, Prefix: prefix}
}

func (s *Simulator) prefix() string {
	if s.Prefix == "" {
		return fedmsg.PrefixProd
	}
	return s.Prefix
}

func (s *Simulator) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Simulator) baseURL() string {
	if s.BaseURL == "" {
		return "https://koji.fedoraproject.org"
	}
	return s.BaseURL
}

// Publish sends m as it is (any topic, any body, valid or not).
func (s *Simulator) Publish(ctx context.Context, m fedmsg.Message) error {
	if err := s.Sink.Publish(ctx, m); err != nil {
		return err
	}
	s.mu.Lock()
	s.sent = append(s.sent, m)
	s.mu.Unlock()
	return nil
}

// PublishAll sends messages in order, stopping at the first error.
func (s *Simulator) PublishAll(ctx context.Context, msgs []fedmsg.Message) error {
	for i, m := range msgs {
		if err := s.Publish(ctx, m); err != nil {
			return fmt.Errorf("message %d (%s): %w", i, m.ID, err)
		}
	}
	return nil
}

// Sent returns every message published so far.
func (s *Simulator) Sent() []fedmsg.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]fedmsg.Message(nil), s.sent...)
}

func (s *Simulator) koji(ctx context.Context, suffix string, body any) (fedmsg.Message, error) {
	m, err := fedmsg.KojiMessage(s.prefix(), suffix, body, s.now())
	if err != nil {
		return fedmsg.Message{}, err
	}
	return m, s.Publish(ctx, m)
}

// Tag publishes buildsys.tag (base_url and instance filled in when empty).
func (s *Simulator) Tag(ctx context.Context, b fedmsg.TagBody) (fedmsg.Message, error) {
	s.fillTag(&b)
	return s.koji(ctx, fedmsg.TopicTag, b)
}

// Untag publishes buildsys.untag.
func (s *Simulator) Untag(ctx context.Context, b fedmsg.TagBody) (fedmsg.Message, error) {
	s.fillTag(&b)
	return s.koji(ctx, fedmsg.TopicUntag, b)
}

func (s *Simulator) fillTag(b *fedmsg.TagBody) {
	if b.BaseURL == "" {
		b.BaseURL = s.baseURL()
	}
	if b.Instance == "" {
		b.Instance = "primary"
	}
}

// TagBuild is Tag for an NVR: a build tagged into tag by user.
func (s *Simulator) TagBuild(ctx context.Context, tag, nvr string, buildID int64, user string) (fedmsg.Message, error) {
	n, v, r, err := SplitNVR(nvr)
	if err != nil {
		return fedmsg.Message{}, err
	}
	return s.Tag(ctx, fedmsg.TagBody{Tag: tag, Name: n, Version: v, Release: r, BuildID: buildID, User: fedmsg.FlexString(user), Owner: fedmsg.FlexString(user)})
}

// RepoInit publishes buildsys.repo.init.
func (s *Simulator) RepoInit(ctx context.Context, tag string, tagID, repoID int64) (fedmsg.Message, error) {
	return s.koji(ctx, fedmsg.TopicRepoInit, fedmsg.RepoBody{BaseURL: s.baseURL(), Tag: tag, TagID: tagID, RepoID: repoID, Instance: "primary"})
}

// RepoDone publishes buildsys.repo.done.
func (s *Simulator) RepoDone(ctx context.Context, tag string, tagID, repoID int64) (fedmsg.Message, error) {
	return s.koji(ctx, fedmsg.TopicRepoDone, fedmsg.RepoBody{BaseURL: s.baseURL(), Tag: tag, TagID: tagID, RepoID: repoID, Instance: "primary"})
}

// BuildStateChange publishes buildsys.build.state.change.
func (s *Simulator) BuildStateChange(ctx context.Context, b fedmsg.BuildStateChangeBody) (fedmsg.Message, error) {
	if b.BaseURL == "" {
		b.BaseURL = s.baseURL()
	}
	if b.Instance == "" {
		b.Instance = "primary"
	}
	if b.Attribute == "" {
		b.Attribute = "state"
	}
	return s.koji(ctx, fedmsg.TopicBuildStateChange, b)
}

// TaskStateChange publishes buildsys.task.state.change.
func (s *Simulator) TaskStateChange(ctx context.Context, b fedmsg.TaskStateChangeBody) (fedmsg.Message, error) {
	if b.BaseURL == "" {
		b.BaseURL = s.baseURL()
	}
	if b.Instance == "" {
		b.Instance = "primary"
	}
	if b.Attribute == "" {
		b.Attribute = "state"
	}
	return s.koji(ctx, fedmsg.TopicTaskStateChange, b)
}

// SplitNVR splits name-version-release at the last two dashes.
func SplitNVR(nvr string) (name, version, release string, err error) {
	i := strings.LastIndexByte(nvr, '-')
	if i <= 0 {
		return "", "", "", fmt.Errorf("fedmsgsim: %q is not an NVR", nvr)
	}
	j := strings.LastIndexByte(nvr[:i], '-')
	if j <= 0 || i == len(nvr)-1 || j+1 == i {
		return "", "", "", fmt.Errorf("fedmsgsim: %q is not an NVR", nvr)
	}
	return nvr[:j], nvr[j+1 : i], nvr[i+1:], nil
}

// StableID returns a UUID-shaped id derived from seed, so that republishing
// the same simulated message carries the same id (the bus de-duplicates on it).
func StableID(seed string) string {
	h := sha1.Sum([]byte("ebs-fedmsgsim:" + seed))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}
