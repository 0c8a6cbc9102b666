package status

import (
	"context"
	"fmt"
	"strconv"

	"github.com/fedora-eln/ebs/libs/koji"
)

// KojiClientReader reads status.json's data through libs/koji with raw
// results, because status.json passes every field of Koji's build dicts
// through unchanged.
type KojiClientReader struct{ C *koji.Client }

func rawBuilds(v []map[string]any) []KojiBuild {
	out := make([]KojiBuild, len(v))
	for i, m := range v {
		out[i] = KojiBuild(m)
	}
	return out
}

// userArg passes a numeric user as an int (Koji accepts an id or a name).
func userArg(u string) any {
	if n, err := strconv.ParseInt(u, 10, 64); err == nil {
		return n
	}
	return u
}

// ListTagged is listTagged(tag, latest=True).
func (k KojiClientReader) ListTagged(ctx context.Context, tag string) ([]KojiBuild, error) {
	var v []map[string]any
	err := k.C.Call(ctx, &v, "listTagged", tag, koji.KW("latest", true))
	return rawBuilds(v), err
}

// ListBuildsByUser is listBuilds(userID=user, queryOpts={"order": "-start_ts"}).
func (k KojiClientReader) ListBuildsByUser(ctx context.Context, user string) ([]KojiBuild, error) {
	var v []map[string]any
	err := k.C.Call(ctx, &v, "listBuilds", koji.KW("userID", userArg(user), "queryOpts", koji.KW("order", "-start_ts")))
	return rawBuilds(v), err
}

// ListBuildsByPackage is listBuilds(packageID=name, queryOpts={"order": "start_ts"}).
func (k KojiClientReader) ListBuildsByPackage(ctx context.Context, name string) ([]KojiBuild, error) {
	var v []map[string]any
	err := k.C.Call(ctx, &v, "listBuilds", koji.KW("packageID", name, "queryOpts", koji.KW("order", "start_ts")))
	return rawBuilds(v), err
}

// ListTags is listTags(build=id) -> names.
func (k KojiClientReader) ListTags(ctx context.Context, buildID int64) ([]string, error) {
	var v []map[string]any
	if err := k.C.Call(ctx, &v, "listTags", koji.KW("build", buildID)); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(v))
	for _, t := range v {
		out = append(out, fmt.Sprint(t["name"]))
	}
	return out, nil
}

// defaultKojiReader returns an anonymous Koji reader for hubURL, or nil
// when none is configured (status.json then stays 503).
func defaultKojiReader(hubURL string) KojiReader {
	if hubURL == "" {
		return nil
	}
	c, err := koji.New(koji.Options{URL: hubURL})
	if err != nil {
		return nil
	}
	return KojiClientReader{C: c}
}
