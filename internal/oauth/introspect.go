package oauth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keyway/keyway/internal/user"
)

// introspection is the RFC 7662 response with the IS 7 members.
type introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Username  string `json:"username,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	Exp       int64  `json:"exp,omitempty"`
	Iat       int64  `json:"iat,omitempty"`
	Nbf       int64  `json:"nbf,omitempty"`
	Sub       string `json:"sub,omitempty"`
	Aud       string `json:"aud,omitempty"`
	Iss       string `json:"iss,omitempty"`
	Jti       string `json:"jti,omitempty"`
	Aut       string `json:"aut,omitempty"`
}

var inactive = []byte(`{"active":false}`)

// handleIntrospect is POST /oauth2/introspect. Callers authenticate as a
// user holding the admin role or the introspect permission (IS's default),
// or as a client.
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) {
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
	if oe := s.authenticateIntrospector(r, form); oe != nil {
		writeOAuthError(w, oe)
		return
	}
	token := form.Get("token")
	if token == "" {
		writeOAuthError(w, errInvalidRequest("token is required"))
		return
	}
	resp, err := s.introspect(r.Context(), token, form.Get("token_type_hint"))
	if err != nil {
		s.log.Error("introspect", "err", err)
		writeOAuthError(w, errServer())
		return
	}
	if !resp.Active {
		writeOAuthJSON(w, http.StatusOK, inactive)
		return
	}
	raw, _ := json.Marshal(resp)
	writeOAuthJSON(w, http.StatusOK, raw)
}

func (s *Server) introspect(ctx context.Context, token, hint string) (*introspection, error) {
	if hint == "refresh_token" {
		if resp, err := s.introspectRefresh(ctx, token); err != nil || resp.Active {
			return resp, err
		}
		return s.introspectAccess(ctx, token)
	}
	if resp, err := s.introspectAccess(ctx, token); err != nil || resp.Active {
		return resp, err
	}
	if strings.Count(token, ".") == 2 {
		return &introspection{}, nil
	}
	return s.introspectRefresh(ctx, token)
}

func (s *Server) introspectAccess(ctx context.Context, token string) (*introspection, error) {
	rec, err := s.activeAccess(ctx, token)
	if errors.Is(err, ErrInvalidToken) {
		return &introspection{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := &introspection{Active: true, Scope: rec.Scope, ClientID: rec.ClientID, Username: rec.Username,
		TokenType: tokenTypeBear, Exp: rec.ExpiresAt / 1000, Iat: rec.IssuedAt / 1000, Nbf: rec.IssuedAt / 1000,
		Sub: rec.UserID, Aud: rec.Aud, Iss: s.cfg.Issuer, Aut: rec.Aut}
	if out.Sub == "" {
		out.Sub = rec.ClientID
	}
	if rec.Format == formatJWT {
		out.Jti = rec.Key
	}
	return out, nil
}

func (s *Server) introspectRefresh(ctx context.Context, token string) (*introspection, error) {
	rec, err := s.loadRefresh(ctx, token)
	if errors.Is(err, ErrInvalidToken) {
		return &introspection{}, nil
	}
	if err != nil {
		return nil, err
	}
	if rec.State != refreshActive || rec.ExpiresAt <= nowMS() {
		return &introspection{}, nil
	}
	return &introspection{Active: true, Scope: rec.Scope, ClientID: rec.ClientID, Username: rec.Username,
		TokenType: "Refresh", Exp: rec.ExpiresAt / 1000, Iat: rec.IssuedAt / 1000, Nbf: rec.IssuedAt / 1000,
		Sub: rec.UserID, Aud: rec.ClientID, Iss: s.cfg.Issuer}, nil
}

// authenticateIntrospector accepts a user (Basic) with the permission, or
// a client. Successful user checks are cached briefly, keyed by an HMAC of
// the credentials, so introspection does not run a password hash per call.
func (s *Server) authenticateIntrospector(r *http.Request, form map[string][]string) *oauthError {
	ctx := r.Context()
	if h := r.Header.Get("Authorization"); h != "" && !strings.HasPrefix(h, "Bearer ") {
		name, password, ok := r.BasicAuth()
		if !ok {
			return errInvalidClient("malformed Basic credentials", true)
		}
		if s.creds.valid(name, password) {
			return nil
		}
		// A client id takes precedence: resource servers introspect as clients.
		if _, err := s.clients.get(ctx, name); err == nil {
			if _, oe := s.authenticateClient(r, form); oe != nil {
				return oe
			}
			return nil
		}
		u, err := s.cfg.Users.Authenticate(ctx, name, password, remoteIP(r))
		if err != nil {
			if errors.Is(err, user.ErrInvalidCredentials) || errors.Is(err, user.ErrThrottled) || errors.Is(err, user.ErrNotFound) {
				return errInvalidClient("authentication failed", true)
			}
			s.log.Error("authenticate introspection caller", "err", err)
			return errServer()
		}
		allowed, err := s.mayIntrospect(ctx, u)
		if err != nil {
			s.log.Error("check introspect permission", "err", err)
			return errServer()
		}
		if !allowed {
			return &oauthError{Code: "access_denied", Description: "the user may not introspect tokens", status: http.StatusForbidden}
		}
		s.creds.remember(name, password)
		return nil
	}
	if _, oe := s.authenticateClient(r, form); oe != nil {
		return oe
	}
	return nil
}

func (s *Server) mayIntrospect(ctx context.Context, u *user.User) (bool, error) {
	if u.Locked {
		return false, nil
	}
	for _, role := range u.Roles {
		if strings.EqualFold(role, "admin") {
			return true, nil
		}
	}
	roles, err := s.cfg.Users.RolesOf(ctx, u.ID)
	if err != nil {
		return false, err
	}
	for _, role := range roles {
		if strings.EqualFold(role.Name, "admin") || slices.Contains(role.Permissions, s.cfg.IntrospectPermission) {
			return true, nil
		}
	}
	return false, nil
}

// credCache remembers recently verified introspection credentials for 30 s.
type credCache struct {
	key []byte
	mu  sync.Mutex
	m   map[[32]byte]time.Time
}

const credTTL = 30 * time.Second

func newCredCache() *credCache {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return &credCache{key: k, m: map[[32]byte]time.Time{}}
}

func (c *credCache) sum(name, password string) [32]byte {
	h := hmac.New(sha256.New, c.key)
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write([]byte(password))
	var out [32]byte
	h.Sum(out[:0])
	return out
}

func (c *credCache) valid(name, password string) bool {
	k := c.sum(name, password)
	c.mu.Lock()
	at, ok := c.m[k]
	c.mu.Unlock()
	return ok && time.Since(at) < credTTL
}

func (c *credCache) remember(name, password string) {
	k := c.sum(name, password)
	c.mu.Lock()
	if len(c.m) > 10000 {
		clear(c.m)
	}
	c.m[k] = time.Now()
	c.mu.Unlock()
}

// ForgetCachedCredentials drops the introspection credentials verified in
// the last 30 s; the Identity Server calls it when a user's password or
// roles change.
func (s *Server) ForgetCachedCredentials() { s.creds.forget() }

func (c *credCache) forget() {
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
}
