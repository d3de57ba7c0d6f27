// Package resident is the API Manager's own key manager ("Resident Key
// Manager"): an OAuth engine instance on the shared database whose issuer is
// <base>/oauth2/token, APIM's client registration API used by apictl, the
// scope authorizer that maps apim:* scopes to roles, and the in-process
// connector the key manager service uses for it.
package resident

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/keyway/keyway/internal/apim/keymanager"
	"github.com/keyway/keyway/internal/config"
	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/keystore"
	"github.com/keyway/keyway/internal/oauth"
	"github.com/keyway/keyway/internal/secret"
	"github.com/keyway/keyway/internal/user"
)

// Config is what the resident key manager needs.
type Config struct {
	// BaseURL is the API Manager's management URL (https://host:9443).
	BaseURL string
	DB      *db.DB
	Signer  *keystore.KeyStore
	Sealer  *secret.Sealer
	Users   user.Directory
	// APIScopes lets API scopes be granted; may be nil.
	APIScopes APIScopes
	// Listener hears about revoked tokens (optional).
	Listener   oauth.RevocationListener
	Expiry     config.TokenExpiry
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// KeyManager is the resident key manager.
type KeyManager struct {
	engine  *oauth.Server
	handler *http.ServeMux
	reg     *registrar
	baseURL string
	// Authorizer is exposed so the composition can attach APIScopes later.
	Authorizer *Authorizer
}

// New starts the resident OAuth engine.
func New(ctx context.Context, cfg Config) (*KeyManager, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	authz := &Authorizer{Users: cfg.Users, API: cfg.APIScopes}
	engine, err := oauth.New(ctx, oauth.Config{Issuer: base + "/oauth2/token", BaseURL: base, DB: cfg.DB, Signer: cfg.Signer,
		Sealer: cfg.Sealer, Users: cfg.Users, Scopes: authz, Listener: cfg.Listener, Expiry: cfg.Expiry,
		HTTPClient: cfg.HTTPClient, Logger: cfg.Logger.With("km", "resident"), ProductName: "Keyway API Manager"})
	if err != nil {
		return nil, fmt.Errorf("resident key manager: %w", err)
	}
	mux := http.NewServeMux()
	engine.Mount(mux)
	return &KeyManager{engine: engine, handler: mux, baseURL: base, Authorizer: authz,
		reg: &registrar{clients: engine.Clients(), users: cfg.Users, log: cfg.Logger}}, nil
}

// Engine returns the OAuth engine (token validation for the REST APIs).
func (k *KeyManager) Engine() *oauth.Server { return k.engine }

// Mount registers /oauth2/* and the client registration API.
func (k *KeyManager) Mount(mux *http.ServeMux) {
	k.engine.Mount(mux)
	mux.Handle("POST "+RegistrationPath, k.reg)
}

// Close stops the engine's background work.
func (k *KeyManager) Close() error { return k.engine.Close() }

// Config is the resident key manager's configuration as the admin API
// shows it (type "default").
func (k *KeyManager) Config() *keymanager.Config {
	b := k.baseURL
	return &keymanager.Config{Name: keymanager.ResidentName, DisplayName: keymanager.ResidentName, Type: keymanager.TypeResident,
		Description: "This is Resident Key Manager", Enabled: true, Issuer: b + "/oauth2/token",
		WellKnownEndpoint: b + "/oauth2/token/.well-known/openid-configuration",
		TokenEndpoint:     b + "/oauth2/token", DisplayTokenEndpoint: b + "/oauth2/token", RevokeEndpoint: b + "/oauth2/revoke",
		DisplayRevokeEndpoint: b + "/oauth2/revoke", IntrospectionEndpoint: b + "/oauth2/introspect",
		AuthorizeEndpoint: b + "/oauth2/authorize", UserInfoEndpoint: b + "/oauth2/userinfo",
		ClientRegistrationEndpoint: b + RegistrationPath,
		Certificates:               &keymanager.Certificates{Type: "JWKS", Value: b + "/oauth2/jwks"},
		AvailableGrantTypes: []string{"password", "client_credentials", "refresh_token", "authorization_code",
			"urn:ietf:params:oauth:grant-type:jwt-bearer", "urn:ietf:params:oauth:grant-type:token-exchange",
			"urn:ietf:params:oauth:grant-type:device_code"},
		EnableTokenGeneration: true, EnableMapOAuthConsumerApps: true, EnableOAuthAppCreation: true, EnableSelfValidationJWT: true,
		ConsumerKeyClaim: "azp", ScopesClaim: "scope", TokenType: "DIRECT"}
}

// Factory is the key manager service's connector factory for type
// "default": clients in the engine's store, tokens from the engine's token
// endpoint through an in-process transport (no network hop, no TLS to the
// node itself).
func (k *KeyManager) Factory() keymanager.Factory {
	client := &http.Client{Transport: inProcess{h: k.handler}, Timeout: 30 * time.Second}
	conn := NewResident(k.engine.Clients(), k.engine, client, k.baseURL+"/oauth2/token")
	return func(*keymanager.Config, *http.Client) (keymanager.Connector, error) { return conn, nil }
}

// inProcess serves requests with a handler instead of the network.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	r = r.Clone(r.Context())
	if r.RemoteAddr == "" {
		r.RemoteAddr = "127.0.0.1:0"
	}
	r.RequestURI = r.URL.RequestURI()
	t.h.ServeHTTP(rec, r)
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}
