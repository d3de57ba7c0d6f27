package subscription

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/keyway/keyway/internal/apim/keymanager"
	"github.com/keyway/keyway/internal/secret"
)

// KeyManagers hands out connectors by key manager name (keymanager.Service).
type KeyManagers interface {
	Connector(ctx context.Context, name string) (keymanager.Connector, *keymanager.Config, error)
}

// Manager runs the key operations of applications: it creates, maps,
// updates and deletes OAuth clients at key managers and keeps the key
// mappings in step, undoing the remote change when the local one fails.
type Manager struct {
	Store  *Store
	KMs    KeyManagers
	Sealer *secret.Sealer
	Logger *slog.Logger
}

// GenerateRequest asks for a new OAuth client of an application.
type GenerateRequest struct {
	KeyType     string
	KeyManager  string
	GrantTypes  []string
	CallbackURL string
	Scopes      []string
	Properties  map[string]any
	// ClientID and ClientSecret preset the key where the key manager allows it.
	ClientID     string
	ClientSecret string
}

// Keys is a key mapping with the client as the key manager reports it and,
// after generation, a first token.
type Keys struct {
	Mapping *KeyMapping
	Client  *keymanager.Client
	Token   *keymanager.Token
}

func (m *Manager) log() *slog.Logger {
	if m.Logger == nil {
		return slog.Default()
	}
	return m.Logger
}

// ClientName is WSO2's OAuth client name for an application's keys:
// <owner>_<application uuid>_<key type>, with a user-store separator
// replaced by "_".
func ClientName(app *Application, keyType string) string {
	owner := strings.ReplaceAll(app.Owner, "/", "_")
	return owner + "_" + app.UUID + "_" + keyType
}

func grantsHave(grants []string, g string) bool { return slices.Contains(grants, g) }

// GenerateKeys creates an OAuth client at the key manager and maps it.
func (m *Manager) GenerateKeys(ctx context.Context, app *Application, req GenerateRequest) (*Keys, error) {
	if !validKeyType(req.KeyType) {
		return nil, invalid("keyType must be PRODUCTION or SANDBOX")
	}
	if req.KeyManager == "" {
		req.KeyManager = keymanager.ResidentName
	}
	if _, err := m.Store.oneKey(ctx, `WHERE app_uuid = ? AND key_type = ? AND key_manager = ?`, app.UUID, req.KeyType, req.KeyManager); err == nil {
		return nil, fmt.Errorf("%w: %s keys of key manager %s are already generated for application %s", ErrConflict, req.KeyType, req.KeyManager, app.Name)
	}
	conn, cfg, err := m.KMs.Connector(ctx, req.KeyManager)
	if err != nil {
		return nil, err
	}
	if !cfg.EnableOAuthAppCreation {
		return nil, invalid("key manager %s does not allow OAuth application creation", cfg.Name)
	}
	grants := cleanGrants(req.GrantTypes)
	if err := checkGrants(cfg, grants, req.CallbackURL); err != nil {
		return nil, err
	}
	client, err := conn.RegisterClient(ctx, keymanager.ClientRequest{ClientID: req.ClientID, ClientSecret: req.ClientSecret,
		ClientName: ClientName(app, req.KeyType), AppName: app.Name, Owner: app.Owner, KeyType: req.KeyType, GrantTypes: grants,
		CallbackURL: req.CallbackURL, TokenType: app.TokenType, Properties: req.Properties})
	if err != nil {
		return nil, err
	}
	k := &KeyMapping{ApplicationUUID: app.UUID, KeyType: req.KeyType, KeyManager: cfg.Name, KeyManagerID: cfg.ID,
		ConsumerKey: client.ClientID, Mode: ModeCreated, GrantTypes: client.GrantTypes, CallbackURL: client.CallbackURL,
		AdditionalProperties: mergeProps(req.Properties, client.Properties)}
	err = m.sealIfNeeded(conn, k, client.ClientSecret)
	if err == nil {
		err = m.Store.CreateKeyMapping(ctx, k)
	}
	if err != nil {
		m.undo(ctx, conn, cfg.Name, client.ClientID)
		return nil, err
	}
	keys := &Keys{Mapping: k, Client: client}
	if cfg.EnableTokenGeneration && grantsHave(client.GrantTypes, "client_credentials") {
		tok, err := conn.Token(ctx, client.ClientID, client.ClientSecret, req.Scopes)
		if err != nil {
			// The keys exist and are usable; the first token is a convenience.
			m.log().Warn("first application token failed", "application", app.UUID, "key_manager", cfg.Name, "err", err)
		} else {
			keys.Token = tok
		}
	}
	return keys, nil
}

