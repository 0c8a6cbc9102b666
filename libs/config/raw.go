package config

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// rawFile mirrors the YAML.
type rawFile struct {
	Configuration struct {
		Koji *struct {
			Profile      string `yaml:"profile"`
			TriggerTag   string `yaml:"trigger_tag"`
			BuildTarget  string `yaml:"build_target"`
			StableTag    string `yaml:"stable_tag"`
			Username     string `yaml:"username"`
			ScratchBuild *bool  `yaml:"scratch_build"`
			FailFast     *bool  `yaml:"fail_fast"`
			WaitRepo     *bool  `yaml:"wait_repo"`
			Instance     string `yaml:"instance"`
		} `yaml:"koji"`
		Bodhi *struct {
			BatchSize          int      `yaml:"batch_size"`
			MaxSingleBatchSize *int     `yaml:"max_single_batch_size"`
			Staging            *bool    `yaml:"staging"`
			WarnTimeout        *float64 `yaml:"warn_timeout"`
		} `yaml:"bodhi"`
		DB *struct {
			Host     string `yaml:"host"`
			Port     int    `yaml:"port"`
			Name     string `yaml:"name"`
			Driver   string `yaml:"driver"`
			User     string `yaml:"user"`
			PageSize *int   `yaml:"page_size"`
		} `yaml:"db"`
		OpenIDConnect yaml.Node `yaml:"open_id_connect"`
		Email         yaml.Node `yaml:"email"`
		Control       *struct {
			TriggerTag     string    `yaml:"trigger_tag"`
			Pause          *bool     `yaml:"pause"`
			StatusInterval *int      `yaml:"status_interval"`
			SkipTag        []string  `yaml:"skip_tag"`
			Exclude        []string  `yaml:"exclude"`
			Ordering       yaml.Node `yaml:"ordering"`
		} `yaml:"control"`
	} `yaml:"configuration"`
	Components *struct {
		AutoPackageList *struct {
			View            yaml.Node `yaml:"view"`
			Source          yaml.Node `yaml:"source"`
			ContentResolver string    `yaml:"content_resolver"`
		} `yaml:"autopackagelist"`
		Overrides map[string]map[string]any `yaml:"overrides"`
	} `yaml:"components"`
}

