// Package catalog owns the API Manager's APIs: their working copies,
// operations, scopes, OpenAPI definitions, lifecycle, revisions, deployments
// to gateway environments, and import/export in apictl's project format. It
// stores them in the shared database (tables am_*), tells the gateway about
// changes through the event bus, registers API scopes in the key managers,
// and gives the gateway its deployed APIs (RuntimeAPIs).
package catalog

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/keyway/keyway/internal/config"
	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/events"
)

// ScopeRegistrar keeps API scopes in the key managers (APIM-B's key manager
// registry implements it). keyManagers are names; "all" means every enabled
// key manager. An error means nothing was registered, and the catalog
// stores nothing either.
type ScopeRegistrar interface {
	RegisterScopes(ctx context.Context, keyManagers []string, scopes []Scope) error
	DeleteScopes(ctx context.Context, keyManagers []string, names []string) error
}

// DeleteGuard vetoes API deletion (APIM-B's subscription service: WSO2
// refuses to delete an API with active subscriptions). A *Error is returned
// as is; any other error becomes 409 "Cannot remove the API as active
// subscriptions exist" with its message.
type DeleteGuard interface {
	CanDeleteAPI(ctx context.Context, apiID string) error
}

// Options configure a Service.
type Options struct {
	Bus events.Bus
	// Environments are the configured [[apim.gateway.environment]] blocks;
	// "Default" (vhost localhost) exists even when none is configured.
	Environments []config.GatewayEnvironment
	// Scopes registers API scopes in key managers; nil until
	// SetScopeRegistrar is called means scopes are kept only locally.
	Scopes ScopeRegistrar
	// Policies lists throttling policies for validation; nil means WSO2's
	// defaults (DefaultPolicies).
	Policies PolicyLister
	// HTTPClient fetches OpenAPI definitions by URL; it should trust the
	// platform's truststore. Nil means a client with a 30 s timeout.
	HTTPClient *http.Client
	Logger     *slog.Logger
	// MaxRevisions bounds revisions per API (default 5, as WSO2).
	MaxRevisions int
}

// Service is the API catalog.
type Service struct {
	db       *db.DB
	bus      events.Bus
	envs     []Environment // configured ones and "Default": read-only
	custom   envCache      // admin-created ones (environment_store.go)
	client   *http.Client
	log      *slog.Logger
	maxRevs  int
	now      func() time.Time
	mu       sync.RWMutex
	scopes   ScopeRegistrar
	policies PolicyLister
	guard    DeleteGuard
}

// New migrates the catalog's tables and returns the service.
func New(ctx context.Context, d *db.DB, opts Options) (*Service, error) {
	if err := d.Migrate(ctx, component, migrations); err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	s := &Service{db: d, bus: opts.Bus, envs: environments(opts.Environments), client: opts.HTTPClient, log: opts.Logger,
		maxRevs: opts.MaxRevisions, now: time.Now, scopes: opts.Scopes, policies: opts.Policies}
	if s.client == nil {
		s.client = &http.Client{Timeout: 30 * time.Second}
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.maxRevs <= 0 {
		s.maxRevs = 5
	}
	if err := s.initEnvironments(ctx); err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	return s, nil
}

// SetScopeRegistrar sets (or replaces) the key manager scope registrar; the
// registry is built after the catalog in the API Manager's composition.
func (s *Service) SetScopeRegistrar(r ScopeRegistrar) {
	s.mu.Lock()
	s.scopes = r
	s.mu.Unlock()
}

// SetDeleteGuard sets the veto consulted before an API is deleted.
func (s *Service) SetDeleteGuard(g DeleteGuard) {
	s.mu.Lock()
	s.guard = g
	s.mu.Unlock()
}

// SetPolicyLister sets the source of throttling policies.
func (s *Service) SetPolicyLister(p PolicyLister) {
	s.mu.Lock()
	s.policies = p
	s.mu.Unlock()
}

func (s *Service) registrar() ScopeRegistrar {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.scopes
}

// Policies returns the policy source in use (DefaultPolicies when none is set).
func (s *Service) Policies() PolicyLister {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.policies == nil {
		return DefaultPolicies{}
	}
	return s.policies
}

// Environments lists the gateway environments: the configured ones, then
// the admin-created ones (as last loaded; see ListEnvironments).
func (s *Service) Environments() []Environment {
	return s.allEnvironments()
}

func (s *Service) environment(name string) (Environment, bool) {
	for _, e := range s.allEnvironments() {
		if e.Name == name {
			return e, true
		}
	}
	return Environment{}, false
}

// APIEvent is the payload of the API events the catalog publishes.
type APIEvent struct {
	APIID          string `json:"apiId"`
	Name           string `json:"name"`
	Version        string `json:"version"`
	Context        string `json:"context"`
	Provider       string `json:"provider"`
	LifecycleState string `json:"apiStatus,omitempty"`
	PreviousState  string `json:"previousStatus,omitempty"`
	RevisionID     string `json:"revisionId,omitempty"`
	Environment    string `json:"environment,omitempty"`
	VHost          string `json:"vhost,omitempty"`
}

func eventOf(a *API) APIEvent {
	return APIEvent{APIID: a.ID, Name: a.Name, Version: a.Version, Context: a.Context, Provider: a.Provider, LifecycleState: a.LifeCycleStatus}
}

// publish sends events after a commit; a bus failure is logged, because the
// change is already stored and gateways also resynchronise periodically.
func (s *Service) publish(ctx context.Context, typ string, payloads ...APIEvent) {
	if s.bus == nil {
		return
	}
	for _, p := range payloads {
		if err := s.bus.Publish(ctx, events.New(typ, p)); err != nil {
			s.log.Warn("publish API event", "type", typ, "api", p.APIID, "err", err)
		}
	}
}
