package bodhisim

import (
	"context"
	"fmt"

	"github.com/fedora-eln/ebs/libs/koji"
)

// KojiXMLRPC is the KojiHub of a real Koji hub or the Koji simulator, over
// XML-RPC. Client must log in as Bodhi's Koji account (an admin, "bodhi" in
// the Koji simulator) for TagBuild and DeleteTag.
type KojiXMLRPC struct {
	Client *koji.Client
}

// GetTag implements KojiHub (getTag, not strict).
func (k KojiXMLRPC) GetTag(ctx context.Context, name string) (*Tag, error) {
	t, err := k.Client.GetTag(ctx, name, false)
	if err != nil {
		return nil, fmt.Errorf("getTag %s: %w", name, err)
	}
	if t == nil {
		return nil, nil
	}
	return &Tag{Name: t.Name, ID: t.ID, SideTag: t.IsSideTag(), SideTagUser: t.SideTagUser()}, nil
}

// ListTagged implements KojiHub (listTagged(tag, latest=True)).
func (k KojiXMLRPC) ListTagged(ctx context.Context, tag string) ([]string, error) {
	bs, err := k.Client.ListTagged(ctx, tag, koji.ListTaggedOpts{Latest: true})
	if err != nil {
		return nil, fmt.Errorf("listTagged %s: %w", tag, err)
	}
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.NVR
	}
	return out, nil
}

// TagBuild implements KojiHub. Koji tags in a task; like Bodhi, the push
// does not wait for it (the buildsys.tag message says when it is done).
func (k KojiXMLRPC) TagBuild(ctx context.Context, tag, nvr string) error {
	if _, err := k.Client.TagBuild(ctx, tag, nvr); err != nil {
		return fmt.Errorf("tagBuild %s %s: %w", tag, nvr, err)
	}
	return nil
}

// DeleteTag implements KojiHub (deleteTag, as Bodhi removes an update's side tag).
func (k KojiXMLRPC) DeleteTag(ctx context.Context, tag string) error {
	if err := k.Client.DeleteTag(ctx, tag); err != nil {
		return fmt.Errorf("deleteTag %s: %w", tag, err)
	}
	return nil
}
