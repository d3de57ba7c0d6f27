package restapi

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/keyway/keyway/internal/oauth"
	"github.com/keyway/keyway/internal/user"
)

// Caller is the authenticated client of a REST call.
type Caller struct {
	Username string
	Roles    []string
	Scopes   []string
	// ClientID is set for bearer tokens.
	ClientID string
	// Basic says the caller used Basic credentials rather than a token.
	Basic bool
}

// HasScope reports whether the caller holds scope.
func (c *Caller) HasScope(scope string) bool { return slices.Contains(c.Scopes, scope) }

// HasRole reports whether the caller holds role (case-insensitive, as the
// WSO2 user store compares role names).
func (c *Caller) HasRole(role string) bool {
	for _, r := range c.Roles {
		if strings.EqualFold(r, role) {
			return true
		}
	}
	return false
}

type callerKey struct{}

// WithCaller returns ctx carrying c.
func WithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller set by Auth.Require.
func CallerFrom(ctx context.Context) (*Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(*Caller)
	return c, ok && c != nil
}

// Auth authenticates REST callers: bearer tokens of the resident key manager
// (scopes from the token) and Basic credentials of the user store (scopes
// from the user's roles through ScopeRoles).
type Auth struct {
	validator oauth.TokenValidator
	users     user.Directory
}

// NewAuth returns an authenticator; either argument may be nil, which
// disables that kind of credential.
func NewAuth(validator oauth.TokenValidator, users user.Directory) *Auth {
	return &Auth{validator: validator, users: users}
}

// errNoCredentials distinguishes a missing Authorization header.
var errNoCredentials = errors.New("no credentials")

// Authenticate resolves the request's credentials to a Caller.
func (a *Auth) Authenticate(r *http.Request) (*Caller, error) {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if h == "" {
		return nil, errNoCredentials
	}
	scheme, cred, _ := strings.Cut(h, " ")
	cred = strings.TrimSpace(cred)
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		if a.validator == nil || cred == "" {
			return nil, errors.New("bearer tokens are not accepted")
		}
		ti, err := a.validator.ValidateAccessToken(r.Context(), cred)
		if err != nil {
			return nil, err
		}
		if ti == nil || !ti.Active {
			return nil, errors.New("inactive token")
		}
		return &Caller{Username: ti.Username, Roles: ti.Roles, Scopes: ti.Scopes, ClientID: ti.ClientID}, nil
	case strings.EqualFold(scheme, "Basic"):
		if a.users == nil {
			return nil, errors.New("basic credentials are not accepted")
		}
		username, password, ok := r.BasicAuth()
		if !ok || username == "" {
			return nil, errors.New("malformed basic credentials")
		}
		u, err := a.users.Authenticate(r.Context(), username, password, remoteHost(r))
		if err != nil {
			return nil, err
		}
		roles := append([]string(nil), u.Roles...)
		// Roles held through groups count too, as in WSO2's user store.
		if held, err := a.users.RolesOf(r.Context(), u.ID); err == nil {
			for _, role := range held {
				if !slices.Contains(roles, role.Name) {
					roles = append(roles, role.Name)
				}
			}
		}
		return &Caller{Username: u.Username, Roles: roles, Scopes: ScopesForRoles(roles), Basic: true}, nil
	default:
		return nil, errors.New("unsupported authorization scheme")
	}
}

// Require returns middleware that authenticates the caller and lets the
// request through only when the caller holds at least one of scopes (all
// requests of an authenticated caller when scopes is empty). It answers 401
// with WWW-Authenticate without valid credentials and 403 without a scope.
func (a *Auth) Require(scopes ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := a.Authenticate(r)
			if err != nil {
				if errors.Is(err, errNoCredentials) {
					Unauthorized(w, "")
					return
				}
				Unauthorized(w, "Access failure for API: "+r.URL.Path+", version: v4 status: (900901) - Invalid Credentials. Make sure you have provided the correct security credentials")
				return
			}
			if len(scopes) > 0 && !slices.ContainsFunc(scopes, c.HasScope) {
				WriteError(w, http.StatusForbidden, Error{Code: 900910, Message: "The access token does not allow you to access the requested resource",
					Description: "User is NOT authorized to access the Resource: " + r.URL.Path + ". Scope validation failed."})
				return
			}
			next.ServeHTTP(w, r.WithContext(WithCaller(r.Context(), c)))
		})
	}
}

// RequireFunc is Require for a handler function.
func (a *Auth) RequireFunc(fn http.HandlerFunc, scopes ...string) http.Handler {
	return a.Require(scopes...)(fn)
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
