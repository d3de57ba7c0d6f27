package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/keyway/keyway/internal/db"
)

// revokeAccessWhere marks the live access tokens matching cond revoked and
// tells the listener about each after the commit. known maps a storage key
// to the token string when the caller named the token (opaque tokens are
// then reported by value, as IS does).
func (s *Server) revokeAccessWhere(ctx context.Context, tx *db.Tx, cond string, args []any, kind RevocationKind, known map[string]string) ([]RevokedAccessToken, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+accessCols+` FROM oauth_access_tokens WHERE revoked = 0 AND `+cond, args...)
	if err != nil {
		return nil, err
	}
	var out []RevokedAccessToken
	for rows.Next() {
		r, err := scanAccess(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		id := r.Key
		if t, ok := known[r.Key]; ok && r.Format == formatOpaque {
			id = t
		}
		out = append(out, RevokedAccessToken{Kind: kind, Identifier: id, TokenType: r.Format, ClientID: r.ClientID,
			Username: r.Username, IssuedAt: time.UnixMilli(r.IssuedAt), ExpiresAt: time.UnixMilli(r.ExpiresAt)})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE oauth_access_tokens SET revoked = 1 WHERE revoked = 0 AND `+cond, args...); err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Server) notify(ctx context.Context, revoked []RevokedAccessToken) {
	if s.cfg.Listener == nil {
		return
	}
	for _, r := range revoked {
		s.cfg.Listener.AccessTokenRevoked(ctx, r)
	}
}

// revokeFamily revokes a whole refresh-token family: every refresh token
// of the chain and every access token issued from it.
func (s *Server) revokeFamily(ctx context.Context, family string, kind RevocationKind) error {
	if family == "" {
		return nil
	}
	var revoked []RevokedAccessToken
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE oauth_refresh_tokens SET state = ? WHERE family = ?`, refreshRevoked, family); err != nil {
			return err
		}
		var err error
		revoked, err = s.revokeAccessWhere(ctx, tx, `family = ?`, []any{family}, kind, nil)
		return err
	})
	if err != nil {
		return fmt.Errorf("oauth: revoke token family: %w", err)
	}
	s.notify(ctx, revoked)
	return nil
}

// RevokeClientTokens revokes every token, code and device code of a client
// (application deleted, secret changed).
func (s *Server) RevokeClientTokens(ctx context.Context, clientID string, kind RevocationKind) error {
	return s.revokeBy(ctx, "client_id", clientID, kind)
}

// RevokeUserTokens revokes every token of a user and ends their SSO sessions
// (user deleted, locked or password changed).
func (s *Server) RevokeUserTokens(ctx context.Context, userID string, kind RevocationKind) error {
	if err := s.revokeBy(ctx, "user_id", userID, kind); err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM oauth_sessions WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("oauth: end sessions of user %s: %w", userID, err)
	}
	return nil
}

func (s *Server) revokeBy(ctx context.Context, col, v string, kind RevocationKind) error {
	var revoked []RevokedAccessToken
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE oauth_refresh_tokens SET state = ? WHERE `+col+` = ?`, refreshRevoked, v); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE oauth_codes SET used = 1 WHERE `+col+` = ?`, v); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM oauth_device_codes WHERE `+col+` = ?`, v); err != nil {
			return err
		}
		var err error
		revoked, err = s.revokeAccessWhere(ctx, tx, col+` = ?`, []any{v}, kind, nil)
		return err
	})
	if err != nil {
		return fmt.Errorf("oauth: revoke tokens by %s: %w", col, err)
	}
	s.notify(ctx, revoked)
	return nil
}

// handleRevoke is RFC 7009 /oauth2/revoke: client authentication is
// required, a client may revoke only its own tokens, and the answer is 200
// whether or not the token was known.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeOAuthError(w, &oauthError{Code: "invalid_request", Description: "use POST", status: http.StatusMethodNotAllowed})
		return
	}
	form, oe := parseForm(r)
	if oe != nil {
		writeOAuthError(w, oe)
		return
	}
	c, oe := s.authenticateClient(r, form)
	if oe != nil {
		writeOAuthError(w, oe)
		return
	}
	token := form.Get("token")
	if token == "" {
		writeOAuthError(w, errInvalidRequest("token is required"))
		return
	}
	hint := form.Get("token_type_hint")
	if hint != "" && hint != "access_token" && hint != "refresh_token" {
		writeOAuthError(w, &oauthError{Code: "unsupported_token_type", Description: "token_type_hint must be access_token or refresh_token", status: http.StatusBadRequest})
		return
	}
	ctx := r.Context()
	var err error
	if hint == "refresh_token" {
		var done bool
		if done, err = s.revokeRefresh(ctx, c, token); err == nil && !done {
			_, err = s.revokeAccess(ctx, c, token)
		}
	} else {
		var done bool
		if done, err = s.revokeAccess(ctx, c, token); err == nil && !done {
			_, err = s.revokeRefresh(ctx, c, token)
		}
	}
	if err != nil {
		s.log.Error("revoke token", "client_id", c.ID, "err", err)
		writeOAuthError(w, errServer())
		return
	}
	noStore(w.Header())
	w.WriteHeader(http.StatusOK)
}

// revokeAccess revokes one access token of client c; done reports that the
// token was found (revoked now or before).
func (s *Server) revokeAccess(ctx context.Context, c *Client, token string) (bool, error) {
	key, _, err := s.accessKeyOf(ctx, token)
	if errors.Is(err, ErrInvalidToken) {
		return false, nil
	}
	rec, err := s.loadAccess(ctx, key)
	if errors.Is(err, ErrInvalidToken) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if rec.ClientID != c.ID {
		// RFC 7009 §2.1: not this client's token; say nothing.
		return true, nil
	}
	var revoked []RevokedAccessToken
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		var err error
		revoked, err = s.revokeAccessWhere(ctx, tx, `k = ?`, []any{key}, RevokedByClient, map[string]string{key: token})
		return err
	})
	if err != nil {
		return true, fmt.Errorf("oauth: revoke access token: %w", err)
	}
	s.notify(ctx, revoked)
	return true, nil
}

func (s *Server) revokeRefresh(ctx context.Context, c *Client, token string) (bool, error) {
	rec, err := s.loadRefresh(ctx, token)
	if errors.Is(err, ErrInvalidToken) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if rec.ClientID != c.ID {
		return true, nil
	}
	return true, s.revokeFamily(ctx, rec.Family, RevokedByClient)
}
