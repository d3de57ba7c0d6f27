package keymanager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/events"
	"github.com/keyway/keyway/internal/secret"
)

// Factory builds a connector for a configuration whose secrets are open.
type Factory func(cfg *Config, client *http.Client) (Connector, error)

// Options configure the Service.
type Options struct {
	// Sealer seals connector secrets at rest (required).
	Sealer *secret.Sealer
	// HTTPClient is the truststore client every remote call uses (required).
	HTTPClient *http.Client
	// Bus receives KEY_MANAGER_CONFIGURATION events; may be nil.
	Bus    events.Bus
	Logger *slog.Logger
	// InUse reports whether applications hold keys of a key manager; a key
	// manager in use cannot be deleted. May be nil.
	InUse func(ctx context.Context, name string) (bool, error)
}

// Service manages key manager configurations and hands out connectors.
type Service struct {
	st        store
	opts      Options
	mu        sync.RWMutex
	factories map[string]Factory
}

// New migrates the schema and registers the built-in remote connectors
// (WSO2-IS-7 and OIDC); the resident one is added with SetFactory.
func New(ctx context.Context, d *db.DB, opts Options) (*Service, error) {
	if opts.Sealer == nil || opts.HTTPClient == nil {
		return nil, errors.New("keymanager: Sealer and HTTPClient are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := d.Migrate(ctx, "apim-keymanager", migrations); err != nil {
		return nil, fmt.Errorf("keymanager: %w", err)
	}
	s := &Service{st: store{db: d}, opts: opts, factories: map[string]Factory{}}
	s.SetFactory(TypeWSO2IS7, func(cfg *Config, c *http.Client) (Connector, error) { return NewIS7(cfg, c) })
	s.SetFactory(TypeOIDC, func(cfg *Config, c *http.Client) (Connector, error) { return NewOIDC(cfg, c) })
	return s, nil
}

// SetFactory registers the connector of a key manager type.
func (s *Service) SetFactory(typ string, f Factory) {
	s.mu.Lock()
	s.factories[typ] = f
	s.mu.Unlock()
}

func (s *Service) factory(typ string) (Factory, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	f, ok := s.factories[typ]
	return f, ok
}

// Types lists the connector types that can be configured.
func (s *Service) Types() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Sorted(maps.Keys(s.factories))
}

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

