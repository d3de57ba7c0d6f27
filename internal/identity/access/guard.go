// Package access authenticates and authorizes callers of the Identity
// Server's management APIs: HTTP Basic against the user store or a Bearer
// access token from the OAuth engine, then the [[resource.access_control]]
// rules of deployment.toml, and by default the admin role or the operation's
// internal_* scope. Failures answer in the API family's error shape.
package access

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/keyway/keyway/internal/config"
	"github.com/keyway/keyway/internal/oauth"
	"github.com/keyway/keyway/internal/user"
)

// Principal is an authenticated caller.
type Principal struct {
	// User is nil for application (client_credentials) tokens.
	User *user.User
	// Token is set for Bearer callers.
	Token *oauth.TokenInfo
	// Roles the user holds (with permissions).
	Roles []*user.Role
	// Admin holds the configured admin role.
	Admin bool
}

// Username returns the user's name, or the token's username for application tokens.
func (p *Principal) Username() string {
	if p.User != nil {
		return p.User.Username
	}
	if p.Token != nil {
		return p.Token.Username
	}
	return ""
}

// HasPermission reports whether a role of the user grants perm (admins hold all).
func (p *Principal) HasPermission(perm string) bool {
	if p.Admin {
		return true
	}
	for _, r := range p.Roles {
		if slices.Contains(r.Permissions, perm) {
			return true
		}
	}
	return false
}

// HasScope reports whether the caller may act under scope: a Bearer token
// must carry it; a Basic user must be an admin or hold it as a role
// permission (internal_login, like IS's everyone role, is held by all).
func (p *Principal) HasScope(scope string) bool {
	if p.Token != nil {
		return slices.Contains(p.Token.Scopes, scope)
	}
	if scope == ScopeLogin {
		return true
	}
	return p.HasPermission(scope)
}

type ctxKey struct{}

// FromContext returns the caller, or nil for anonymous requests.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(ctxKey{}).(*Principal)
	return p
}

// WithPrincipal attaches p to ctx (handlers read it with FromContext).
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// rule is one compiled [[resource.access_control]] block.
type rule struct {
	re          *regexp.Regexp
	methods     []string // empty: every method
	secure      bool
	permissions []string
	scopes      []string
}

// Options configure a Guard.
type Options struct {
	Users user.Directory
	// Tokens validates Bearer tokens; nil refuses Bearer authentication.
	Tokens oauth.TokenValidator
	// Rules are the [[resource.access_control]] blocks, first match wins.
	Rules []config.AccessControl
	// AdminRole is the role that may call every management API.
	AdminRole string
	Logger    *slog.Logger
}

// Guard protects management handlers.
type Guard struct {
	users     user.Directory
	tokens    oauth.TokenValidator
	rules     []rule
	adminRole string
	logger    *slog.Logger
}

// NewGuard compiles the access-control rules; a bad regular expression is
// an error naming the block.
func NewGuard(o Options) (*Guard, error) {
	g := &Guard{users: o.Users, tokens: o.Tokens, adminRole: o.AdminRole, logger: o.Logger}
	if g.adminRole == "" {
		g.adminRole = "admin"
	}
	if g.logger == nil {
		g.logger = slog.Default()
	}
	for i, ac := range o.Rules {
		re, err := regexp.Compile(`^(?:` + ac.Context + `)$`)
		if err != nil {
			return nil, fmt.Errorf("resource.access_control[%d] context %q: %w", i, ac.Context, err)
		}
		r := rule{re: re, secure: ac.Secure, permissions: ac.Permissions, scopes: ac.Scopes}
		for _, m := range strings.Split(ac.HTTPMethod, ",") {
			if m = strings.ToUpper(strings.TrimSpace(m)); m != "" && m != "ALL" {
				r.methods = append(r.methods, m)
			}
		}
		g.rules = append(g.rules, r)
	}
	return g, nil
}

func (g *Guard) match(r *http.Request) *rule {
	for i := range g.rules {
		ru := &g.rules[i]
		if len(ru.methods) > 0 && !slices.Contains(ru.methods, r.Method) {
			continue
		}
		if ru.re.MatchString(r.URL.Path) {
			return ru
		}
	}
	return nil
}

// ScopeFunc names the internal scope an operation needs by default ("" means
// only admins may call it).
type ScopeFunc func(r *http.Request) string

// ByMethod returns a ScopeFunc for IS's usual naming: prefix + _view (GET,
// HEAD), _create (POST), _update (PUT, PATCH), _delete (DELETE).
func ByMethod(prefix string) ScopeFunc {
	return func(r *http.Request) string {
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			return prefix + "_view"
		case http.MethodPost:
			return prefix + "_create"
		case http.MethodPut, http.MethodPatch:
			return prefix + "_update"
		case http.MethodDelete:
			return prefix + "_delete"
		}
		return ""
	}
}