func (m *Manager) undo(ctx context.Context, conn keymanager.Connector, km, clientID string) {
	if err := conn.DeleteClient(context.WithoutCancel(ctx), clientID); err != nil {
		m.log().Error("could not delete an OAuth client after a failed key mapping", "key_manager", km, "client_id", clientID, "err", err)
	}
}

func (m *Manager) sealIfNeeded(conn keymanager.Connector, k *KeyMapping, secret string) error {
	if conn.RetainsSecret() || secret == "" {
		k.SealedSecret = ""
		return nil
	}
	sealed, err := m.Sealer.Seal(secret)
	if err != nil {
		return fmt.Errorf("seal consumer secret: %w", err)
	}
	k.SealedSecret = sealed
	return nil
}

func cleanGrants(in []string) []string {
	out := []string{}
	for _, g := range in {
		if g = strings.TrimSpace(g); g != "" && !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

// checkGrants refuses grant types the key manager does not offer, and the
// code/implicit grants without a callback URL, as WSO2 does.
func checkGrants(cfg *keymanager.Config, grants []string, callback string) error {
	for _, g := range grants {
		if len(cfg.AvailableGrantTypes) > 0 && !slices.Contains(cfg.AvailableGrantTypes, g) && !slices.ContainsFunc(cfg.AvailableGrantTypes,
			func(a string) bool { return strings.HasSuffix(a, ":"+g) || strings.HasSuffix(g, ":"+a) }) {
			return invalid("grant type %s is not supported by key manager %s", g, cfg.Name)
		}
		if (g == "authorization_code" || g == "implicit") && strings.TrimSpace(callback) == "" {
			return invalid("a callback URL is required for the %s grant", g)
		}
	}
	return nil
}

func mergeProps(req, remote map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range req {
		out[k] = v
	}
	for k, v := range remote {
		out[k] = v
	}
	return out
}

// MapKeys maps an existing client of a key manager to the application.
func (m *Manager) MapKeys(ctx context.Context, app *Application, keyType, km, consumerKey, consumerSecret string) (*Keys, error) {
	if !validKeyType(keyType) {
		return nil, invalid("keyType must be PRODUCTION or SANDBOX")
	}
	if strings.TrimSpace(consumerKey) == "" {
		return nil, invalid("consumerKey is required")
	}
	if km == "" {
		km = keymanager.ResidentName
	}
	conn, cfg, err := m.KMs.Connector(ctx, km)
	if err != nil {
		return nil, err
	}
	if !cfg.EnableMapOAuthConsumerApps {
		return nil, invalid("key manager %s does not allow mapping existing OAuth applications", cfg.Name)
	}
	client, err := conn.MapClient(ctx, consumerKey, consumerSecret)
	if err != nil {
		return nil, err
	}
	if client.ClientSecret == "" {
		client.ClientSecret = consumerSecret
	}
	k := &KeyMapping{ApplicationUUID: app.UUID, KeyType: keyType, KeyManager: cfg.Name, KeyManagerID: cfg.ID,
		ConsumerKey: client.ClientID, Mode: ModeMapped, GrantTypes: client.GrantTypes, CallbackURL: client.CallbackURL,
		AdditionalProperties: client.Properties}
	if err := m.sealIfNeeded(conn, k, client.ClientSecret); err != nil {
		return nil, err
	}
	if err := m.Store.CreateKeyMapping(ctx, k); err != nil {
		return nil, err
	}
	return &Keys{Mapping: k, Client: client}, nil
}

// Client returns the key manager's view of a mapping's client, with the
// secret (from the key manager, or the sealed copy). A key manager that
// cannot be reached yields the stored details without a secret.
func (m *Manager) Client(ctx context.Context, k *KeyMapping) (*keymanager.Client, error) {
	stored := &keymanager.Client{ClientID: k.ConsumerKey, GrantTypes: k.GrantTypes, CallbackURL: k.CallbackURL, Properties: k.AdditionalProperties}
	if k.SealedSecret != "" {
		s, err := m.Sealer.Open(k.SealedSecret)
		if err != nil {
			return nil, fmt.Errorf("open consumer secret: %w", err)
		}
		stored.ClientSecret = s
		return stored, nil
	}
	conn, _, err := m.KMs.Connector(ctx, k.KeyManager)
	if err != nil {
		m.log().Warn("key manager unavailable", "key_manager", k.KeyManager, "err", err)
		return stored, nil
	}
	c, err := conn.GetClient(ctx, k.ConsumerKey)
	if err != nil {
		if errors.Is(err, keymanager.ErrClientNotFound) {
			return nil, err
		}
		m.log().Warn("read OAuth client failed", "key_manager", k.KeyManager, "err", err)
		return stored, nil
	}
	return c, nil
}

// UpdateKeys changes a client's grant types, callback and properties.
func (m *Manager) UpdateKeys(ctx context.Context, app *Application, k *KeyMapping, grants []string, callback string, props map[string]any) (*Keys, error) {
	conn, cfg, err := m.KMs.Connector(ctx, k.KeyManager)
	if err != nil {
		return nil, err
	}
	grants = cleanGrants(grants)
	if err := checkGrants(cfg, grants, callback); err != nil {
		return nil, err
	}
	cur, err := m.Client(ctx, k)
	if err != nil {
		return nil, err
	}
	if props == nil {
		props = k.AdditionalProperties
	}
	client, err := conn.UpdateClient(ctx, keymanager.ClientRequest{ClientID: k.ConsumerKey, ClientSecret: cur.ClientSecret,
		ClientName: ClientName(app, k.KeyType), AppName: app.Name, Owner: app.Owner, KeyType: k.KeyType, GrantTypes: grants,
		CallbackURL: callback, TokenType: app.TokenType, Properties: props})
	if err != nil {
		return nil, err
	}
	if client.ClientSecret == "" {
		client.ClientSecret = cur.ClientSecret
	}
	k.GrantTypes, k.CallbackURL, k.AdditionalProperties = client.GrantTypes, client.CallbackURL, mergeProps(props, client.Properties)
	if err := m.Store.UpdateKeyMapping(ctx, k); err != nil {
		return nil, err
	}
	return &Keys{Mapping: k, Client: client}, nil
}

// RegenerateSecret gives the client a new secret where the key manager can.
func (m *Manager) RegenerateSecret(ctx context.Context, k *KeyMapping) (string, error) {
	conn, _, err := m.KMs.Connector(ctx, k.KeyManager)
	if err != nil {
		return "", err
	}
	s, err := conn.RegenerateSecret(ctx, k.ConsumerKey)
	if err != nil {
		return "", err
	}
	if k.SealedSecret != "" {
		if err := m.sealIfNeeded(conn, k, s); err != nil {
			return "", err
		}
		if err := m.Store.UpdateKeyMapping(ctx, k); err != nil {
			return "", err
		}
	}
	return s, nil
}

// Token gets an application token for a mapping; secret may be empty when
// the key manager or the sealed copy has it.
func (m *Manager) Token(ctx context.Context, k *KeyMapping, secret string, scopes []string) (*keymanager.Token, error) {
	conn, cfg, err := m.KMs.Connector(ctx, k.KeyManager)
	if err != nil {
		return nil, err
	}
	if !cfg.EnableTokenGeneration {
		return nil, invalid("key manager %s does not allow token generation", cfg.Name)
	}
	if secret == "" {
		c, err := m.Client(ctx, k)
		if err != nil {
			return nil, err
		}
		secret = c.ClientSecret
	}
	if secret == "" {
		return nil, invalid("consumerSecret is required")
	}
	return conn.Token(ctx, k.ConsumerKey, secret, scopes)
}

// DeleteKeys deletes a mapping, and the client at the key manager when
// Keyway created it (a mapped client belongs to someone else).
func (m *Manager) DeleteKeys(ctx context.Context, k *KeyMapping) error {
	if k.Mode == ModeCreated {
		conn, _, err := m.KMs.Connector(ctx, k.KeyManager)
		if err != nil && !errors.Is(err, keymanager.ErrNotFound) {
			return err
		}
		if err == nil {
			if err := conn.DeleteClient(ctx, k.ConsumerKey); err != nil {
				return err
			}
		}
	}
	return m.Store.DeleteKeyMapping(ctx, k.UUID)
}

// DeleteApplication deletes the application's OAuth clients at their key
// managers, then the application with its subscriptions and mappings.
func (m *Manager) DeleteApplication(ctx context.Context, app *Application) error {
	keys, err := m.Store.KeyMappingsOf(ctx, app.UUID)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := m.DeleteKeys(ctx, k); err != nil {
			return fmt.Errorf("delete keys of key manager %s: %w", k.KeyManager, err)
		}
	}
	return m.Store.DeleteApplication(ctx, app.UUID)
}
