// Package identity is the Identity Server component ("keyway is"): it
// composes the user store, the OAuth 2.0 / OpenID Connect engine, and the IS 7
// management APIs (SCIM 2 users, groups, Me and roles v2; DCR v1.1; API
// resources and the legacy scope API), all guarded by the
// [[resource.access_control]] rules of deployment.toml.
package identity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/keyway/keyway/internal/config"
	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/identity/access"
	"github.com/keyway/keyway/internal/identity/apiresource"
	"github.com/keyway/keyway/internal/identity/dcr"
	"github.com/keyway/keyway/internal/identity/scim"
	"github.com/keyway/keyway/internal/oauth"
	"github.com/keyway/keyway/internal/platform"
	"github.com/keyway/keyway/internal/user"
)

// Server is the Identity Server component.
type Server struct {
	p        *platform.Platform
	log      *slog.Logger
	users    *user.Store
	scopes   *apiresource.Store
	engine   *oauth.Server
	guard    *access.Guard
	listener *forwardingListener
	handlers []interface{ Mount(*http.ServeMux) }
}

var _ platform.Component = (*Server)(nil)

// Option adjusts New.
type Option func(*options)

type options struct {
	listener  oauth.RevocationListener
	userStore user.StoreOptions
}

// WithRevocationListener tells l about every revoked access token (the IS
// token_revocation event sender). SetRevocationListener does the same later.
func WithRevocationListener(l oauth.RevocationListener) Option {
	return func(o *options) { o.listener = l }
}

// WithUserStoreOptions tunes the user store (hash costs, lockout); tests use
// it for cheap hashes.
func WithUserStoreOptions(so user.StoreOptions) Option {
	return func(o *options) { o.userStore = so }
}

// New builds the Identity Server on d: the user store (with the super admin
// of [super_admin] on first start), the API-resource scope store and its
// authorizer, and the OAuth engine with issuer p.BaseURL + "/oauth2/token".
func New(ctx context.Context, p *platform.Platform, d *db.DB, opts ...Option) (*Server, error) {
	var o options
	for _, fn := range opts {
		fn(&o)
	}
	if p == nil || p.Config == nil || d == nil {
		return nil, errors.New("identity: platform, configuration and database are required")
	}
	cfg := p.Config
	logger := p.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("component", "identity-server")
	s := &Server{p: p, log: logger, listener: &forwardingListener{}}
	if o.listener != nil {
		s.listener.Set(o.listener)
	}

	us := o.userStore
	if us.Logger == nil {
		us.Logger = logger
	}
	users, err := user.NewStore(ctx, d, us)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	s.users = users
	adminRole := cfg.SuperAdmin.AdminRole
	if adminRole == "" {
		adminRole = "admin"
	}
	if cfg.SuperAdmin.CreateAdminAccount {
		if _, err := users.EnsureSuperAdmin(ctx, cfg.SuperAdmin.Username, cfg.SuperAdmin.Password, adminRole); err != nil {
			return nil, fmt.Errorf("identity: %w", err)
		}
	}

	if s.scopes, err = apiresource.NewStore(ctx, d); err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	authorizer := apiresource.NewAuthorizer(s.scopes, users, cfg.OAuth.AuthorizeAllScopes, adminRole)

	var httpClient *http.Client
	if p.Trust != nil {
		httpClient = p.Trust.HTTPClient(10 * time.Second)
	}
	expiry := effectiveExpiry(cfg.OAuth.TokenExpiry)
	s.engine, err = oauth.New(ctx, oauth.Config{
		Issuer:      p.BaseURL + "/oauth2/token",
		BaseURL:     p.BaseURL,
		DB:          d,
		Signer:      p.Primary,
		Sealer:      p.Sealer,
		Users:       users,
		Scopes:      authorizer,
		Listener:    s.listener,
		Expiry:      expiry,
		KeyRotation: time.Duration(cfg.OAuth.KeyRotationDays) * 24 * time.Hour,
		HTTPClient:  httpClient,
		Logger:      logger.With("component", "oauth"),
		ProductName: "Keyway Identity Server",
	})
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}

	s.guard, err = access.NewGuard(access.Options{Users: users, Tokens: s.engine, Rules: cfg.Resource.AccessControl, AdminRole: adminRole, Logger: logger})
	if err != nil {
		s.engine.Close()
		return nil, fmt.Errorf("identity: %w", err)
	}
	s.handlers = []interface{ Mount(*http.ServeMux) }{
		s.engine,
		scim.NewHandler(scim.Options{Users: users, Guard: s.guard, Revoker: s.engine, Permissions: s.scopes, AdminRole: adminRole, BaseURL: p.BaseURL, Logger: logger}),
		dcr.NewHandler(dcr.Options{Clients: s.engine.Clients(), Revoker: s.engine, Guard: s.guard, Defaults: expiry, Logger: logger}),
		apiresource.NewHandler(s.scopes, s.guard, logger),
	}
	if p.Health != nil {
		p.Health.AddCheck("identity-database", func(ctx context.Context) error { return d.PingContext(ctx) })
	}
	logger.Info("identity server ready", "issuer", p.BaseURL+"/oauth2/token", "authorize_all_scopes", cfg.OAuth.AuthorizeAllScopes,
		"access_control_rules", len(cfg.Resource.AccessControl), "revocation_listener", o.listener != nil)
	return s, nil
}