// normalize validates c and fills WSO2's defaults.
func (s *Service) normalize(c *Config) error {
	c.Name = strings.TrimSpace(c.Name)
	if c.Name == "" || len(c.Name) > 100 {
		return invalid("name is required and must be at most 100 characters")
	}
	if c.Type == "" || len(c.Type) > 45 {
		return invalid("type is required and must be at most 45 characters")
	}
	if _, ok := s.factory(c.Type); !ok {
		return invalid("unsupported key manager type %s (supported: %s)", c.Type, strings.Join(s.Types(), ", "))
	}
	if len(c.DisplayName) > 100 || len(c.Description) > 256 {
		return invalid("displayName must be at most 100 and description at most 256 characters")
	}
	if c.DisplayName == "" {
		c.DisplayName = c.Name
	}
	switch c.TokenType {
	case "":
		c.TokenType = "DIRECT"
	case "DIRECT", "EXCHANGED", "BOTH":
	default:
		return invalid("tokenType must be DIRECT, EXCHANGED or BOTH")
	}
	if c.ConsumerKeyClaim == "" {
		c.ConsumerKeyClaim = "azp"
	}
	if c.ScopesClaim == "" {
		c.ScopesClaim = "scope"
	}
	if c.Certificates != nil {
		switch strings.ToUpper(c.Certificates.Type) {
		case "":
			if c.Certificates.Value != "" {
				return invalid("certificates.type must be JWKS or PEM")
			}
			c.Certificates = nil
		case "JWKS":
			c.Certificates.Type = "JWKS"
			if err := checkURL("certificates.value", c.Certificates.Value); err != nil {
				return err
			}
		case "PEM":
			c.Certificates.Type = "PEM"
		default:
			return invalid("certificates.type must be JWKS or PEM")
		}
	}
	for name, v := range map[string]string{"wellKnownEndpoint": c.WellKnownEndpoint, "introspectionEndpoint": c.IntrospectionEndpoint,
		"clientRegistrationEndpoint": c.ClientRegistrationEndpoint, "tokenEndpoint": c.TokenEndpoint, "revokeEndpoint": c.RevokeEndpoint,
		"userInfoEndpoint": c.UserInfoEndpoint, "authorizeEndpoint": c.AuthorizeEndpoint, "scopeManagementEndpoint": c.ScopeManagementEndpoint} {
		if v != "" {
			if err := checkURL(name, v); err != nil {
				return err
			}
		}
	}
	if c.Permissions == nil {
		c.Permissions = &Permissions{PermissionType: "PUBLIC", Roles: []string{}}
	}
	switch c.Permissions.PermissionType {
	case "":
		c.Permissions.PermissionType = "PUBLIC"
	case "PUBLIC", "ALLOW", "DENY":
	default:
		return invalid("permissions.permissionType must be PUBLIC, ALLOW or DENY")
	}
	if c.Permissions.Roles == nil {
		c.Permissions.Roles = []string{}
	}
	if c.AvailableGrantTypes == nil {
		c.AvailableGrantTypes = []string{}
	}
	if c.ClaimMapping == nil {
		c.ClaimMapping = []ClaimMapping{}
	}
	if c.TokenValidation == nil {
		c.TokenValidation = []TokenValidation{}
	}
	if c.AdditionalProperties == nil {
		c.AdditionalProperties = map[string]any{}
	}
	if c.AllowedOrganizations == nil {
		c.AllowedOrganizations = []string{}
	}
	return nil
}

func checkURL(field, v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return invalid("%s must be an http(s) URL", field)
	}
	return nil
}

// split takes the secret properties out of c, sealing them; old holds the
// sealed values kept when a property is absent or masked.
func (s *Service) split(c *Config, old map[string]string) (map[string]string, error) {
	sealed := map[string]string{}
	for k, v := range old {
		sealed[k] = v
	}
	for k, v := range c.AdditionalProperties {
		if !isSecretProperty(k) {
			continue
		}
		delete(c.AdditionalProperties, k)
		str, _ := v.(string)
		if str == Masked {
			continue
		}
		if str == "" {
			delete(sealed, k)
			continue
		}
		enc, err := s.opts.Sealer.Seal(str)
		if err != nil {
			return nil, fmt.Errorf("seal %s: %w", k, err)
		}
		sealed[k] = enc
	}
	return sealed, nil
}

// open returns a copy of cfg with its secrets opened.
func (s *Service) open(st stored) (*Config, error) {
	c := clone(st.cfg)
	for k, v := range st.sealed {
		plain, err := s.opts.Sealer.Open(v)
		if err != nil {
			return nil, fmt.Errorf("open secret %s of key manager %s: %w", k, c.Name, err)
		}
		c.AdditionalProperties[k] = plain
	}
	return c, nil
}

func masked(st stored) *Config {
	c := clone(st.cfg)
	for k := range st.sealed {
		c.AdditionalProperties[k] = Masked
	}
	return c
}

func clone(c *Config) *Config {
	cp := *c
	cp.AdditionalProperties = maps.Clone(c.AdditionalProperties)
	if cp.AdditionalProperties == nil {
		cp.AdditionalProperties = map[string]any{}
	}
	return &cp
}

