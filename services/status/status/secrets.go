package status

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/fedora-eln/ebs/libs/config"
)

// envDatabasePasswordFileOld is the name the first Helm chart gave the
// database password file; EBS_DB_PASSWORD_FILE (config.EnvDBPassword) is the
// one every service reads.
const envDatabasePasswordFileOld = "EBS_DATABASE_PASSWORD_FILE"

// secrets are the credentials status uses. They come from the environment
// or files as libs/config.Secrets reads them (EBS_OIDC_CLIENT_SECRET[_FILE],
// EBS_SMTP_PASSWORD[_FILE], EBS_DB_PASSWORD[_FILE]), never from the YAML or
// the command line; a file named in Config (the --*-file flags, whose
// environment variables are the same _FILE names) is read the same way.
type secrets struct {
	oidcClientSecret string
	smtpPassword     string
	dbPassword       string
}

func loadSecrets(cfg Config, lookup func(string) (string, bool), log *slog.Logger) (secrets, error) {
	sec, err := config.LoadSecrets(lookup)
	if err != nil {
		return secrets{}, fmt.Errorf("status: secrets: %w", err)
	}
	out := secrets{oidcClientSecret: sec.OIDCClientSecret, smtpPassword: sec.SMTPPassword, dbPassword: sec.DBPassword}
	for _, f := range []struct {
		path, what string
		dst        *string
	}{
		{cfg.OIDCClientSecretFile, "OIDC client secret", &out.oidcClientSecret},
		{cfg.SMTPPasswordFile, "SMTP password", &out.smtpPassword},
	} {
		if f.path == "" {
			continue
		}
		if *f.dst, err = config.ReadSecretFile(f.path); err != nil {
			return secrets{}, fmt.Errorf("status: %s: %w", f.what, err)
		}
	}
	if path, ok := lookup(envDatabasePasswordFileOld); ok && path != "" {
		if out.dbPassword != "" {
			return secrets{}, fmt.Errorf("status: both %s and %s_FILE/%s are set; give the database password once",
				envDatabasePasswordFileOld, config.EnvDBPassword, config.EnvDBPassword)
		}
		log.Warn("deprecated environment variable: use "+config.EnvDBPassword+"_FILE", "variable", envDatabasePasswordFileOld)
		if out.dbPassword, err = config.ReadSecretFile(path); err != nil {
			return secrets{}, fmt.Errorf("status: %s: %w", envDatabasePasswordFileOld, err)
		}
	}
	return out, nil
}

// requireFor checks what the configuration needs: with open_id_connect on,
// a client secret (logins would otherwise fail at the token endpoint).
func (s secrets) requireFor(c *config.Config) error {
	if c != nil && c.OIDC != nil && s.oidcClientSecret == "" {
		return errors.New("status: open_id_connect is enabled but no client secret was given " +
			"(" + config.EnvOIDCClientSecret + "_FILE, " + config.EnvOIDCClientSecret + " or --oidc-client-secret-file)")
	}
	return nil
}

// withDBPassword puts password into a postgres:// URL that has none.
func withDBPassword(dbURL, password string) (string, error) {
	if password == "" {
		return dbURL, nil
	}
	u, err := url.Parse(dbURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("status: %s needs a postgres:// database URL, not %q", config.EnvDBPassword, redactDSN(dbURL))
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			return "", fmt.Errorf("status: the database URL has a password and %s is set; give it once", config.EnvDBPassword)
		}
	}
	name := ""
	if u.User != nil {
		name = u.User.Username()
	}
	u.User = url.UserPassword(name, password)
	return u.String(), nil
}

// redactDSN shortens a connection string that is not a URL for an error
// message: it may hold a password.
func redactDSN(dsn string) string {
	if strings.Contains(dsn, "password") {
		return "(a key=value connection string)"
	}
	return dsn
}