// effectiveExpiry fills IS 7's defaults (seconds) for zero fields.
func effectiveExpiry(e config.TokenExpiry) config.TokenExpiry {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&e.ApplicationAccessToken, 3600)
	def(&e.UserAccessToken, 3600)
	def(&e.RefreshToken, 86400)
	def(&e.AuthorizationCode, 300)
	def(&e.IDToken, 3600)
	return e
}

// Name implements platform.Component.
func (s *Server) Name() string { return "identity-server" }

// SuperTenantPrefix is the tenant-qualified path prefix IS 7 also serves
// its super organisation's endpoints under.
const SuperTenantPrefix = "/t/carbon.super"

// Mount registers the OAuth endpoints and every management API, also under
// /t/carbon.super as IS does.
func (s *Server) Mount(mux *http.ServeMux) {
	for _, h := range s.handlers {
		h.Mount(mux)
	}
	mux.Handle(SuperTenantPrefix+"/", http.StripPrefix(SuperTenantPrefix, mux))
}

// Close stops the engine's background work.
func (s *Server) Close(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- s.engine.Close() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Users returns the user store.
func (s *Server) Users() *user.Store { return s.users }

// OAuth returns the OAuth engine.
func (s *Server) OAuth() *oauth.Server { return s.engine }

// Scopes returns the API-resource scope store.
func (s *Server) Scopes() *apiresource.Store { return s.scopes }

// Guard returns the management-API guard, for other IS endpoints.
func (s *Server) Guard() *access.Guard { return s.guard }

// SetRevocationListener replaces the revocation listener; it takes effect
// for every revocation after the call (safe at any time).
func (s *Server) SetRevocationListener(l oauth.RevocationListener) { s.listener.Set(l) }

// forwardingListener lets the listener be chosen after the engine is built.
type forwardingListener struct {
	l atomic.Pointer[listenerBox]
}

type listenerBox struct{ l oauth.RevocationListener }

func (f *forwardingListener) Set(l oauth.RevocationListener) {
	if l == nil {
		f.l.Store(nil)
		return
	}
	f.l.Store(&listenerBox{l: l})
}

// AccessTokenRevoked implements oauth.RevocationListener.
func (f *forwardingListener) AccessTokenRevoked(ctx context.Context, t oauth.RevokedAccessToken) {
	if b := f.l.Load(); b != nil {
		b.l.AccessTokenRevoked(ctx, t)
	}
}
