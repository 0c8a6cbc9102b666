package world

import (
	_ "embed"
	"fmt"
	"strings"

	"github.com/fedora-eln/ebs/libs/config"
)

// productionConfig is Fedora's production configuration (the
// elnbuildsync-config repository's config/distrobaker.yaml), unchanged.
//
//go:embed distrobaker.yaml
var productionConfig string

const productionContentResolver = "content_resolver: https://tiny.distro.builders"

// ConfigYAML is the demo's ebs configuration: the production file with the
// Content Resolver pointed at contentResolverURL (the demo world's lists).
// Everything else — trigger tag f45, build target and stable tag eln,
// skip_tag, exclude, ordering, overrides, Bodhi batch size — is production's.
func ConfigYAML(contentResolverURL string) string {
	header := "# The demo's ebs configuration: Fedora's production distrobaker.yaml\n" +
		"# (elnbuildsync-config), unchanged but for the Content Resolver URL.\n"
	return header + strings.Replace(productionConfig, productionContentResolver, "content_resolver: "+contentResolverURL, 1)
}

// Config parses ConfigYAML.
func Config(contentResolverURL string) (*config.Config, error) {
	c, err := config.Parse("demo.yaml", []byte(ConfigYAML(contentResolverURL)))
	if err != nil {
		return nil, fmt.Errorf("world: demo configuration: %w", err)
	}
	return c, nil
}
