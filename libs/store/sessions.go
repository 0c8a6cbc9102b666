package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fedora-eln/ebs/libs/auth"
)

// Store implements auth.SessionStore.
var _ auth.SessionStore = (*Store)(nil)

// CreateSession stores a session under the hash of its id.
func (s *Store) CreateSession(ctx context.Context, sess auth.Session) error {
	groups := sess.Groups
	if groups == nil {
		groups = []string{}
	}
	_, err := s.Pool.Exec(ctx, `INSERT INTO sessions (id_hash, username, groups, created_at, expires_at)
		VALUES ($1,$2,$3,$4,$5)`, auth.IDHash(sess.ID), sess.Username, groups, sess.CreatedAt, sess.ExpiresAt)
	if err != nil {
		return fmt.Errorf("store: create session: %w", err)
	}
	return nil
}

// GetSession returns a live session; an expired one is deleted when seen.
func (s *Store) GetSession(ctx context.Context, id string) (auth.Session, error) {
	var sess auth.Session
	err := s.Pool.QueryRow(ctx, `SELECT username, groups, created_at, expires_at FROM sessions WHERE id_hash = $1`,
		auth.IDHash(id)).Scan(&sess.Username, &sess.Groups, &sess.CreatedAt, &sess.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return auth.Session{}, auth.ErrNoSession
	}
	if err != nil {
		return auth.Session{}, fmt.Errorf("store: session: %w", err)
	}
	if !time.Now().Before(sess.ExpiresAt) {
		_ = s.DeleteSession(ctx, id)
		return auth.Session{}, auth.ErrNoSession
	}
	sess.ID = id
	return sess, nil
}

// DeleteSession removes a session (no error when absent).
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	if _, err := s.Pool.Exec(ctx, `DELETE FROM sessions WHERE id_hash = $1`, auth.IDHash(id)); err != nil {
		return fmt.Errorf("store: delete session: %w", err)
	}
	return nil
}

// SaveLoginState stores a login in flight (and purges expired ones).
func (s *Store) SaveLoginState(ctx context.Context, l auth.LoginState) error {
	if _, err := s.Pool.Exec(ctx, `DELETE FROM login_states WHERE expires_at < now()`); err != nil {
		return fmt.Errorf("store: purge login states: %w", err)
	}
	_, err := s.Pool.Exec(ctx, `INSERT INTO login_states (state, code_verifier, nonce, return_to, redirect_uri, expires_at)
		VALUES ($1,$2,$3,$4,$5,$6)`, l.State, l.CodeVerifier, l.Nonce, l.ReturnTo, l.RedirectURI, l.ExpiresAt)
	if err != nil {
		return fmt.Errorf("store: save login state: %w", err)
	}
	return nil
}

// TakeLoginState returns and deletes a live login state.
func (s *Store) TakeLoginState(ctx context.Context, state string) (auth.LoginState, error) {
	l := auth.LoginState{State: state}
	err := s.Pool.QueryRow(ctx, `DELETE FROM login_states WHERE state = $1
		RETURNING code_verifier, nonce, return_to, redirect_uri, expires_at`, state).
		Scan(&l.CodeVerifier, &l.Nonce, &l.ReturnTo, &l.RedirectURI, &l.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return auth.LoginState{}, auth.ErrNoSession
	}
	if err != nil {
		return auth.LoginState{}, fmt.Errorf("store: take login state: %w", err)
	}
	if !time.Now().Before(l.ExpiresAt) {
		return auth.LoginState{}, auth.ErrNoSession
	}
	return l, nil
}

// PurgeExpired deletes expired sessions and login states.
func (s *Store) PurgeExpired(ctx context.Context) (int64, error) {
	t1, err := s.Pool.Exec(ctx, `DELETE FROM sessions WHERE expires_at < now()`)
	if err != nil {
		return 0, fmt.Errorf("store: purge sessions: %w", err)
	}
	t2, err := s.Pool.Exec(ctx, `DELETE FROM login_states WHERE expires_at < now()`)
	if err != nil {
		return 0, fmt.Errorf("store: purge login states: %w", err)
	}
	return t1.RowsAffected() + t2.RowsAffected(), nil
}

// MailSent reports whether the failure mail of a batch was sent.
func (s *Store) MailSent(ctx context.Context, batchID string) (bool, error) {
	var ok bool
	err := s.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM mails_sent WHERE batch_id = $1)`, batchID).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("store: mail sent: %w", err)
	}
	return ok, nil
}

// RecordMail records that the failure mail of a batch was sent.
func (s *Store) RecordMail(ctx context.Context, batchID string, recipients, packages []string) error {
	_, err := s.Pool.Exec(ctx, `INSERT INTO mails_sent (batch_id, recipients, packages) VALUES ($1,$2,$3)
		ON CONFLICT DO NOTHING`, batchID, nonNil(recipients), nonNil(packages))
	if err != nil {
		return fmt.Errorf("store: record mail: %w", err)
	}
	return nil
}
