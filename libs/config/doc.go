// Package config owns ebs's configuration: the original ELNBuildSync YAML
// schema, read unchanged in both of its layouts — the single-file production
// "distrobaker.yaml" (trigger tag in configuration.koji.trigger_tag) and the
// split static + dynamic files (configuration.control.trigger_tag) — with
// every default and validation rule of the original, compiled patterns for
// exclude / skip_tag / ordering with Python re.search semantics (Python
// regexes RE2 cannot express, and POSIX classes such as [[:digit:]] that
// the two read differently, are rejected at load; \d, \w and \s are ASCII in
// RE2, Unicode in Python, which changes nothing for package names; see
// CompilePattern), and the typed Config every service reads.
//
// Errors name the document, the key path, the line and what was expected
// (Error, Errors). Secrets never come from the YAML: Secrets reads them from
// the environment or from files (EBS_DB_PASSWORD[_FILE], ...), and a secret
// key in the YAML is an error.
//
// Sources (ParseSource, the value of --config / EBS_CONFIG): a file, an
// https:// URL, or git+<repository>#<ref>:<path> (a fresh shallow clone with
// git on every fetch, 3 attempts with backoff); comma-separated sources are
// layers merged in order. Load is the start-up check every service runs; a
// Watcher keeps the configuration current (every 15 min by default) and
// swaps in a candidate only when it is valid as a whole, reporting a rejected
// one by log, metric and a ConfigEvent on ebs.config.rejected.
//
// Timers and Defaults give the original's fixed intervals and the schema's
// defaults without any file.
package config
