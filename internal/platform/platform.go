// Package platform is what every component of a role receives when it is
// built: configuration, logger, key material, truststore, metrics, health and
// the event bus. A component takes what it needs from it and knows nothing of
// the role it runs in.
package platform

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/keyway/keyway/internal/config"
	"github.com/keyway/keyway/internal/events"
	"github.com/keyway/keyway/internal/httpx"
	"github.com/keyway/keyway/internal/keystore"
	"github.com/keyway/keyway/internal/secret"
	"github.com/prometheus/client_golang/prometheus"
)

// Platform is shared by the components of one role.
type Platform struct {
	Config *config.Config
	Logger *slog.Logger
	// DataDir holds embedded databases and generated keystores.
	DataDir string
	// Primary signs tokens ([keystore.primary]).
	Primary *keystore.KeyStore
	// TLS serves the listeners ([keystore.tls]).
	TLS *keystore.KeyStore
	// Internal encrypts secrets at rest ([keystore.internal]).
	Internal *keystore.KeyStore
	// Sealer encrypts client secrets and connector passwords at rest.
	Sealer *secret.Sealer
	// Trust verifies every outbound TLS peer.
	Trust   *keystore.TrustStore
	Metrics *prometheus.Registry
	Health  *httpx.Health
	Bus     events.Bus
	// BaseURL is the public https URL of this role's management listener,
	// e.g. https://localhost:9443 (with the port offset applied).
	BaseURL string
}

// Component is one part of a role: it mounts its routes on the management
// listener and releases its resources on Close.
type Component interface {
	Name() string
	Mount(mux *http.ServeMux)
	Close(ctx context.Context) error
}

// Gateway is a component that also serves the gateway listeners.
type Gateway interface {
	Component
	GatewayHandler() http.Handler
}