// check builds the connector once so that a configuration that cannot work
// (missing endpoint or credential) is refused before it is stored.
func (s *Service) check(st stored) error {
	open, err := s.open(st)
	if err != nil {
		return err
	}
	f, _ := s.factory(open.Type)
	if _, err := f(open, s.opts.HTTPClient); err != nil {
		if errors.Is(err, ErrInvalid) {
			return err
		}
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return nil
}

// Create validates and stores a new key manager; c gets its id, and its
// secrets come back masked.
func (s *Service) Create(ctx context.Context, c *Config) error {
	c.ID = ""
	if err := s.normalize(c); err != nil {
		return err
	}
	sealed, err := s.split(c, nil)
	if err != nil {
		return err
	}
	if err := s.check(stored{cfg: c, sealed: sealed}); err != nil {
		return err
	}
	if err := s.st.insert(ctx, c, sealed); err != nil {
		return err
	}
	*c = *masked(stored{cfg: c, sealed: sealed})
	s.publish(ctx, c, "create")
	return nil
}

// Update replaces a key manager's configuration; the name cannot change,
// and masked or absent secrets keep their stored values.
func (s *Service) Update(ctx context.Context, c *Config) error {
	old, err := s.byID(ctx, c.ID)
	if err != nil {
		return err
	}
	if c.Name != "" && c.Name != old.cfg.Name {
		return invalid("the name of a key manager cannot be changed")
	}
	c.Name = old.cfg.Name
	if err := s.normalize(c); err != nil {
		return err
	}
	if old.cfg.Type == TypeResident && c.Type != TypeResident {
		return invalid("the type of the resident key manager cannot be changed")
	}
	sealed, err := s.split(c, old.sealed)
	if err != nil {
		return err
	}
	if err := s.check(stored{cfg: c, sealed: sealed}); err != nil {
		return err
	}
	c.Created = old.cfg.Created
	if err := s.st.update(ctx, c, sealed); err != nil {
		return err
	}
	*c = *masked(stored{cfg: c, sealed: sealed})
	s.publish(ctx, c, "update")
	return nil
}

// Delete removes a key manager that no application uses. The resident key
// manager cannot be deleted.
func (s *Service) Delete(ctx context.Context, id string) error {
	st, err := s.byID(ctx, id)
	if err != nil {
		return err
	}
	if st.cfg.Type == TypeResident {
		return invalid("the resident key manager cannot be deleted")
	}
	if used, err := s.InUse(ctx, st.cfg.Name); err != nil {
		return err
	} else if used {
		return invalid("key manager %s is used by applications", st.cfg.Name)
	}
	if err := s.st.delete(ctx, id); err != nil {
		return err
	}
	s.publish(ctx, st.cfg, "delete")
	return nil
}

// InUse reports whether applications hold keys of the key manager.
func (s *Service) InUse(ctx context.Context, name string) (bool, error) {
	if s.opts.InUse == nil {
		return false, nil
	}
	return s.opts.InUse(ctx, name)
}

func (s *Service) byID(ctx context.Context, id string) (stored, error) {
	all, err := s.st.query(ctx, `WHERE uuid = ?`, id)
	if err != nil {
		return stored{}, err
	}
	if len(all) == 0 {
		return stored{}, ErrNotFound
	}
	return all[0], nil
}

func (s *Service) byName(ctx context.Context, name string) (stored, error) {
	all, err := s.st.query(ctx, `WHERE name = ?`, name)
	if err != nil {
		return stored{}, err
	}
	if len(all) == 0 {
		return stored{}, ErrNotFound
	}
	return all[0], nil
}

// Get returns a key manager by id, secrets masked.
func (s *Service) Get(ctx context.Context, id string) (*Config, error) {
	st, err := s.byID(ctx, id)
	if err != nil {
		return nil, err
	}
	return masked(st), nil
}

// GetByName returns a key manager by name, secrets masked.
func (s *Service) GetByName(ctx context.Context, name string) (*Config, error) {
	st, err := s.byName(ctx, name)
	if err != nil {
		return nil, err
	}
	return masked(st), nil
}

// List returns every key manager ordered by name, secrets masked.
func (s *Service) List(ctx context.Context) ([]*Config, error) {
	all, err := s.st.query(ctx, `ORDER BY name`)
	if err != nil {
		return nil, err
	}
	out := make([]*Config, 0, len(all))
	for _, st := range all {
		out = append(out, masked(st))
	}
	return out, nil
}

// Connector returns the connector of an enabled key manager by name.
func (s *Service) Connector(ctx context.Context, name string) (Connector, *Config, error) {
	st, err := s.byName(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	if !st.cfg.Enabled {
		return nil, nil, invalid("key manager %s is disabled", name)
	}
	open, err := s.open(st)
	if err != nil {
		return nil, nil, err
	}
	f, ok := s.factory(open.Type)
	if !ok {
		return nil, nil, invalid("no connector for key manager type %s", open.Type)
	}
	conn, err := f(open, s.opts.HTTPClient)
	if err != nil {
		return nil, nil, fmt.Errorf("key manager %s: %w", name, err)
	}
	return conn, masked(st), nil
}

// EnsureResident creates the resident key manager at first start and keeps
// its endpoints in step with the node's base URL afterwards.
func (s *Service) EnsureResident(ctx context.Context, c *Config) error {
	st, err := s.byName(ctx, c.Name)
	if errors.Is(err, ErrNotFound) {
		err := s.Create(ctx, c)
		if errors.Is(err, ErrConflict) {
			return nil // another node created it first
		}
		return err
	}
	if err != nil {
		return err
	}
	cur := st.cfg
	if cur.Issuer == c.Issuer && cur.TokenEndpoint == c.TokenEndpoint && cur.Certificates != nil && c.Certificates != nil &&
		cur.Certificates.Value == c.Certificates.Value {
		return nil
	}
	upd := clone(cur)
	upd.Issuer, upd.TokenEndpoint, upd.RevokeEndpoint = c.Issuer, c.TokenEndpoint, c.RevokeEndpoint
	upd.IntrospectionEndpoint, upd.AuthorizeEndpoint, upd.UserInfoEndpoint = c.IntrospectionEndpoint, c.AuthorizeEndpoint, c.UserInfoEndpoint
	upd.DisplayTokenEndpoint, upd.DisplayRevokeEndpoint = c.DisplayTokenEndpoint, c.DisplayRevokeEndpoint
	upd.Certificates, upd.WellKnownEndpoint = c.Certificates, c.WellKnownEndpoint
	return s.Update(ctx, upd)
}

func (s *Service) publish(ctx context.Context, c *Config, action string) {
	if s.opts.Bus == nil {
		return
	}
	_ = s.opts.Bus.Publish(ctx, events.New(events.KeyManagerChanged, map[string]any{
		"uuid": c.ID, "name": c.Name, "type": c.Type, "enabled": c.Enabled, "action": action}))
}

// RegisterScopes registers scopes at the named key managers (empty or
// "all": every enabled one). Every key manager is tried; the errors are
// joined.
func (s *Service) RegisterScopes(ctx context.Context, keyManagers []string, scopes []Scope) error {
	return s.each(ctx, keyManagers, func(c Connector) error { return c.RegisterScopes(ctx, scopes) })
}

// DeleteScopes removes scopes at the named key managers.
func (s *Service) DeleteScopes(ctx context.Context, keyManagers []string, keys []string) error {
	return s.each(ctx, keyManagers, func(c Connector) error { return c.DeleteScopes(ctx, keys) })
}

func (s *Service) each(ctx context.Context, names []string, fn func(Connector) error) error {
	all, err := s.List(ctx)
	if err != nil {
		return err
	}
	every := len(names) == 0 || slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, "all") })
	var errs []error
	for _, c := range all {
		if !c.Enabled || (!every && !slices.Contains(names, c.Name)) {
			continue
		}
		conn, _, err := s.Connector(ctx, c.Name)
		if err == nil {
			err = fn(conn)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("key manager %s: %w", c.Name, err))
		}
	}
	return errors.Join(errs...)
}
