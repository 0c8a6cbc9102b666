package filter

import (
	"context"
	"errors"
	"net/http"
)

// NewKojiReader returns the KojiReader over the hub at url.
// TODO(koji-core): wire libs/koji once it is merged.
func NewKojiReader(url string, _ *http.Client) (KojiReader, error) {
	return unavailableKoji{url}, nil
}

type unavailableKoji struct{ url string }

func (u unavailableKoji) ListTaggedLatest(context.Context, string, bool) ([]KojiBuild, error) {
	return nil, errors.New("filter: Koji reads need libs/koji (not merged yet)")
}

func (u unavailableKoji) BuildTargetDestTag(context.Context, string) (string, error) {
	return "", errors.New("filter: Koji reads need libs/koji (not merged yet)")
}
