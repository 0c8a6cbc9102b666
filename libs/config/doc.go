// Package config owns ebs's configuration: the original ELNBuildSync YAML
// schema (single-file "distrobaker.yaml" layout with configuration.koji.trigger_tag,
// and the split static + dynamic layout with control.trigger_tag), its
// defaults and validation, compiled patterns for exclude / skip_tag /
// ordering with Python re.search semantics, and the typed Config every
// service reads.
//
// Status: the types, parsing of both layouts, defaults and the pattern
// matchers are here; sources (HTTPS, git), refresh, and the complete
// validation rules land with the intake issue.
package config