// Protect wraps h: a matching access-control rule decides; otherwise the
// caller must be an admin or hold scope(r).
func (g *Guard) Protect(fam Family, scope ScopeFunc, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ru := g.match(r)
		p, err := g.authenticate(r)
		if err != nil {
			if ru != nil && !ru.secure {
				h.ServeHTTP(w, r)
				return
			}
			g.unauthorized(w, r, fam, err)
			return
		}
		if p == nil {
			if ru != nil && !ru.secure {
				h.ServeHTTP(w, r)
				return
			}
			g.unauthorized(w, r, fam, errNoCredentials)
			return
		}
		allowed := false
		switch {
		case ru != nil:
			allowed = true
			for _, perm := range ru.permissions {
				allowed = allowed && p.HasPermission(perm)
			}
			for _, s := range ru.scopes {
				allowed = allowed && p.HasScope(s)
			}
		case p.Admin && p.Token == nil:
			// Basic admins may call everything. Tokens, even an admin's,
			// must carry the operation's scope, as in IS.
			allowed = true
		case scope != nil:
			if s := scope(r); s != "" {
				allowed = p.HasScope(s)
			}
		}
		if !allowed {
			WriteError(w, r, fam, http.StatusForbidden, forbiddenCode(fam), "the caller is not allowed to perform this operation")
			return
		}
		h.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

var (
	errNoCredentials = errors.New("authentication is required")
	errBadToken      = errors.New("the access token is invalid, expired or revoked")
)

func forbiddenCode(fam Family) string {
	if fam == OAuth {
		return "access_denied"
	}
	return ""
}

func (g *Guard) unauthorized(w http.ResponseWriter, r *http.Request, fam Family, err error) {
	w.Header().Set("WWW-Authenticate", `Basic realm="Keyway", Bearer realm="Keyway"`)
	detail := err.Error()
	if errors.Is(err, user.ErrThrottled) {
		detail = "too many failed attempts, try again later"
	} else if !errors.Is(err, errNoCredentials) && !errors.Is(err, errBadToken) {
		detail = "invalid credentials"
	}
	code := ""
	if fam == OAuth {
		code = "invalid_client"
	}
	WriteError(w, r, fam, http.StatusUnauthorized, code, detail)
}

// authenticate returns the caller, nil without credentials, or an error
// for bad ones.
func (g *Guard) authenticate(r *http.Request) (*Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, nil
	}
	scheme, cred, _ := strings.Cut(h, " ")
	cred = strings.TrimSpace(cred)
	ctx := r.Context()
	switch strings.ToLower(scheme) {
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(cred)
		if err != nil {
			return nil, fmt.Errorf("malformed Basic credentials")
		}
		name, pass, ok := strings.Cut(string(raw), ":")
		if !ok || name == "" {
			return nil, fmt.Errorf("malformed Basic credentials")
		}
		u, err := g.users.Authenticate(ctx, name, pass, remoteIP(r))
		if err != nil {
			if !errors.Is(err, user.ErrInvalidCredentials) && !errors.Is(err, user.ErrThrottled) && !errors.Is(err, user.ErrAccountLocked) {
				g.logger.Error("authenticate management caller", "error", err)
			}
			return nil, err
		}
		return g.principal(ctx, u, nil)
	case "bearer":
		if g.tokens == nil || cred == "" {
			return nil, errBadToken
		}
		ti, err := g.tokens.ValidateAccessToken(ctx, cred)
		if err != nil || ti == nil || !ti.Active || strings.EqualFold(ti.TokenType, "Refresh") || (!ti.ExpiresAt.IsZero() && !ti.ExpiresAt.After(timeNow())) {
			return nil, errBadToken
		}
		if strings.EqualFold(ti.AuthorizedUserType, "APPLICATION") {
			return &Principal{Token: ti}, nil
		}
		u, err := g.users.GetUser(ctx, ti.Subject)
		if errors.Is(err, user.ErrNotFound) && ti.Username != "" {
			u, err = g.users.GetUserByName(ctx, ti.Username)
		}
		if err != nil {
			if errors.Is(err, user.ErrNotFound) {
				return nil, errBadToken
			}
			return nil, err
		}
		if u.Locked {
			return nil, errBadToken
		}
		return g.principal(ctx, u, ti)
	}
	return nil, fmt.Errorf("unsupported authorization scheme %q", scheme)
}

func (g *Guard) principal(ctx context.Context, u *user.User, ti *oauth.TokenInfo) (*Principal, error) {
	roles, err := g.users.RolesOf(ctx, u.ID)
	if err != nil {
		return nil, fmt.Errorf("roles of %s: %w", u.Username, err)
	}
	p := &Principal{User: u, Token: ti, Roles: roles}
	for _, r := range roles {
		if strings.EqualFold(r.Name, g.adminRole) && (r.AudienceType == "" || r.AudienceType == user.AudienceOrganization) {
			p.Admin = true
		}
	}
	return p, nil
}

// timeNow is replaced by tests.
var timeNow = time.Now

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
