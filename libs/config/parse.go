package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Document is one YAML configuration document and where it came from.
type Document struct {
	// Name is the file path, URL or git location shown in errors.
	Name string
	Data []byte
	// Revision is the git commit the document was read at, if any.
	Revision string
}

func splitNames(source string, n int) []string {
	names := make([]string, n)
	parts := strings.Split(source, "+")
	for i := range names {
		switch {
		case len(parts) == n:
			names[i] = parts[i]
		case n == 1:
			names[i] = source
		default:
			names[i] = fmt.Sprintf("%s#%d", source, i+1)
		}
	}
	return names
}

// ParseDocuments decodes documents (merged in order: a key in a later
// document replaces the same key of an earlier one, mappings merge key by
// key) into a validated Config. All problems are reported together as Errors.
func ParseDocuments(docs ...Document) (*Config, error) {
	if len(docs) == 0 {
		return nil, &Error{File: "(none)", Msg: "no configuration document"}
	}
	p := &parser{files: map[*yaml.Node]string{}}
	var root *yaml.Node
	names := make([]string, len(docs))
	sum := sha256.New()
	revision := ""
	for i, d := range docs {
		names[i] = d.Name
		fmt.Fprintf(sum, "%d\n", len(d.Data))
		sum.Write(d.Data)
		if d.Revision != "" {
			revision = d.Revision
		}
		n, err := decodeDocument(d)
		if err != nil {
			return nil, err
		}
		p.remember(n, d.Name)
		if root == nil {
			root = n
		} else {
			mergeMapping(root, n)
		}
	}
	p.defaultFile = names[len(names)-1]
	c := p.config(root)
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	c.Source = strings.Join(names, "+")
	c.Digest = hex.EncodeToString(sum.Sum(nil))
	c.Revision = revision
	c.Timers = DefaultTimers()
	c.Warnings = p.warns
	return c, nil
}

func decodeDocument(d Document) (*yaml.Node, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(d.Data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: d.Name, Msg: "the document is empty; want a mapping with configuration and components"}
		}
		return nil, &Error{File: d.Name, Line: yamlErrorLine(err), Msg: "not valid YAML: " + err.Error()}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &Error{File: d.Name, Line: extra.Line, Msg: "more than one YAML document (---); want exactly one"}
	}
	n := &doc
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return nil, &Error{File: d.Name, Line: n.Line, Msg: "the document must be a mapping with configuration and components"}
	}
	return n, nil
}

// yamlErrorLine pulls "line N" out of a yaml.v3 error message.
func yamlErrorLine(err error) int {
	s := err.Error()
	if i := strings.Index(s, "line "); i >= 0 {
		j := i + 5
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		n, _ := strconv.Atoi(s[i+5 : j])
		return n
	}
	return 0
}

