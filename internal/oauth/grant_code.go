package oauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/keyway/keyway/internal/user"
)

var errNoRows = sql.ErrNoRows

type codeRecord struct {
	ClientID, UserID, RedirectURI, Scope, Challenge, Method, Nonce, Sid, Family string
	AuthTime, Exp                                                               int64
	Used                                                                        bool
}

// grantAuthorizationCode redeems a code once. A second redemption revokes
// every token issued from the code (RFC 6749 §4.1.2). The code is consumed
// before the checks, so a failed attempt (wrong verifier) burns it too.
func (s *Server) grantAuthorizationCode(r *http.Request, c *Client, form url.Values) (*tokenResponse, *oauthError) {
	ctx := r.Context()
	code := form.Get("code")
	if code == "" {
		return nil, errInvalidRequest("code is required")
	}
	k := hashToken(code)
	var rec codeRecord
	var used int
	err := s.db.QueryRowContext(ctx, `SELECT client_id, user_id, redirect_uri, scope, challenge, method, nonce, sid, family, auth_time, exp, used FROM oauth_codes WHERE k = ?`, k).
		Scan(&rec.ClientID, &rec.UserID, &rec.RedirectURI, &rec.Scope, &rec.Challenge, &rec.Method, &rec.Nonce, &rec.Sid, &rec.Family, &rec.AuthTime, &rec.Exp, &used)
	if errors.Is(err, errNoRows) {
		return nil, errInvalidGrant("authorization code is not valid")
	}
	if err != nil {
		s.log.Error("load code", "err", err)
		return nil, errServer()
	}
	if rec.ClientID != c.ID {
		return nil, errInvalidGrant("authorization code was issued to another client")
	}
	res, err := s.db.ExecContext(ctx, `UPDATE oauth_codes SET used = 1 WHERE k = ? AND used = 0`, k)
	if err != nil {
		s.log.Error("consume code", "err", err)
		return nil, errServer()
	}
	if n, _ := res.RowsAffected(); n != 1 {
		s.log.Warn("authorization code replayed; revoking the tokens issued from it", "client_id", c.ID)
		if err := s.revokeFamily(ctx, rec.Family, RevokedBySystem); err != nil {
			s.log.Error("revoke code tokens", "err", err)
		}
		return nil, errInvalidGrant("authorization code was already used")
	}
	if rec.Exp <= nowMS() {
		return nil, errInvalidGrant("authorization code has expired")
	}
	if rec.RedirectURI != "" && form.Get("redirect_uri") != rec.RedirectURI {
		return nil, errInvalidGrant("redirect_uri does not match the authorization request")
	}
	verifier := form.Get("code_verifier")
	if rec.Challenge == "" {
		if verifier != "" {
			return nil, errInvalidGrant("code_verifier sent but no code_challenge was")
		}
	} else if !pkceValid(rec.Challenge, rec.Method, verifier) {
		return nil, errInvalidGrant("PKCE verification failed")
	}
	u, err := s.cfg.Users.GetUser(ctx, rec.UserID)
	if errors.Is(err, user.ErrNotFound) || (err == nil && u.Locked) {
		return nil, errInvalidGrant("the user cannot sign in")
	}
	if err != nil {
		s.log.Error("load user", "err", err)
		return nil, errServer()
	}
	scopes := splitScope(rec.Scope)
	g := &grant{client: c, user: u, scopes: scopes, family: rec.Family, authTime: rec.AuthTime,
		nonce: rec.Nonce, sid: rec.Sid, refresh: c.allowsGrant(grantRefresh), idToken: slices.Contains(scopes, "openid")}
	return s.issueOrFail(ctx, g)
}

// pkceValid checks an RFC 7636 verifier (43-128 unreserved characters).
func pkceValid(challenge, method, verifier string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	for i := 0; i < len(verifier); i++ {
		ch := verifier[i]
		if !(ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
			return false
		}
	}
	want := verifier
	if method == "S256" {
		sum := sha256.Sum256([]byte(verifier))
		want = b64.EncodeToString(sum[:])
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(challenge)) == 1
}
