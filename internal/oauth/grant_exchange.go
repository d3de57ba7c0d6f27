package oauth

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/keyway/keyway/internal/user"
)

// RFC 8693 token type identifiers.
const (
	tokenTypeJWT     = "urn:ietf:params:oauth:token-type:jwt"
	tokenTypeAccess  = "urn:ietf:params:oauth:token-type:access_token"
	tokenTypeIDToken = "urn:ietf:params:oauth:token-type:id_token"
)

// grantTokenExchange (RFC 8693) swaps a JWT this server issued (an access
// token or an ID token of a user) for an access token of the calling
// client. Requested scopes are authorized afresh for the user; without a
// scope parameter the subject token's scopes are requested.
func (s *Server) grantTokenExchange(r *http.Request, c *Client, form url.Values) (*tokenResponse, *oauthError) {
	ctx := r.Context()
	subject, stype := form.Get("subject_token"), form.Get("subject_token_type")
	if subject == "" || stype == "" {
		return nil, errInvalidRequest("subject_token and subject_token_type are required")
	}
	if stype != tokenTypeJWT && stype != tokenTypeAccess && stype != tokenTypeIDToken {
		return nil, errInvalidRequest("subject_token_type " + stype + " is not supported")
	}
	if rt := form.Get("requested_token_type"); rt != "" && rt != tokenTypeAccess && rt != tokenTypeJWT {
		return nil, errInvalidRequest("requested_token_type " + rt + " is not supported")
	}
	hdr, payload, err := s.verifyOwnJWT(ctx, subject)
	if err != nil {
		return nil, errInvalidGrant("subject_token is not a JWT issued by this server")
	}
	var claims struct {
		Iss   string `json:"iss"`
		Sub   string `json:"sub"`
		Exp   int64  `json:"exp"`
		Aut   string `json:"aut"`
		Scope string `json:"scope"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.Iss != s.cfg.Issuer || claims.Sub == "" {
		return nil, errInvalidGrant("subject_token claims are not valid")
	}
	if claims.Exp*1000 <= nowMS() {
		return nil, errInvalidGrant("subject_token has expired")
	}
	if hdr.Typ == "at+jwt" {
		if _, err := s.activeAccess(ctx, subject); err != nil {
			return nil, errInvalidGrant("subject_token is revoked or expired")
		}
		if claims.Aut == autApp {
			return nil, errInvalidGrant("subject_token must represent a user")
		}
	}
	u, err := s.cfg.Users.GetUser(ctx, claims.Sub)
	if errors.Is(err, user.ErrNotFound) || (err == nil && u.Locked) {
		return nil, errInvalidGrant("the subject user cannot be found")
	}
	if err != nil {
		s.log.Error("load user", "err", err)
		return nil, errServer()
	}
	requested := strings.Fields(form.Get("scope"))
	if len(requested) == 0 {
		requested = strings.Fields(claims.Scope)
	}
	scopes, oe := s.grantScopes(ctx, c, u, requested)
	if oe != nil {
		return nil, oe
	}
	// The exchanged token carries no ID token and no refresh token.
	scopes = slices.DeleteFunc(scopes, func(x string) bool { return x == "openid" })
	return s.issueOrFail(ctx, &grant{client: c, user: u, scopes: scopes, authTime: nowMS(), issuedTokenType: tokenTypeAccess})
}