// mergeMapping merges src into dst: later keys win, nested mappings merge.
func mergeMapping(dst, src *yaml.Node) {
	for i := 0; i+1 < len(src.Content); i += 2 {
		k, v := src.Content[i], src.Content[i+1]
		found := false
		for j := 0; j+1 < len(dst.Content); j += 2 {
			if dst.Content[j].Value != k.Value {
				continue
			}
			found = true
			dv := resolve(dst.Content[j+1])
			if dv.Kind == yaml.MappingNode && resolve(v).Kind == yaml.MappingNode {
				mergeMapping(dv, resolve(v))
			} else {
				dst.Content[j], dst.Content[j+1] = k, v
			}
			break
		}
		if !found {
			dst.Content = append(dst.Content, k, v)
		}
	}
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

type parser struct {
	files       map[*yaml.Node]string
	defaultFile string
	errs        Errors
	warns       []string
}

func (p *parser) remember(n *yaml.Node, file string) {
	if n == nil {
		return
	}
	if _, ok := p.files[n]; ok {
		return
	}
	p.files[n] = file
	for _, c := range n.Content {
		p.remember(c, file)
	}
}

func (p *parser) fileOf(n *yaml.Node) string {
	if f, ok := p.files[n]; ok {
		return f
	}
	return p.defaultFile
}

func (p *parser) errf(n *yaml.Node, path, format string, args ...any) {
	e := &Error{File: p.defaultFile, Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.File, e.Line = p.fileOf(n), n.Line
	}
	p.errs = append(p.errs, e)
}

func (p *parser) warnf(n *yaml.Node, path, format string, args ...any) {
	loc := p.defaultFile
	if n != nil {
		loc = fmt.Sprintf("%s:%d", p.fileOf(n), n.Line)
	}
	p.warns = append(p.warns, fmt.Sprintf("%s: %s: %s", loc, path, fmt.Sprintf(format, args...)))
}

// mapping is a YAML mapping with its path, for typed lookups.
type mapping struct {
	p    *parser
	node *yaml.Node
	path string
	// key is the node of the key holding this mapping (where "missing key"
	// errors point), nil for the document root.
	key *yaml.Node
}

// child returns the mapping at key; ok is false when absent. A present
// non-mapping is reported.
func (m mapping) child(key, want string) (mapping, bool) {
	k, v := m.lookup(key)
	if v == nil {
		return mapping{}, false
	}
	if v.Kind != yaml.MappingNode {
		m.p.errf(v, m.keyPath(key), "want %s, got %s", want, describe(v))
		return mapping{}, false
	}
	return mapping{p: m.p, node: v, path: m.keyPath(key), key: k}, true
}

func (m mapping) lookup(key string) (k, v *yaml.Node) {
	if m.node == nil {
		return nil, nil
	}
	for i := 0; i+1 < len(m.node.Content); i += 2 {
		if m.node.Content[i].Value == key {
			return m.node.Content[i], resolve(m.node.Content[i+1])
		}
	}
	return nil, nil
}

// where is the node missing-key errors point at: the mapping's own key.
func (m mapping) where() *yaml.Node {
	if m.key != nil {
		return m.key
	}
	return m.node
}

func (m mapping) has(key string) bool { _, v := m.lookup(key); return v != nil }

func (m mapping) keyPath(key string) string {
	if m.path == "" {
		return key
	}
	return m.path + "." + key
}

// require reports a missing key; it returns the value node or nil.
func (m mapping) require(key, want string) *yaml.Node {
	_, v := m.lookup(key)
	if v == nil {
		m.p.errf(m.where(), m.keyPath(key), "required: want %s", want)
	}
	return v
}

// knownKeys warns about keys the schema does not know and rejects secrets.
func (m mapping) knownKeys(known ...string) {
	if m.node == nil {
		return
	}
	for i := 0; i+1 < len(m.node.Content); i += 2 {
		k := m.node.Content[i]
		if secretKey(k.Value) {
			m.p.errf(k, m.keyPath(k.Value), "secrets never go in the YAML; give them through the environment or a file (%s)", secretHint(m.path, k.Value))
			continue
		}
		if !contains(known, k.Value) {
			m.p.warnf(k, m.keyPath(k.Value), "unknown key ignored (known: %s)", strings.Join(known, ", "))
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func secretKey(k string) bool {
	k = strings.ToLower(k)
	return strings.Contains(k, "password") || strings.Contains(k, "secret") || k == "keytab" || k == "token" || k == "private_key"
}

func secretHint(path, key string) string {
	switch {
	case strings.HasSuffix(path, ".db"):
		return EnvDBPassword + "_FILE or " + EnvDBPassword
	case strings.HasSuffix(path, ".email"):
		return EnvSMTPPassword + "_FILE or " + EnvSMTPPassword
	case strings.HasSuffix(path, ".open_id_connect"):
		return EnvOIDCClientSecret + "_FILE or " + EnvOIDCClientSecret
	case strings.HasSuffix(path, ".koji"):
		return EnvKojiKeytab + " or " + EnvKojiCert
	}
	return "see config.Secrets"
}

func (m mapping) str(key string, required bool) (string, *yaml.Node) {
	var v *yaml.Node
	if required {
		v = m.require(key, "a string")
	} else {
		_, v = m.lookup(key)
	}
	if v == nil {
		return "", nil
	}
	if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		m.p.errf(v, m.keyPath(key), "want a string, got %s", describe(v))
		return "", v
	}
	if v.Value == "" && required {
		m.p.errf(v, m.keyPath(key), "want a non-empty string")
	}
	return v.Value, v
}

// boolean accepts YAML booleans and, as PyYAML (YAML 1.1) did, yes/no/on/off.
func (m mapping) boolean(key string, required bool) (val, present bool) {
	var v *yaml.Node
	if required {
		v = m.require(key, "true or false")
	} else {
		_, v = m.lookup(key)
	}
	if v == nil {
		return false, false
	}
	b, ok := parseBool(v)
	if !ok {
		m.p.errf(v, m.keyPath(key), "want true or false, got %s", describe(v))
		return false, false
	}
	return b, true
}

func parseBool(v *yaml.Node) (bool, bool) {
	if v.Kind != yaml.ScalarNode {
		return false, false
	}
	if v.Tag == "!!bool" || v.Tag == "!!str" && v.Style == 0 {
		switch strings.ToLower(v.Value) {
		case "true", "yes", "on":
			return true, true
		case "false", "no", "off":
			return false, true
		}
	}
	return false, false
}

// integer accepts YAML integers and integer strings (Python int() did).
func (m mapping) integer(key string, required bool) (val int, node *yaml.Node) {
	var v *yaml.Node
	if required {
		v = m.require(key, "an integer")
	} else {
		_, v = m.lookup(key)
	}
	if v == nil {
		return 0, nil
	}
	n, ok := parseInt(v)
	if !ok {
		m.p.errf(v, m.keyPath(key), "want an integer, got %s", describe(v))
		return 0, nil
	}
	return n, v
}

func parseInt(v *yaml.Node) (int, bool) {
	if v.Kind != yaml.ScalarNode || (v.Tag != "!!int" && v.Tag != "!!str") {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(strings.TrimSpace(v.Value), "_", ""), 0, 64)
	if err != nil || n > math.MaxInt32 || n < math.MinInt32 {
		return 0, false
	}
	return int(n), true
}

func (m mapping) number(key string) (float64, *yaml.Node) {
	_, v := m.lookup(key)
	if v == nil {
		return 0, nil
	}
	if v.Kind == yaml.ScalarNode && (v.Tag == "!!int" || v.Tag == "!!float" || v.Tag == "!!str") {
		if f, err := strconv.ParseFloat(strings.TrimSpace(v.Value), 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f, v
		}
	}
	m.p.errf(v, m.keyPath(key), "want a number, got %s", describe(v))
	return 0, nil
}

// strings reads a list of strings (a lone string when single is true).
func (m mapping) strings(key string, single bool) ([]string, *yaml.Node) {
	_, v := m.lookup(key)
	if v == nil {
		return nil, nil
	}
	want := "a list of strings"
	if single {
		want = "a string or a list of strings"
	}
	switch {
	case v.Kind == yaml.ScalarNode && v.Tag == "!!null":
		return nil, v
	case v.Kind == yaml.ScalarNode && single:
		return []string{v.Value}, v
	case v.Kind == yaml.SequenceNode:
		out := make([]string, 0, len(v.Content))
		for i, it := range v.Content {
			it = resolve(it)
			if it.Kind != yaml.ScalarNode || it.Tag == "!!null" || it.Value == "" {
				m.p.errf(it, fmt.Sprintf("%s[%d]", m.keyPath(key), i), "want a non-empty string, got %s", describe(it))
				continue
			}
			out = append(out, it.Value)
		}
		return out, v
	}
	m.p.errf(v, m.keyPath(key), "want %s, got %s", want, describe(v))
	return nil, v
}

func describe(v *yaml.Node) string {
	switch v.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch v.Tag {
		case "!!null":
			return "nothing (null)"
		case "!!bool":
			return "the boolean " + v.Value
		case "!!int":
			return "the integer " + v.Value
		case "!!float":
			return "the number " + v.Value
		}
		return strconv.Quote(v.Value)
	}
	return "an unsupported YAML node"
}

func (p *parser) config(root *yaml.Node) *Config {
	c := &Config{}
	top := mapping{p: p, node: root}
	top.knownKeys("configuration", "components")
	cfgNode := top.require("configuration", "a mapping with koji, bodhi, db, open_id_connect, email and control")
	var cfg mapping
	if cfgNode != nil {
		if cfgNode.Kind != yaml.MappingNode {
			p.errf(cfgNode, "configuration", "want a mapping, got %s", describe(cfgNode))
		} else {
			k, _ := top.lookup("configuration")
			cfg = mapping{p: p, node: cfgNode, path: "configuration", key: k}
		}
	}
	if cfg.has("trigger") || cfg.has("build") {
		p.errf(cfg.where(), "configuration", "this is the old DistroBuildSync layout (configuration.trigger / configuration.build); "+
			"use configuration.koji.trigger_tag (or control.trigger_tag), koji.build_target and the other keys of the current schema")
	}
	cfg.knownKeys("koji", "bodhi", "db", "open_id_connect", "email", "control")

	kojiTrigger := p.koji(cfg, c)
	p.bodhi(cfg, c)
	p.db(cfg, c)
	p.oidc(cfg, c)
	p.email(cfg, c)
	p.control(cfg, c, kojiTrigger)
	p.components(top, c)
	return c
}

// koji parses configuration.koji and returns its (Gen B) trigger tag.
// scalarAt is a scalar value and its node (for error positions).
type scalarAt struct {
	value string
	node  *yaml.Node
}

func (p *parser) koji(cfg mapping, c *Config) (trigger scalarAt) {
	if cfg.node == nil {
		return
	}
	k, ok := cfg.child("koji", "a mapping")
	if !ok {
		if !cfg.has("koji") {
			cfg.require("koji", "a mapping with profile, build_target and stable_tag")
		}
		return
	}
	k.knownKeys("profile", "trigger_tag", "build_target", "stable_tag", "username", "scratch_build", "fail_fast", "wait_repo", "instance")
	c.Koji.Profile, _ = k.str("profile", true)
	trigger.value, trigger.node = k.str("trigger_tag", false)
	c.Koji.BuildTarget, _ = k.str("build_target", true)
	c.Koji.StableTag, _ = k.str("stable_tag", true)
	c.Koji.Username, _ = k.str("username", false)
	var present bool
	if c.Koji.ScratchBuild, present = k.boolean("scratch_build", false); !present && !k.has("scratch_build") {
		p.warnf(k.where(), k.keyPath("scratch_build"), "not defined, assuming false")
	}
	if c.Koji.FailFast, present = k.boolean("fail_fast", false); !present && !k.has("fail_fast") {
		p.warnf(k.where(), k.keyPath("fail_fast"), "not defined, assuming false")
	}
	c.Koji.WaitRepo = true
	if v, present := k.boolean("wait_repo", false); present {
		c.Koji.WaitRepo = v
		if !v && c.Koji.Profile == "koji" {
			_, n := k.lookup("wait_repo")
			p.errf(n, k.keyPath("wait_repo"), "cannot be false when koji.profile is \"koji\" (production builds must wait for a fresh buildroot repo)")
		}
	}
	c.Koji.Instance = "primary"
	if s, n := k.str("instance", false); n != nil && s != "" {
		c.Koji.Instance = s
	}
	return
}

func (p *parser) bodhi(cfg mapping, c *Config) {
	if cfg.node == nil {
		return
	}
	var b mapping
	bk, bv := cfg.lookup("bodhi")
	switch {
	case bv == nil:
		cfg.require("bodhi", "a mapping (it may be empty: {})")
		return
	case bv.Kind == yaml.ScalarNode && bv.Tag == "!!null":
		// "bodhi:" with nothing after it: the same as {}.
		b = mapping{p: p, path: "configuration.bodhi", key: bk}
	default:
		var ok bool
		if b, ok = cfg.child("bodhi", "a mapping (it may be empty: {})"); !ok {
			return
		}
	}
	b.knownKeys("batch_size", "max_single_batch_size", "staging", "warn_timeout")
	bs, bsNode := b.integer("batch_size", false)
	if bsNode != nil && bs < 0 {
		p.errf(bsNode, b.keyPath("batch_size"), "want 0 (never split) or a positive integer, got %d", bs)
	}
	c.Bodhi.BatchSize = bs
	c.Bodhi.MaxSingleBatchSize = bs
	if ms, msNode := b.integer("max_single_batch_size", false); msNode != nil {
		c.Bodhi.MaxSingleBatchSize = ms
		switch {
		case ms < 0:
			p.errf(msNode, b.keyPath("max_single_batch_size"), "want a non-negative integer, got %d", ms)
		case ms > 0 && bs == 0:
			p.errf(msNode, b.keyPath("max_single_batch_size"), "is %d but bodhi.batch_size is 0 (never split): there is no chunk size to split into; set batch_size or remove max_single_batch_size", ms)
		}
	}
	profile := c.Koji.Profile
	if staging, present := b.boolean("staging", false); present {
		c.Bodhi.Staging = staging
		_, n := b.lookup("staging")
		switch {
		case profile == "koji" && staging:
			p.errf(n, b.keyPath("staging"), "is true but koji.profile is \"koji\": production Koji needs production Bodhi (staging: false)")
		case profile == "stg" && !staging:
			p.errf(n, b.keyPath("staging"), "is false but koji.profile is \"stg\": staging Koji needs staging Bodhi (staging: true)")
		}
	} else if !b.has("staging") {
		if profile == "koji" || profile == "stg" {
			p.warnf(b.where(), b.keyPath("staging"), "not defined; inferred from koji.profile %q", profile)
		}
		switch profile {
		case "koji":
			c.Bodhi.Staging = false
		case "stg":
			c.Bodhi.Staging = true
		case "":
		default:
			p.errf(b.where(), b.keyPath("staging"), "required when koji.profile is %q (only \"koji\" and \"stg\" imply it): want true or false", profile)
		}
	}
	c.Bodhi.WarnTimeout = 180 * time.Minute
	if f, n := b.number("warn_timeout"); n != nil {
		if f < 0 {
			p.errf(n, b.keyPath("warn_timeout"), "want a non-negative number of minutes (0 disables), got %v", f)
		}
		c.Bodhi.WarnTimeout = time.Duration(f * float64(time.Minute))
	}
}

func (p *parser) db(cfg mapping, c *Config) {
	if cfg.node == nil {
		return
	}
	d, ok := cfg.child("db", "a mapping with host, port, name, driver and user")
	if !ok {
		if !cfg.has("db") {
			cfg.require("db", "a mapping with host, port, name, driver and user")
		}
		return
	}
	d.knownKeys("host", "port", "name", "driver", "user", "page_size")
	c.DB.Host, _ = d.str("host", true)
	port, portNode := d.integer("port", true)
	if portNode != nil && (port <= 0 || port > 65535) {
		p.errf(portNode, d.keyPath("port"), "want a TCP port (1-65535), got %d", port)
	}
	c.DB.Port = port
	c.DB.Name, _ = d.str("name", true)
	c.DB.Driver, _ = d.str("driver", true)
	c.DB.User, _ = d.str("user", true)
	c.DB.PageSize = 500
	if ps, n := d.integer("page_size", false); n != nil {
		if ps <= 0 {
			p.errf(n, d.keyPath("page_size"), "want a positive integer, got %d", ps)
		}
		c.DB.PageSize = ps
	}
}

// falseOrMapping reads a key that is either false (disabled) or a mapping.
func (p *parser) falseOrMapping(cfg mapping, key, want string) (mapping, bool) {
	k, v := cfg.lookup(key)
	if v == nil {
		p.errf(cfg.where(), cfg.keyPath(key), "required: want false (disabled) or %s", want)
		return mapping{}, false
	}
	if b, ok := parseBool(v); ok && !b {
		return mapping{}, false
	}
	if v.Kind != yaml.MappingNode {
		p.errf(v, cfg.keyPath(key), "want false (disabled) or %s, got %s", want, describe(v))
		return mapping{}, false
	}
	return mapping{p: p, node: v, path: cfg.keyPath(key), key: k}, true
}

func (p *parser) oidc(cfg mapping, c *Config) {
	if cfg.node == nil {
		return
	}
	o, ok := p.falseOrMapping(cfg, "open_id_connect", "a mapping with auth_url, client_id, token_endpoint and admin_groups")
	if !ok {
		return
	}
	o.knownKeys("auth_url", "client_id", "token_endpoint", "userinfo_endpoint", "admin_groups", "scopes")
	oc := &OIDC{}
	oc.AuthURL, _ = o.str("auth_url", true)
	oc.ClientID, _ = o.str("client_id", true)
	oc.TokenEndpoint, _ = o.str("token_endpoint", true)
	oc.UserinfoEndpoint, _ = o.str("userinfo_endpoint", false)
	if oc.UserinfoEndpoint == "" {
		p.warnf(o.where(), o.keyPath("userinfo_endpoint"), "not set: logins cannot read the user's name and groups")
	}
	if !o.has("admin_groups") {
		o.require("admin_groups", "a list of group names")
	}
	oc.AdminGroups, _ = o.strings("admin_groups", false)
	oc.Scopes = append([]string(nil), DefaultOIDCScopes...)
	if s, n := o.strings("scopes", false); n != nil {
		oc.Scopes = s
	}
	c.OIDC = oc
}

func (p *parser) email(cfg mapping, c *Config) {
	if cfg.node == nil {
		return
	}
	e, ok := p.falseOrMapping(cfg, "email", "a mapping with smtp_host, smtp_port, smtp_username, from and recipients")
	if !ok {
		return
	}
	e.knownKeys("smtp_host", "smtp_port", "smtp_username", "from", "recipients")
	em := &Email{}
	em.SMTPHost, _ = e.str("smtp_host", true)
	port, n := e.integer("smtp_port", true)
	if n != nil && (port <= 0 || port > 65535) {
		p.errf(n, e.keyPath("smtp_port"), "want a TCP port (1-65535), got %d", port)
	}
	em.SMTPPort = port
	em.SMTPUsername, _ = e.str("smtp_username", true)
	em.From, _ = e.str("from", true)
	if rn := e.require("recipients", "a non-empty list of addresses"); rn != nil {
		em.Recipients, _ = e.strings("recipients", false)
		if len(em.Recipients) == 0 && rn.Kind == yaml.SequenceNode {
			p.errf(rn, e.keyPath("recipients"), "want a non-empty list of addresses")
		}
	}
	c.Email = em
}

func (p *parser) control(cfg mapping, c *Config, kojiTrigger scalarAt) {
	if cfg.node == nil {
		return
	}
	ctl, ok := cfg.child("control", "a mapping with trigger_tag and pause")
	if !ok {
		if !cfg.has("control") {
			cfg.require("control", "a mapping with trigger_tag (or koji.trigger_tag) and pause")
		}
		return
	}
	ctl.knownKeys("trigger_tag", "pause", "status_interval", "skip_tag", "exclude", "ordering")
	tag, tagNode := ctl.str("trigger_tag", false)
	switch {
	case tagNode != nil:
		c.Control.TriggerTag, c.Layout, c.TriggerTagKey = tag, LayoutSplit, ctl.keyPath("trigger_tag")
		if tag == "" {
			p.errf(tagNode, ctl.keyPath("trigger_tag"), "want a non-empty tag name (or rawhide)")
		}
		if kojiTrigger.value != "" && kojiTrigger.value != tag {
			p.warnf(kojiTrigger.node, "configuration.koji.trigger_tag", "ignored: configuration.control.trigger_tag (%s) takes precedence", tag)
		}
	case kojiTrigger.node != nil && kojiTrigger.value != "":
		c.Control.TriggerTag, c.Layout, c.TriggerTagKey = kojiTrigger.value, LayoutSingleFile, "configuration.koji.trigger_tag"
	default:
		p.errf(ctl.where(), ctl.keyPath("trigger_tag"), "required (or configuration.koji.trigger_tag in the single-file layout): want a Koji tag name or rawhide")
	}
	c.Control.Pause, _ = ctl.boolean("pause", true)
	c.Control.StatusInterval = 600 * time.Second
	if si, n := ctl.integer("status_interval", false); n != nil {
		if si <= 0 {
			p.errf(n, ctl.keyPath("status_interval"), "want a positive integer (seconds), got %d", si)
		}
		c.Control.StatusInterval = time.Duration(si) * time.Second
	}
	c.Control.SkipTag = p.patterns(ctl, "skip_tag")
	c.Control.Exclude = p.patterns(ctl, "exclude")
	c.Control.Ordering = p.ordering(ctl)
}

func (p *parser) patterns(ctl mapping, key string) []Pattern {
	list, n := ctl.strings(key, false)
	if n == nil {
		return nil
	}
	var out []Pattern
	seen := map[string]bool{}
	for i, s := range list {
		if seen[s] {
			continue // the original stores these as a set
		}
		seen[s] = true
		pat, err := CompilePattern(s)
		if err != nil {
			item := n
			if n.Kind == yaml.SequenceNode && i < len(n.Content) {
				item = n.Content[i]
			}
			p.errf(item, fmt.Sprintf("%s[%d]", ctl.keyPath(key), i), "%v", err)
			continue
		}
		out = append(out, pat)
	}
	return out
}

func (p *parser) ordering(ctl mapping) []OrderingRule {
	_, n := ctl.lookup("ordering")
	if n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.errf(n, ctl.keyPath("ordering"), "want a mapping of regex: integer, got %s", describe(n))
		return nil
	}
	var out []OrderingRule
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		path := ctl.keyPath("ordering") + "." + k.Value
		val, ok := parseInt(v)
		if !ok {
			p.errf(v, path, "want an integer ordering value (lower builds first), got %s", describe(v))
			continue
		}
		pat, err := CompilePattern(k.Value)
		if err != nil {
			p.errf(k, path, "%v", err)
			continue
		}
		out = append(out, OrderingRule{Pattern: pat, Value: val})
	}
	return out
}

