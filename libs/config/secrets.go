package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Environment variables that carry secrets. Each value secret X may be given
// inline as X or, preferably, as a file path in X_FILE (a mounted Kubernetes
// secret); the file's first line is the secret. Setting both is an error.
// Koji credentials are files by nature: their variables hold paths.
const (
	EnvDBPassword        = "EBS_DB_PASSWORD"
	EnvSMTPPassword      = "EBS_SMTP_PASSWORD"
	EnvOIDCClientSecret  = "EBS_OIDC_CLIENT_SECRET"
	EnvBodhiClientSecret = "EBS_BODHI_CLIENT_SECRET"
	EnvKojiKeytab        = "EBS_KOJI_KEYTAB"    // Kerberos keytab path (GSSAPI login)
	EnvKojiPrincipal     = "EBS_KOJI_PRINCIPAL" // principal for the keytab (not secret, kept together)
	EnvKojiCert          = "EBS_KOJI_CERT"      // client certificate PEM path (SSL login)
	EnvKojiKey           = "EBS_KOJI_KEY"       // its private key path, when not in the cert file
	EnvKojiCA            = "EBS_KOJI_CA"        // CA bundle path for the hub
)

// Secrets are the credentials ebs never reads from the YAML.
type Secrets struct {
	DBPassword        string
	SMTPPassword      string
	OIDCClientSecret  string
	BodhiClientSecret string
	// Koji credentials are paths to files that exist (checked on load).
	KojiKeytab    string
	KojiPrincipal string
	KojiCert      string
	KojiKey       string
	KojiCA        string
}

// String never prints a secret.
func (s Secrets) String() string {
	set := func(v string) string {
		if v == "" {
			return "unset"
		}
		return "set"
	}
	return fmt.Sprintf("Secrets{db_password:%s smtp_password:%s oidc_client_secret:%s bodhi_client_secret:%s koji_keytab:%q koji_cert:%q koji_key:%q koji_ca:%q}",
		set(s.DBPassword), set(s.SMTPPassword), set(s.OIDCClientSecret), set(s.BodhiClientSecret), s.KojiKeytab, s.KojiCert, s.KojiKey, s.KojiCA)
}

// GoString never prints a secret either (%#v).
func (s Secrets) GoString() string { return s.String() }

// SecretsFromEnv reads Secrets from the process environment.
func SecretsFromEnv() (Secrets, error) { return LoadSecrets(os.LookupEnv) }

// LoadSecrets reads Secrets through lookup (os.LookupEnv in production).
func LoadSecrets(lookup func(string) (string, bool)) (Secrets, error) {
	var s Secrets
	var errs []error
	value := func(env string, dst *string) {
		v, inline := lookup(env)
		path, fromFile := lookup(env + "_FILE")
		switch {
		case inline && fromFile && v != "" && path != "":
			errs = append(errs, fmt.Errorf("config: both %s and %s_FILE are set; give the secret once", env, env))
		case fromFile && path != "":
			line, err := ReadSecretFile(path)
			if err != nil {
				errs = append(errs, fmt.Errorf("config: %s_FILE: %w", env, err))
				return
			}
			*dst = line
		case inline:
			*dst = v
		}
	}
	file := func(env string, dst *string) {
		path, ok := lookup(env)
		if !ok || path == "" {
			return
		}
		f, err := os.Open(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("config: %s: %w", env, err))
			return
		}
		_ = f.Close()
		*dst = path
	}
	value(EnvDBPassword, &s.DBPassword)
	value(EnvSMTPPassword, &s.SMTPPassword)
	value(EnvOIDCClientSecret, &s.OIDCClientSecret)
	value(EnvBodhiClientSecret, &s.BodhiClientSecret)
	file(EnvKojiKeytab, &s.KojiKeytab)
	file(EnvKojiCert, &s.KojiCert)
	file(EnvKojiKey, &s.KojiKey)
	file(EnvKojiCA, &s.KojiCA)
	if v, ok := lookup(EnvKojiPrincipal); ok {
		s.KojiPrincipal = v
	}
	if s.KojiKey != "" && s.KojiCert == "" {
		errs = append(errs, fmt.Errorf("config: %s is set without %s", EnvKojiKey, EnvKojiCert))
	}
	return s, errors.Join(errs...)
}

// ReadSecretFile reads a secret from a file the way every X_FILE variable
// is read: the first line, without its line ending. An empty first line is
// an error, so a mounted but empty secret is noticed at start-up.
func ReadSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimRight(line, "\r")
	if line == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return line, nil
}

// Require checks that the secrets a configuration needs are present:
// the OIDC client secret when open_id_connect is enabled. (The SMTP login is
// optional, as in the original: without a password mail is sent unauthenticated.)
func (s Secrets) Require(c *Config) error {
	if c.OIDC != nil && s.OIDCClientSecret == "" {
		return fmt.Errorf("config %s: open_id_connect is enabled but no client secret was given (%s_FILE or %s)", c.Source, EnvOIDCClientSecret, EnvOIDCClientSecret)
	}
	return nil
}

// KojiPrincipalFor returns the Kerberos principal for a keytab login:
// EBS_KOJI_PRINCIPAL, else koji.username@FEDORAPROJECT.ORG
// (@STG.FEDORAPROJECT.ORG for the stg profile), as the original guessed it.
func (s Secrets) KojiPrincipalFor(k Koji) string {
	if s.KojiPrincipal != "" {
		return s.KojiPrincipal
	}
	if k.Username == "" {
		return ""
	}
	if k.Profile == "stg" {
		return k.Username + "@STG.FEDORAPROJECT.ORG"
	}
	return k.Username + "@FEDORAPROJECT.ORG"
}
