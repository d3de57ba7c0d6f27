// Package apim composes the API Manager control plane: users and roles, the
// resident key manager, throttling policies, applications and subscriptions,
// key manager configurations and connectors, the API catalog, the REST APIs
// (publisher v4, devportal v3, admin v4), the internal data API, and the
// runtime snapshot the gateways read.
package apim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/keyway/keyway/internal/apim/admin"
	"github.com/keyway/keyway/internal/apim/catalog"
	"github.com/keyway/keyway/internal/apim/devportal"
	"github.com/keyway/keyway/internal/apim/internalapi"
	"github.com/keyway/keyway/internal/apim/keymanager"
	"github.com/keyway/keyway/internal/apim/policy"
	"github.com/keyway/keyway/internal/apim/publisher"
	"github.com/keyway/keyway/internal/apim/resident"
	"github.com/keyway/keyway/internal/apim/restapi"
	"github.com/keyway/keyway/internal/apim/subscription"
	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/oauth"
	"github.com/keyway/keyway/internal/platform"
	"github.com/keyway/keyway/internal/runtime"
	"github.com/keyway/keyway/internal/user"
)

// RevocationLister gives the snapshot the revoked tokens (the gateway's
// revocation service).
type RevocationLister interface {
	List(ctx context.Context) ([]runtime.RevokedToken, error)
}

type options struct {
	revocations RevocationLister
	listener    oauth.RevocationListener
	argon2      *user.Argon2Params
	// apiKeyRevoker enables the developer portal's API keys.
	apiKeyRevoker func(ctx context.Context, jti string, expiryMillis int64) error
}

// Option configures New.
type Option func(*options)

// WithRevocations adds revoked tokens to the runtime snapshot.
func WithRevocations(l RevocationLister) Option { return func(o *options) { o.revocations = l } }

// WithRevocationListener is told about tokens the resident key manager
// revokes (so the gateways drop them at once).
func WithRevocationListener(l oauth.RevocationListener) Option {
	return func(o *options) { o.listener = l }
}

// WithPasswordHashing sets the user store's hashing cost (tests use a cheap one).
func WithPasswordHashing(p user.Argon2Params) Option { return func(o *options) { o.argon2 = &p } }

// DefaultRoles are WSO2 API Manager's built-in roles, created at first start.
var DefaultRoles = []string{restapi.RoleAdmin, restapi.RoleCreator, restapi.RolePublisher, restapi.RoleSubscriber,
	"Internal/everyone", restapi.RoleDevOps}

// Server is the API Manager component.
type Server struct {
	p           *platform.Platform
	log         *slog.Logger
	opts        options
	users       *user.Store
	resident    *resident.KeyManager
	policies    *policy.Store
	store       *subscription.Store
	keys        *subscription.Manager
	keyManagers *keymanager.Service
	catalog     *catalog.Service
	auth        *restapi.Auth
	devportal   *devportal.Handler
	admin       *admin.Handler
	internal    *internalapi.Handler
	publisher   *publisher.Handler
	// extra mounts handlers added by WithHandler-style composition (the
	// publisher API).
	extra []interface{ Mount(*http.ServeMux) }
}

var _ platform.Component = (*Server)(nil)