func (p *parser) components(top mapping, c *Config) {
	comp, ok := top.child("components", "a mapping with autopackagelist and/or overrides")
	if !ok {
		if !top.has("components") {
			top.require("components", "a mapping with autopackagelist and/or overrides")
		}
		return
	}
	comp.knownKeys("autopackagelist", "overrides")
	if !comp.has("autopackagelist") && !comp.has("overrides") {
		p.errf(comp.where(), "components", "want at least one of autopackagelist or overrides")
	}
	if apl, ok := comp.child("autopackagelist", "a mapping with view, source and content_resolver"); ok {
		apl.knownKeys("view", "source", "content_resolver")
		a := &AutoPackageList{ContentResolver: DefaultContentResolver}
		if apl.require("view", "a string or a list of strings (e.g. [eln, eln-extras])") != nil {
			a.Views, _ = apl.strings("view", true)
		}
		if apl.require("source", "a string or a list of strings (e.g. [source, buildroot-source])") != nil {
			a.Sources, _ = apl.strings("source", true)
		}
		if s, n := apl.str("content_resolver", false); n != nil {
			if !strings.HasPrefix(s, "https://") && !strings.HasPrefix(s, "http://") {
				p.errf(n, apl.keyPath("content_resolver"), "want an http(s) URL, got %q", s)
			}
			a.ContentResolver = strings.TrimRight(s, "/")
		}
		c.Components.AutoPackageList = a
	}
	c.Components.Overrides = map[string]Override{}
	_, ov := comp.lookup("overrides")
	if ov == nil || ov.Kind == yaml.ScalarNode && ov.Tag == "!!null" {
		return
	}
	if ov.Kind != yaml.MappingNode {
		p.errf(ov, "components.overrides", "want a mapping keyed by ELN (downstream) name, got %s", describe(ov))
		return
	}
	for i := 0; i+1 < len(ov.Content); i += 2 {
		k, v := ov.Content[i], resolve(ov.Content[i+1])
		path := "components.overrides." + k.Value
		if k.Value == "" {
			p.errf(k, "components.overrides", "want a non-empty component name")
			continue
		}
		o := Override{UpstreamName: k.Value, Extra: map[string]any{}}
		if !(v.Kind == yaml.ScalarNode && v.Tag == "!!null") {
			if v.Kind != yaml.MappingNode {
				p.errf(v, path, "want a mapping (e.g. {upstream_name: <Fedora name>}), got %s", describe(v))
				continue
			}
			om := mapping{p: p, node: v, path: path, key: k}
			for j := 0; j+1 < len(v.Content); j += 2 {
				key := v.Content[j].Value
				if key == "upstream_name" {
					s, n := om.str("upstream_name", true)
					if n != nil && s != "" {
						o.UpstreamName = s
					}
					continue
				}
				var x any
				if err := v.Content[j+1].Decode(&x); err != nil {
					p.errf(v.Content[j+1], path+"."+key, "cannot decode: %v", err)
					continue
				}
				o.Extra[key] = x
			}
		}
		c.Components.Overrides[k.Value] = o
		c.Components.OverrideOrder = append(c.Components.OverrideOrder, k.Value)
	}
}
