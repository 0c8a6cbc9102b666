package filter

import (
	"context"
	"time"

	"github.com/fedora-eln/ebs/libs/rpmver"
)

// KojiBuild is the part of a Koji build (a listTagged entry) the filter reads.
type KojiBuild struct {
	ID      int64
	Name    string
	Version string
	Release string
	// Epoch is "" when the build has none.
	Epoch string
	NVR   string
	// CreationTime is the build's creation_time (zero when unknown).
	CreationTime time.Time
	Owner        string
}

// EVR returns the build's epoch, version and release.
func (b KojiBuild) EVR() rpmver.EVR {
	return rpmver.EVR{Epoch: b.Epoch, Version: b.Version, Release: b.Release}
}

// KojiReader is the filter's read-only view of Koji: the two calls the
// original's rebuild_from_components and periodic cleanup make. It is
// implemented over libs/koji; any service may read Koji (only koji-worker
// writes).
type KojiReader interface {
	// ListTaggedLatest is listTagged(tag, latest=True, inherit=inherit).
	ListTaggedLatest(ctx context.Context, tag string, inherit bool) ([]KojiBuild, error)
	// BuildTargetDestTag is getBuildTarget(target)["dest_tag_name"].
	BuildTargetDestTag(ctx context.Context, target string) (string, error)
}
