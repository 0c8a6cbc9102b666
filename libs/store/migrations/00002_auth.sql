-- +goose Up
-- OIDC sessions. The id handed to the browser (cookie) or CLI (bearer) is 256
-- random bits; only its SHA-256 is stored, so a database dump holds no
-- usable credential.
CREATE TABLE sessions (
    id_hash    text PRIMARY KEY,
    username   text NOT NULL,
    groups     text[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Login attempts between /login and /oidc/callback: state, PKCE verifier and
-- nonce, kept in the database so any replica can finish the login.
CREATE TABLE login_states (
    state         text PRIMARY KEY,
    code_verifier text NOT NULL,
    nonce         text NOT NULL,
    return_to     text NOT NULL DEFAULT '/status.html',
    redirect_uri  text NOT NULL,
    expires_at    timestamptz NOT NULL
);

-- Failure mails sent, one per batch, so a redelivered ebs.batch.completed
-- does not mail twice.
CREATE TABLE mails_sent (
    batch_id   text PRIMARY KEY,
    recipients text[] NOT NULL DEFAULT '{}',
    packages   text[] NOT NULL DEFAULT '{}',
    sent_at    timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE mails_sent;
DROP TABLE login_states;
DROP TABLE sessions;
