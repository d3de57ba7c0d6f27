package oauth

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/keyway/keyway/internal/user"
)

// grantJWTBearer (RFC 7523 §2.1): the client presents an assertion it
// signed with one of its registered keys, naming the user in sub (user id
// or username). The user is not re-authenticated: registering keys with the
// server is the trust decision.
func (s *Server) grantJWTBearer(r *http.Request, c *Client, form url.Values) (*tokenResponse, *oauthError) {
	ctx := r.Context()
	assertion := form.Get("assertion")
	if assertion == "" {
		return nil, errInvalidRequest("assertion is required")
	}
	tok, err := jwt.ParseSigned(assertion, assertionAlgs)
	if err != nil {
		return nil, errInvalidGrant("assertion is not a signed JWT")
	}
	claims, oe := s.verifyClientJWT(ctx, c, tok, false)
	if oe != nil {
		return nil, oe
	}
	if claims.Subject == "" {
		return nil, errInvalidGrant("assertion has no sub")
	}
	u, err := s.cfg.Users.GetUser(ctx, claims.Subject)
	if errors.Is(err, user.ErrNotFound) {
		u, err = s.cfg.Users.GetUserByName(ctx, claims.Subject)
	}
	if errors.Is(err, user.ErrNotFound) || (err == nil && u.Locked) {
		return nil, errInvalidGrant("the assertion's subject is not a known user")
	}
	if err != nil {
		s.log.Error("load user", "err", err)
		return nil, errServer()
	}
	scopes, oe := s.grantScopes(ctx, c, u, strings.Fields(form.Get("scope")))
	if oe != nil {
		return nil, oe
	}
	return s.issueOrFail(ctx, &grant{client: c, user: u, scopes: scopes, authTime: nowMS(),
		idToken: slices.Contains(scopes, "openid")})
}
