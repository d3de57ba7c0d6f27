package oauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/keyway/keyway/internal/config"
	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/keystore"
	"github.com/keyway/keyway/internal/secret"
	"github.com/keyway/keyway/internal/user"
)

// Config is what the engine needs. Issuer, BaseURL, DB, Signer, Sealer and
// Users are required.
type Config struct {
	// Issuer is the exact issuer string, e.g. https://localhost:9444/oauth2/token.
	Issuer string
	// BaseURL is https://host:port; endpoints are BaseURL + /oauth2/...
	BaseURL string
	// DB holds the engine's tables (component "oauth", prefix oauth_).
	DB *db.DB
	// Signer's RSA key is the first token-signing key (kid = Signer.KeyID()).
	Signer *keystore.KeyStore
	// Sealer encrypts client secrets and rotated signing keys at rest.
	Sealer *secret.Sealer
	Users  user.Directory
	// Scopes decides granted scopes; nil grants no scope except openid.
	Scopes ScopeAuthorizer
	// Listener is told about revoked access tokens (optional).
	Listener RevocationListener
	// Expiry in seconds; zero fields get the IS defaults.
	Expiry config.TokenExpiry
	// KeyRotation rotates the signing key this often; 0 disables it.
	KeyRotation time.Duration
	// HTTPClient fetches client jwks_uri documents (truststore-verified).
	HTTPClient *http.Client
	Logger     *slog.Logger
	// IntrospectPermission is the role permission a Basic-auth user needs to
	// call /oauth2/introspect (a user with the admin role always may).
	// Default internal_oauth2_introspect.
	IntrospectPermission string
	// ProductName is shown on the login and consent pages.
	ProductName string
	// OrgID and OrgName fill the org_id/org_name claims; default IS 7's super
	// organisation.
	OrgID, OrgName string
	// SessionLifetime bounds the SSO session; default 12 hours.
	SessionLifetime time.Duration
	// DeviceCodeLifetime defaults to 10 minutes.
	DeviceCodeLifetime time.Duration
	// ClientCacheTTL bounds how long a node trusts its cached copy of a
	// client changed on another node; default 10 s.
	ClientCacheTTL time.Duration
}

// Server is the authorization server engine.
type Server struct {
	cfg     Config
	db      *db.DB
	log     *slog.Logger
	clients *sqlClients
	keys    *keyRing
	journal *journal
	creds   *credCache
	jwks    *jwksCache
	st      stmts
	disc    map[string]any
	discRaw []byte

	tokenURL string
	stop     chan struct{}
	wg       sync.WaitGroup
	closed   sync.Once
}

// Defaults used when Config leaves a field zero.
const (
	defaultOrgID   = "10084a8d-113f-4211-a0d5-efe36b082211"
	defaultOrgName = "Super"
)