// New builds the API Manager on apimDB (catalog, policies, applications,
// key managers) and sharedDB (users, roles, the resident key manager's
// OAuth tables).
func New(ctx context.Context, p *platform.Platform, apimDB, sharedDB *db.DB, opts ...Option) (*Server, error) {
	s := &Server{p: p, log: p.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	for _, o := range opts {
		o(&s.opts)
	}
	if err := s.build(ctx, apimDB, sharedDB); err != nil {
		s.closeAll()
		return nil, err
	}
	return s, nil
}

func (s *Server) build(ctx context.Context, apimDB, sharedDB *db.DB) error {
	p := s.p
	var err error
	uopts := user.StoreOptions{Logger: s.log}
	if s.opts.argon2 != nil {
		uopts.Argon2 = *s.opts.argon2
	}
	if s.users, err = user.NewStore(ctx, sharedDB, uopts); err != nil {
		return fmt.Errorf("apim: user store: %w", err)
	}
	if err := s.ensureUsers(ctx); err != nil {
		return err
	}
	trust := p.Trust.HTTPClient(30 * time.Second)

	if s.policies, err = policy.New(ctx, apimDB, p.Bus); err != nil {
		return fmt.Errorf("apim: %w", err)
	}
	if s.store, err = subscription.New(ctx, apimDB, p.Bus); err != nil {
		return fmt.Errorf("apim: %w", err)
	}
	s.keyManagers, err = keymanager.New(ctx, apimDB, keymanager.Options{Sealer: p.Sealer, HTTPClient: trust, Bus: p.Bus, Logger: s.log,
		InUse: func(ctx context.Context, name string) (bool, error) {
			ks, err := s.store.KeyMappingsOfKeyManager(ctx, name)
			return len(ks) > 0, err
		}})
	if err != nil {
		return fmt.Errorf("apim: %w", err)
	}
	s.catalog, err = catalog.New(ctx, apimDB, catalog.Options{Bus: p.Bus, Environments: p.Config.APIM.Gateway.Environments,
		Scopes: scopeRegistrar{s.keyManagers}, Policies: policyLister{s.policies}, HTTPClient: trust, Logger: s.log})
	if err != nil {
		return fmt.Errorf("apim: %w", err)
	}
	s.resident, err = resident.New(ctx, resident.Config{BaseURL: p.BaseURL, DB: sharedDB, Signer: p.Primary, Sealer: p.Sealer,
		Users: s.users, APIScopes: catalogScopes{s.catalog}, Listener: s.opts.listener, Expiry: p.Config.OAuth.TokenExpiry,
		HTTPClient: trust, Logger: s.log})
	if err != nil {
		return fmt.Errorf("apim: %w", err)
	}
	s.keyManagers.SetFactory(keymanager.TypeResident, s.resident.Factory())
	if err := s.keyManagers.EnsureResident(ctx, s.resident.Config()); err != nil {
		return fmt.Errorf("apim: resident key manager: %w", err)
	}
	s.keys = &subscription.Manager{Store: s.store, KMs: s.keyManagers, Sealer: p.Sealer, Logger: s.log}
	s.auth = restapi.NewAuth(s.resident.Engine(), s.users)
	s.devportal = devportal.New(devportal.Options{Auth: s.auth, Store: s.store, Keys: s.keys, Policies: s.policies,
		KeyManagers: s.keyManagers, Catalog: s.catalog, Logger: s.log, APIKeys: s.apiKeys()})
	s.admin = admin.New(admin.Options{Auth: s.auth, KeyManagers: s.keyManagers, Policies: s.policies, Store: s.store, Keys: s.keys,
		Environments: s.catalog, Catalog: s.catalog, Users: s.users, Logger: s.log})
	s.internal = internalapi.New(s.Source(), restapi.NewAuth(nil, s.users), s.log)
	pub := publisher.New(s.catalog, s.auth, s.log)
	pub.DevPortalURL = p.BaseURL + "/devportal"
	pub.SetPolicyLister(policyLister{s.policies})
	pub.SetSubscriptionBlocker(s.store)
	s.publisher = pub
	s.log.Info("api manager ready", "base_url", p.BaseURL, "resident_issuer", s.resident.Config().Issuer,
		"key_manager_types", s.keyManagers.Types())
	return nil
}

// ensureUsers creates the default roles and the super admin at first start.
func (s *Server) ensureUsers(ctx context.Context) error {
	for _, name := range DefaultRoles {
		if _, err := s.users.GetRoleByName(ctx, name); err == nil {
			continue
		} else if !errors.Is(err, user.ErrNotFound) {
			return fmt.Errorf("apim: role %s: %w", name, err)
		}
		if err := s.users.CreateRole(ctx, &user.Role{Name: name, AudienceType: "organization"}); err != nil && !errors.Is(err, user.ErrConflict) {
			return fmt.Errorf("apim: create role %s: %w", name, err)
		}
	}
	sa := s.p.Config.SuperAdmin
	if sa.Username == "" {
		return nil
	}
	role := sa.AdminRole
	if role == "" {
		role = restapi.RoleAdmin
	}
	if _, err := s.users.EnsureSuperAdmin(ctx, sa.Username, sa.Password, role); err != nil {
		return fmt.Errorf("apim: super admin: %w", err)
	}
	return nil
}

// Name implements platform.Component.
func (s *Server) Name() string { return "api-manager" }

// Mount registers every route of the API Manager.
func (s *Server) Mount(mux *http.ServeMux) {
	s.resident.Mount(mux)
	s.devportal.Mount(mux)
	s.admin.Mount(mux)
	s.internal.Mount(mux)
	s.publisher.Mount(mux)
	for _, h := range s.extra {
		h.Mount(mux)
	}
}

// AddHandler mounts another REST family (the publisher API) with the others.
func (s *Server) AddHandler(h interface{ Mount(*http.ServeMux) }) { s.extra = append(s.extra, h) }

// Close stops background work.
func (s *Server) Close(context.Context) error {
	s.closeAll()
	return nil
}

func (s *Server) closeAll() {
	if s.resident != nil {
		if err := s.resident.Close(); err != nil {
			s.log.Warn("close resident key manager", "err", err)
		}
	}
}

// Users is the user store (the gateway's notify endpoint authenticates with it).
func (s *Server) Users() user.Directory { return s.users }

// Auth authenticates REST callers (for the publisher handlers).
func (s *Server) Auth() *restapi.Auth { return s.auth }

// Catalog is the API catalog.
func (s *Server) Catalog() *catalog.Service { return s.catalog }

// KeyManagers is the key manager service (catalog.ScopeRegistrar through
// ScopeRegistrar()).
func (s *Server) KeyManagers() *keymanager.Service { return s.keyManagers }

// Subscriptions is the application and subscription store (it implements
// SetSubscriptionStatus for the publisher's block/unblock).
func (s *Server) Subscriptions() *subscription.Store { return s.store }

// Policies is the throttling policy store.
func (s *Server) Policies() *policy.Store { return s.policies }

// Resident is the resident key manager.
func (s *Server) Resident() *resident.KeyManager { return s.resident }

// ScopeRegistrar adapts the key manager service to catalog.ScopeRegistrar.
func (s *Server) ScopeRegistrar() catalog.ScopeRegistrar { return scopeRegistrar{s.keyManagers} }

// PolicyLister adapts the policy store to catalog.PolicyLister.
func (s *Server) PolicyLister() catalog.PolicyLister { return policyLister{s.policies} }
