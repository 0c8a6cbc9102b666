package config

import (
	"fmt"
	"io"
	"strings"
)

// Describe writes what the configuration resolved to, for operators
// (`ebsctl config check`) and start-up logs. It contacts nothing: the
// rawhide trigger tag and the Content Resolver lists are resolved later.
func (c *Config) Describe(w io.Writer) {
	p := func(k, format string, args ...any) {
		fmt.Fprintf(w, "  %-22s %s\n", k+":", fmt.Sprintf(format, args...))
	}
	fmt.Fprintf(w, "%s: valid (%s layout)\n", c.Source, c.Layout)
	if c.Revision != "" {
		p("revision", "%s", c.Revision)
	}
	trigger := c.Control.TriggerTag
	if trigger == RawhideTriggerTag {
		trigger += " (resolved through Bodhi's pending releases at each load)"
	}
	p("trigger tag", "%s  [%s]", trigger, c.TriggerTagKey)
	p("build target", "%s", c.Koji.BuildTarget)
	p("stable tag", "%s", c.Koji.StableTag)
	p("koji", "profile %s, instance %s, user %s, scratch %t, fail_fast %t, wait_repo %t",
		c.Koji.Profile, c.Koji.Instance, orNone(c.Koji.Username), c.Koji.ScratchBuild, c.Koji.FailFast, c.Koji.WaitRepo)
	p("pause", "%t", c.Control.Pause)
	p("status interval", "%s", c.Control.StatusInterval)
	p("exclude rules", "%d", len(c.Control.Exclude))
	p("skip_tag rules", "%d", len(c.Control.SkipTag))
	p("ordering rules", "%d (default %d)", len(c.Control.Ordering), DefaultOrdering)
	for _, r := range c.Control.Ordering {
		fmt.Fprintf(w, "  %-22s %-28s %d\n", "", r.Source, r.Value)
	}
	var ov []string
	for _, name := range c.Components.OverrideOrder {
		o := c.Components.Overrides[name]
		if o.UpstreamName != name {
			ov = append(ov, name+" <- "+o.UpstreamName)
		} else {
			ov = append(ov, name)
		}
	}
	p("overrides", "%d%s", len(ov), list(ov))
	if a := c.Components.AutoPackageList; a != nil {
		p("content resolver", "%s, views [%s], sources [%s]", a.ContentResolver, strings.Join(a.Views, ", "), strings.Join(a.Sources, ", "))
	} else {
		p("content resolver", "none (overrides only)")
	}
	p("bodhi chunking", "%s", c.Bodhi.describeChunking())
	p("bodhi", "staging %t, warn timeout %s", c.Bodhi.Staging, c.Bodhi.WarnTimeout)
	p("db", "%s@%s:%d/%s (%s), page size %d", c.DB.User, c.DB.Host, c.DB.Port, c.DB.Name, c.DB.Driver, c.DB.PageSize)
	if c.OIDC != nil {
		p("open_id_connect", "client %s, admin groups [%s]", c.OIDC.ClientID, strings.Join(c.OIDC.AdminGroups, ", "))
	} else {
		p("open_id_connect", "disabled (/trigger is unauthenticated)")
	}
	if c.Email != nil {
		p("email", "%s:%d from %s to %d recipient(s)", c.Email.SMTPHost, c.Email.SMTPPort, c.Email.From, len(c.Email.Recipients))
	} else {
		p("email", "disabled")
	}
	for _, warn := range c.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", warn)
	}
}

func (b Bodhi) describeChunking() string {
	switch {
	case b.BatchSize <= 0:
		return "one update per batch (batch_size 0: never split)"
	case b.MaxSingleBatchSize == b.BatchSize:
		return fmt.Sprintf("updates of at most %d NVRs (batch_size %d)", b.BatchSize, b.BatchSize)
	default:
		return fmt.Sprintf("one update up to %d NVRs, above that updates of %d (batch_size %d, max_single_batch_size %d)",
			b.MaxSingleBatchSize, b.BatchSize, b.BatchSize, b.MaxSingleBatchSize)
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func list(items []string) string {
	if len(items) == 0 {
		return ""
	}
	return " (" + strings.Join(items, ", ") + ")"
}
