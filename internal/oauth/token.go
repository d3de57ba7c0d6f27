package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/keyway/keyway/internal/user"
)

// Grant type identifiers.
const (
	grantClientCredentials = "client_credentials"
	grantPassword          = "password"
	grantRefresh           = "refresh_token"
	grantCode              = "authorization_code"
	grantTokenExchange     = "urn:ietf:params:oauth:grant-type:token-exchange"
	grantJWTBearer         = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	grantDeviceCode        = "urn:ietf:params:oauth:grant-type:device_code"
)

var supportedGrants = []string{grantCode, grantClientCredentials, grantPassword, grantRefresh,
	grantTokenExchange, grantJWTBearer, grantDeviceCode}

type grantHandler func(s *Server, r *http.Request, c *Client, form url.Values) (*tokenResponse, *oauthError)

var grantHandlers = map[string]grantHandler{
	grantClientCredentials: (*Server).grantClientCredentials,
	grantPassword:          (*Server).grantPassword,
	grantRefresh:           (*Server).grantRefreshToken,
	grantCode:              (*Server).grantAuthorizationCode,
	grantTokenExchange:     (*Server).grantTokenExchange,
	grantJWTBearer:         (*Server).grantJWTBearer,
	grantDeviceCode:        (*Server).grantDeviceCode,
}

// parseForm reads an application/x-www-form-urlencoded body (charset
// parameter allowed) and rejects repeated parameters (RFC 6749 §3.1/§3.2).
func parseForm(r *http.Request) (url.Values, *oauthError) {
	if r.Method == http.MethodPost {
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "application/x-www-form-urlencoded" {
			return nil, errInvalidRequest("the request body must be application/x-www-form-urlencoded")
		}
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return nil, errInvalidRequest("the request body cannot be parsed")
	}
	form := r.PostForm
	if r.Method != http.MethodPost {
		form = r.Form
	}
	for k, v := range form {
		if len(v) > 1 {
			return nil, errInvalidRequest("parameter " + k + " is repeated")
		}
	}
	return form, nil
}

// handleToken is POST /oauth2/token.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
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
	gt := form.Get("grant_type")
	if gt == "" {
		writeOAuthError(w, errInvalidRequest("grant_type is required"))
		return
	}
	h, ok := grantHandlers[gt]
	if !ok {
		writeOAuthError(w, &oauthError{Code: "unsupported_grant_type", Description: "grant type " + gt + " is not supported", status: http.StatusBadRequest})
		return
	}
	c, oe := s.authenticateClient(r, form)
	if oe != nil {
		writeOAuthError(w, oe)
		return
	}
	if !c.allowsGrant(gt) {
		writeOAuthError(w, errUnauthorizedClient("the client is not allowed to use grant type "+gt))
		return
	}
	resp, oe := h(s, r, c, form)
	if oe != nil {
		writeOAuthError(w, oe)
		return
	}
	raw, err := json.Marshal(resp)
	if err != nil {
		writeOAuthError(w, errServer())
		return
	}
	writeOAuthJSON(w, http.StatusOK, raw)
}

// issueOrFail wraps issue with the token endpoint's error shape.
func (s *Server) issueOrFail(ctx context.Context, g *grant) (*tokenResponse, *oauthError) {
	resp, err := s.issue(ctx, g, nil)
	if err != nil {
		s.log.Error("issue token", "client_id", g.client.ID, "err", err)
		return nil, errServer()
	}
	return resp, nil
}

// grantScopes asks the ScopeAuthorizer which requested scopes the grant
// receives. openid is the engine's own: kept for user grants only. Unknown
// scopes are dropped silently.
func (s *Server) grantScopes(ctx context.Context, c *Client, u *user.User, requested []string) ([]string, *oauthError) {
	openid := false
	rest := make([]string, 0, len(requested))
	for _, sc := range requested {
		switch {
		case sc == "openid":
			openid = true
		case !slices.Contains(rest, sc):
			rest = append(rest, sc)
		}
	}
	var granted []string
	if s.cfg.Scopes != nil && len(rest) > 0 {
		got, err := s.cfg.Scopes.AuthorizeScopes(ctx, c, u, rest)
		if err != nil {
			s.log.Error("authorize scopes", "client_id", c.ID, "err", err)
			return nil, errServer()
		}
		for _, sc := range got {
			if slices.Contains(rest, sc) && !slices.Contains(granted, sc) {
				granted = append(granted, sc)
			}
		}
	}
	if openid && u != nil {
		granted = append([]string{"openid"}, granted...)
	}
	return granted, nil
}

func (s *Server) grantClientCredentials(r *http.Request, c *Client, form url.Values) (*tokenResponse, *oauthError) {
	if c.Public {
		return nil, errUnauthorizedClient("public clients cannot use client_credentials")
	}
	scopes, oe := s.grantScopes(r.Context(), c, nil, strings.Fields(form.Get("scope")))
	if oe != nil {
		return nil, oe
	}
	return s.issueOrFail(r.Context(), &grant{client: c, scopes: scopes})
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (s *Server) grantPassword(r *http.Request, c *Client, form url.Values) (*tokenResponse, *oauthError) {
	username, password := form.Get("username"), form.Get("password")
	if username == "" || password == "" {
		return nil, errInvalidRequest("username and password are required")
	}
	ctx := r.Context()
	u, err := s.cfg.Users.Authenticate(ctx, username, password, remoteIP(r))
	if err != nil {
		if errors.Is(err, user.ErrInvalidCredentials) || errors.Is(err, user.ErrThrottled) || errors.Is(err, user.ErrNotFound) {
			return nil, errInvalidGrant("invalid username or password")
		}
		s.log.Error("authenticate user", "err", err)
		return nil, errServer()
	}
	if u.Locked {
		return nil, errInvalidGrant("the account is locked")
	}
	return s.userGrant(ctx, c, u, strings.Fields(form.Get("scope")), nowMS())
}

// userGrant issues tokens for an authenticated user: refresh token when the
// client may refresh, ID token when openid was granted.
func (s *Server) userGrant(ctx context.Context, c *Client, u *user.User, requested []string, authTime int64) (*tokenResponse, *oauthError) {
	scopes, oe := s.grantScopes(ctx, c, u, requested)
	if oe != nil {
		return nil, oe
	}
	g := &grant{client: c, user: u, scopes: scopes, authTime: authTime,
		refresh: c.allowsGrant(grantRefresh), idToken: slices.Contains(scopes, "openid")}
	return s.issueOrFail(ctx, g)
}