// New validates cfg, migrates the engine's tables, loads the signing keys
// and starts the background work (journal, key refresh, rotation, cleanup).
func New(ctx context.Context, cfg Config) (*Server, error) {
	switch {
	case cfg.Issuer == "":
		return nil, errors.New("oauth: Issuer is required")
	case !strings.HasPrefix(cfg.BaseURL, "https://"):
		return nil, fmt.Errorf("oauth: BaseURL %q must be an https URL", cfg.BaseURL)
	case cfg.DB == nil:
		return nil, errors.New("oauth: DB is required")
	case cfg.Signer == nil:
		return nil, errors.New("oauth: Signer is required")
	case cfg.Sealer == nil:
		return nil, errors.New("oauth: Sealer is required")
	case cfg.Users == nil:
		return nil, errors.New("oauth: Users is required")
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	applyExpiryDefaults(&cfg.Expiry)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.IntrospectPermission == "" {
		cfg.IntrospectPermission = "internal_oauth2_introspect"
	}
	if cfg.ProductName == "" {
		cfg.ProductName = "Keyway Identity Server"
	}
	if cfg.OrgID == "" {
		cfg.OrgID = defaultOrgID
	}
	if cfg.OrgName == "" {
		cfg.OrgName = defaultOrgName
	}
	if cfg.SessionLifetime == 0 {
		cfg.SessionLifetime = 12 * time.Hour
	}
	if cfg.DeviceCodeLifetime == 0 {
		cfg.DeviceCodeLifetime = 10 * time.Minute
	}
	if cfg.ClientCacheTTL == 0 {
		cfg.ClientCacheTTL = 10 * time.Second
	}
	if err := cfg.DB.Migrate(ctx, "oauth", migrations); err != nil {
		return nil, fmt.Errorf("oauth: %w", err)
	}
	s := &Server{
		cfg:      cfg,
		db:       cfg.DB,
		log:      cfg.Logger.With("component", "oauth"),
		stop:     make(chan struct{}),
		tokenURL: cfg.BaseURL + "/oauth2/token",
		creds:    newCredCache(),
		jwks:     &jwksCache{m: map[string]jwksEntry{}},
	}
	s.clients = newSQLClients(s)
	if err := s.prepare(ctx); err != nil {
		return nil, err
	}
	s.journal = newJournal(cfg.DB, s.log)
	keys, err := loadKeyRing(ctx, s)
	if err != nil {
		s.journal.close()
		s.st.close()
		return nil, err
	}
	s.keys = keys
	s.disc = s.buildDiscovery()
	s.discRaw = mustJSON(s.disc)
	s.startBackground()
	s.log.Info("oauth engine ready", "issuer", cfg.Issuer, "signing_kid", s.keys.active().kid,
		"key_rotation", cfg.KeyRotation.String())
	return s, nil
}

func applyExpiryDefaults(e *config.TokenExpiry) {
	if e.ApplicationAccessToken <= 0 {
		e.ApplicationAccessToken = 3600
	}
	if e.UserAccessToken <= 0 {
		e.UserAccessToken = 3600
	}
	if e.RefreshToken <= 0 {
		e.RefreshToken = 86400
	}
	if e.AuthorizationCode <= 0 {
		e.AuthorizationCode = 300
	}
	if e.IDToken <= 0 {
		e.IDToken = 3600
	}
}

// Mount registers every endpoint of the engine on mux.
func (s *Server) Mount(mux *http.ServeMux) {
	for _, p := range []string{"/oauth2/token/.well-known/openid-configuration",
		"/.well-known/openid-configuration", "/oauth2/oidcdiscovery/.well-known/openid-configuration",
		"/.well-known/oauth-authorization-server/oauth2/token"} {
		mux.HandleFunc("GET "+p, s.handleDiscovery)
	}
	mux.HandleFunc("GET /oauth2/jwks", s.handleJWKS)
	mux.HandleFunc("/oauth2/token", s.handleToken)
	mux.HandleFunc("/oauth2/authorize", s.handleAuthorize)
	mux.HandleFunc("/oauth2/logout", s.handleLogout)
	mux.HandleFunc("/oauth2/introspect", s.handleIntrospect)
	mux.HandleFunc("/oauth2/revoke", s.handleRevoke)
	mux.HandleFunc("/oauth2/userinfo", s.handleUserInfo)
	mux.HandleFunc("/oauth2/device_authorize", s.handleDeviceAuthorize)
	mux.HandleFunc("/oauth2/device", s.handleDevicePage)
}

// Clients returns the SQL-backed client store (secrets sealed).
func (s *Server) Clients() ClientStore { return s.clients }

// Issuer returns the exact issuer string.
func (s *Server) Issuer() string { return s.cfg.Issuer }

// Close stops background work and flushes pending token writes. It does
// not close the database.
func (s *Server) Close() error {
	s.closed.Do(func() {
		close(s.stop)
		s.wg.Wait()
		s.journal.close()
		s.st.close()
	})
	return nil
}

func (s *Server) startBackground() {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		refresh := time.NewTicker(time.Minute)
		defer refresh.Stop()
		cleanup := time.NewTicker(10 * time.Minute)
		defer cleanup.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-refresh.C:
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				if err := s.keys.reload(ctx); err != nil {
					s.log.Warn("reload signing keys", "err", err)
				}
				if s.cfg.KeyRotation > 0 {
					if err := s.rotateIfDue(ctx); err != nil {
						s.log.Warn("automatic key rotation", "err", err)
					}
				}
				cancel()
			case <-cleanup.C:
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				if err := s.cleanup(ctx); err != nil {
					s.log.Warn("clean expired oauth state", "err", err)
				}
				cancel()
			}
		}
	}()
}

func nowMS() int64 { return time.Now().UnixMilli() }