func (r *rawFile) convert() (*Config, error) {
	c := &Config{}
	rc := r.Configuration
	if rc.Koji == nil {
		return nil, fmt.Errorf("configuration.koji: required")
	}
	k := rc.Koji
	c.Koji = Koji{Profile: k.Profile, BuildTarget: k.BuildTarget, StableTag: k.StableTag, Username: k.Username,
		Instance: k.Instance, WaitRepo: true}
	if c.Koji.Instance == "" {
		c.Koji.Instance = "primary"
	}
	if k.ScratchBuild != nil {
		c.Koji.ScratchBuild = *k.ScratchBuild
	}
	if k.FailFast != nil {
		c.Koji.FailFast = *k.FailFast
	}
	if k.WaitRepo != nil {
		c.Koji.WaitRepo = *k.WaitRepo
	}
	for key, v := range map[string]string{"profile": k.Profile, "build_target": k.BuildTarget, "stable_tag": k.StableTag} {
		if v == "" {
			return nil, fmt.Errorf("configuration.koji.%s: required", key)
		}
	}
	if rc.Bodhi == nil {
		return nil, fmt.Errorf("configuration.bodhi: required (may be {})")
	}
	c.Bodhi = Bodhi{BatchSize: rc.Bodhi.BatchSize, MaxSingleBatchSize: rc.Bodhi.BatchSize, WarnTimeout: 180 * time.Minute}
	if rc.Bodhi.MaxSingleBatchSize != nil {
		c.Bodhi.MaxSingleBatchSize = *rc.Bodhi.MaxSingleBatchSize
		if c.Bodhi.MaxSingleBatchSize > 0 && c.Bodhi.BatchSize == 0 {
			return nil, fmt.Errorf("configuration.bodhi.max_single_batch_size: must be 0 when batch_size is 0")
		}
	}
	c.Bodhi.Staging = k.Profile == "stg"
	if rc.Bodhi.Staging != nil {
		c.Bodhi.Staging = *rc.Bodhi.Staging
	}
	if rc.DB == nil {
		return nil, fmt.Errorf("configuration.db: required")
	}
	c.DB = DB{Host: rc.DB.Host, Port: rc.DB.Port, Name: rc.DB.Name, Driver: rc.DB.Driver, User: rc.DB.User, PageSize: 500}
	if rc.DB.PageSize != nil {
		c.DB.PageSize = *rc.DB.PageSize
	}
	if rc.Control == nil {
		return nil, fmt.Errorf("configuration.control: required")
	}
	ctl := rc.Control
	c.Control.TriggerTag = ctl.TriggerTag
	if c.Control.TriggerTag == "" {
		c.Control.TriggerTag = k.TriggerTag
	}
	if c.Control.TriggerTag == "" {
		return nil, fmt.Errorf("configuration.control.trigger_tag (or configuration.koji.trigger_tag): required")
	}
	if ctl.Pause == nil {
		return nil, fmt.Errorf("configuration.control.pause: required")
	}
	c.Control.Pause = *ctl.Pause
	c.Control.StatusInterval = 600 * time.Second
	if ctl.StatusInterval != nil {
		if *ctl.StatusInterval <= 0 {
			return nil, fmt.Errorf("configuration.control.status_interval: must be a positive integer")
		}
		c.Control.StatusInterval = time.Duration(*ctl.StatusInterval) * time.Second
	}
	var err error
	if c.Control.SkipTag, err = compileAll("configuration.control.skip_tag", ctl.SkipTag); err != nil {
		return nil, err
	}
	if c.Control.Exclude, err = compileAll("configuration.control.exclude", ctl.Exclude); err != nil {
		return nil, err
	}
	if c.Control.Ordering, err = orderingRules(&ctl.Ordering); err != nil {
		return nil, err
	}
	if r.Components == nil {
		return nil, fmt.Errorf("components: required")
	}
	if r.Components.AutoPackageList == nil && len(r.Components.Overrides) == 0 {
		return nil, fmt.Errorf("components: needs autopackagelist or overrides")
	}
	if apl := r.Components.AutoPackageList; apl != nil {
		a := &AutoPackageList{ContentResolver: apl.ContentResolver}
		if a.ContentResolver == "" {
			a.ContentResolver = "https://tiny.distro.builders"
		}
		if a.Views, err = stringOrList("components.autopackagelist.view", &apl.View); err != nil {
			return nil, err
		}
		if a.Sources, err = stringOrList("components.autopackagelist.source", &apl.Source); err != nil {
			return nil, err
		}
		c.Components.AutoPackageList = a
	}
	c.Components.Overrides = map[string]Override{}
	for name, o := range r.Components.Overrides {
		ov := Override{Extra: map[string]any{}}
		for key, v := range o {
			if key == "upstream_name" {
				s, ok := v.(string)
				if !ok {
					return nil, fmt.Errorf("components.overrides.%s.upstream_name: want a string", name)
				}
				ov.UpstreamName = s
				continue
			}
			ov.Extra[key] = v
		}
		c.Components.Overrides[name] = ov
	}
	return c, nil
}

func compileAll(path string, srcs []string) ([]Pattern, error) {
	var out []Pattern
	for i, s := range srcs {
		p, err := CompilePattern(s)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", path, i, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// orderingRules keeps YAML order (first match wins).
func orderingRules(n *yaml.Node) ([]OrderingRule, error) {
	if n.Kind == 0 {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("configuration.control.ordering: want a mapping of regex: integer (line %d)", n.Line)
	}
	var out []OrderingRule
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		var val int
		if err := v.Decode(&val); err != nil {
			return nil, fmt.Errorf("configuration.control.ordering.%s: want an integer (line %d)", k.Value, v.Line)
		}
		p, err := CompilePattern(k.Value)
		if err != nil {
			return nil, fmt.Errorf("configuration.control.ordering.%s: %w", k.Value, err)
		}
		out = append(out, OrderingRule{Pattern: p, Value: val})
	}
	return out, nil
}

func stringOrList(path string, n *yaml.Node) ([]string, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		return []string{n.Value}, nil
	case yaml.SequenceNode:
		var out []string
		if err := n.Decode(&out); err != nil {
			return nil, fmt.Errorf("%s: want a string or a list of strings", path)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("%s: required (a string or a list of strings)", path)
	}
}
