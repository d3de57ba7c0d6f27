package oauth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/user"
)

var errRefreshRace = errors.New("refresh token already rotated")

// grantRefreshToken rotates the refresh token. Presenting a token that was
// already rotated is treated as theft (RFC 9700 §4.14.2): the whole family
// is revoked. The previous access token is revoked and reported as renewed.
func (s *Server) grantRefreshToken(r *http.Request, c *Client, form url.Values) (*tokenResponse, *oauthError) {
	ctx := r.Context()
	token := form.Get("refresh_token")
	if token == "" {
		return nil, errInvalidRequest("refresh_token is required")
	}
	rec, err := s.loadRefresh(ctx, token)
	if errors.Is(err, ErrInvalidToken) {
		return nil, errInvalidGrant("refresh token is not valid")
	}
	if err != nil {
		s.log.Error("load refresh token", "err", err)
		return nil, errServer()
	}
	if rec.ClientID != c.ID {
		return nil, errInvalidGrant("refresh token was issued to another client")
	}
	switch {
	case rec.State == refreshRotated:
		s.reuseDetected(ctx, rec.Family)
		return nil, errInvalidGrant("refresh token was already used")
	case rec.State != refreshActive:
		return nil, errInvalidGrant("refresh token is revoked")
	case rec.ExpiresAt <= nowMS():
		return nil, errInvalidGrant("refresh token has expired")
	}
	original := splitScope(rec.Scope)
	requested := original
	if sc := form.Get("scope"); sc != "" {
		requested = strings.Fields(sc)
		for _, x := range requested {
			if !slices.Contains(original, x) {
				return nil, &oauthError{Code: "invalid_scope", Description: "scope " + x + " exceeds the original grant", status: http.StatusBadRequest}
			}
		}
	}
	u, err := s.cfg.Users.GetUser(ctx, rec.UserID)
	if errors.Is(err, user.ErrNotFound) {
		return nil, errInvalidGrant("the user no longer exists")
	}
	if err != nil {
		s.log.Error("load user", "err", err)
		return nil, errServer()
	}
	if u.Locked {
		return nil, errInvalidGrant("the account is locked")
	}
	scopes, oe := s.grantScopes(ctx, c, u, requested)
	if oe != nil {
		return nil, oe
	}
	g := &grant{client: c, user: u, scopes: scopes, family: rec.Family, authTime: rec.AuthTime,
		sid: rec.Sid, refresh: true, idToken: slices.Contains(scopes, "openid")}
	var renewed []RevokedAccessToken
	resp, err := s.issue(ctx, g, func(ctx context.Context, tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE oauth_refresh_tokens SET state = ? WHERE k = ? AND state = ?`, refreshRotated, rec.Key, refreshActive)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errRefreshRace
		}
		renewed, err = s.revokeAccessWhere(ctx, tx, `k = ?`, []any{rec.AccessKey}, RevokedByRenew, nil)
		return err
	})
	if errors.Is(err, errRefreshRace) {
		s.reuseDetected(ctx, rec.Family)
		return nil, errInvalidGrant("refresh token was already used")
	}
	if err != nil {
		s.log.Error("refresh token", "client_id", c.ID, "err", err)
		return nil, errServer()
	}
	s.notify(ctx, renewed)
	return resp, nil
}

func (s *Server) reuseDetected(ctx context.Context, family string) {
	s.log.Warn("refresh token reuse detected; revoking the token family")
	if err := s.revokeFamily(ctx, family, RevokedBySystem); err != nil {
		s.log.Error("revoke token family", "err", err)
	}
}
