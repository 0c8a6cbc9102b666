package bodhisim

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// MemoryKoji is a KojiHub held in memory, for running the simulator without
// a Koji simulator (bodhisim -koji-url "" in a quick demo). Tests use the
// Koji simulator over XML-RPC (KojiXMLRPC) instead.
type MemoryKoji struct {
	mu     sync.Mutex
	tags   map[string]*Tag
	tagged map[string][]string
	nextID int64
	// Tagged records every TagBuild as "tag nvr".
	log []string
}

// NewMemoryKoji returns an empty MemoryKoji.
func NewMemoryKoji() *MemoryKoji {
	return &MemoryKoji{tags: map[string]*Tag{}, tagged: map[string][]string{}, nextID: 1000}
}

// AddSideTag creates a side tag owned by user holding nvrs.
func (m *MemoryKoji) AddSideTag(name, user string, nvrs ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nextID++
	m.tags[name] = &Tag{Name: name, ID: m.nextID, SideTag: true, SideTagUser: user}
	m.tagged[name] = slices.Clone(nvrs)
}

// AddTag creates a plain tag holding nvrs.
func (m *MemoryKoji) AddTag(name string, nvrs ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nextID++
	m.tags[name] = &Tag{Name: name, ID: m.nextID}
	m.tagged[name] = slices.Clone(nvrs)
}

// Tagged returns the NVRs in tag.
func (m *MemoryKoji) Tagged(tag string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.tagged[tag])
}

// GetTag implements KojiHub.
func (m *MemoryKoji) GetTag(_ context.Context, name string) (*Tag, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tags[name]
	if !ok {
		return nil, nil
	}
	c := *t
	return &c, nil
}

// ListTagged implements KojiHub.
func (m *MemoryKoji) ListTagged(_ context.Context, tag string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.tags[tag]; !ok {
		return nil, fmt.Errorf("GenericError: Invalid tagInfo: %q", tag)
	}
	return slices.Clone(m.tagged[tag]), nil
}

// TagBuild implements KojiHub.
func (m *MemoryKoji) TagBuild(_ context.Context, tag, nvr string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.tags[tag]; !ok {
		m.nextID++
		m.tags[tag] = &Tag{Name: tag, ID: m.nextID}
	}
	if !slices.Contains(m.tagged[tag], nvr) {
		m.tagged[tag] = append(m.tagged[tag], nvr)
	}
	m.log = append(m.log, tag+" "+nvr)
	return nil
}

// DeleteTag implements KojiHub.
func (m *MemoryKoji) DeleteTag(_ context.Context, tag string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tags[tag]
	if !ok || !t.SideTag {
		return fmt.Errorf("GenericError: %s is not a side tag", tag)
	}
	delete(m.tags, tag)
	delete(m.tagged, tag)
	return nil
}
