package status

import (
	"context"
	"fmt"

	"github.com/fedora-eln/ebs/libs/koji"
	"github.com/prometheus/client_golang/prometheus"
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

// ListTagged is listTagged(tag, latest=True).
func (k KojiClientReader) ListTagged(ctx context.Context, tag string) ([]KojiBuild, error) {
	var v []map[string]any
	err := k.C.Call(ctx, &v, "listTagged", tag, koji.KW("latest", true))
	return rawBuilds(v), err
}

// ListBuildsByUser is listBuilds(userID=user, queryOpts={"order": "-start_ts"})
// with the user name, as the original passes koji.username (Koji resolves
// a name, a Kerberos principal or an id).
func (k KojiClientReader) ListBuildsByUser(ctx context.Context, user string) ([]KojiBuild, error) {
	var v []map[string]any
	err := k.C.Call(ctx, &v, "listBuilds", koji.KW("userID", user, "queryOpts", koji.KW("order", "-start_ts")))
	return rawBuilds(v), err
}

// ListBuildsByPackage is listBuilds(packageID=name, queryOpts={"order": "start_ts"}).
func (k KojiClientReader) ListBuildsByPackage(ctx context.Context, name string) ([]KojiBuild, error) {
	var v []map[string]any
	err := k.C.Call(ctx, &v, "listBuilds", koji.KW("packageID", name, "queryOpts", koji.KW("order", "start_ts")))
	return rawBuilds(v), err
}

// ListBuildsByPackages is ListBuildsByPackage for every name, sent as
// multicalls of up to 500 calls (KojiBatchReader). A fault of one call
// fails the run, as a fault of the single call would.
func (k KojiClientReader) ListBuildsByPackages(ctx context.Context, names []string) ([][]KojiBuild, error) {
	calls := make([]koji.Call, len(names))
	for i, n := range names {
		calls[i] = koji.NewCall("listBuilds", koji.KW("packageID", n, "queryOpts", koji.KW("order", "start_ts")))
	}
	results, err := k.C.Multicall(ctx, calls, 0)
	if err != nil {
		return nil, err
	}
	out := make([][]KojiBuild, len(names))
	for i, r := range results {
		var v []map[string]any
		if err := r.Decode(&v); err != nil {
			return nil, fmt.Errorf("listBuilds(packageID=%s): %w", names[i], err)
		}
		out[i] = rawBuilds(v)
	}
	return out, nil
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
// when none is configured (status.json then stays 503). Its client exports
// the ebs_koji_client_* metrics on reg.
func defaultKojiReader(hubURL string, reg prometheus.Registerer) (KojiReader, error) {
	if hubURL == "" {
		return nil, nil
	}
	m, err := koji.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	c, err := koji.New(koji.Options{URL: hubURL, Metrics: m})
	if err != nil {
		return nil, fmt.Errorf("koji client for %s: %w", hubURL, err)
	}
	return KojiClientReader{C: c}, nil
}
