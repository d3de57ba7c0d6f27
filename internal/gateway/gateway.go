// Package gateway composes Keyway's data plane: every API call passes
// route → authenticate → authorize → throttle → proxy, reading an immutable
// compiled snapshot behind an atomic pointer (no database access and no
// lock on the request path). The snapshot is rebuilt from a runtime.Source
// when control-plane events arrive; token revocations apply at once.
package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyway/keyway/internal/events"
	"github.com/keyway/keyway/internal/gateway/apikey"
	"github.com/keyway/keyway/internal/gateway/authn"
	"github.com/keyway/keyway/internal/gateway/backendjwt"
	"github.com/keyway/keyway/internal/gateway/jwks"
	"github.com/keyway/keyway/internal/gateway/proxy"
	"github.com/keyway/keyway/internal/gateway/revocation"
	"github.com/keyway/keyway/internal/gateway/snapshot"
	"github.com/keyway/keyway/internal/keystore"
	"github.com/keyway/keyway/internal/runtime"
	"github.com/keyway/keyway/internal/throttle"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"
)

// APIKeyVerifier verifies the apikey header (see package apikey for the
// control plane's issuer and the matching verifier).
type APIKeyVerifier = authn.APIKeyVerifier

// Config wires a Gateway. Source is required; everything else is optional.
type Config struct {
	Source runtime.Source
	// Bus delivers control-plane events and revocations; nil means the
	// snapshot changes only through Reload (or FollowRemote).
	Bus events.Bus
	// Trust verifies key managers (JWKS, introspection) and TLS backends.
	Trust *keystore.TrustStore
	// KeyManagerClient talks to key managers (JWKS, introspection); nil
	// means Trust.HTTPClient(15 s). A gateway-only node wraps its transport
	// in a KeySetCache.
	KeyManagerClient *http.Client
	// Signer signs the backend JWT (X-JWT-Assertion) when the snapshot
	// enables it.
	Signer *keystore.KeyStore
	// Redis makes throttling cluster-wide.
	Redis   *redis.Client
	Logger  *slog.Logger
	Metrics prometheus.Registerer
	// APIKeys overrides how apikey headers are verified; nil (the usual
	// case) trusts the API-key issuers the runtime snapshot lists.
	APIKeys APIKeyVerifier
	// Tracer makes a span per request; nil means no spans (pass
	// otel.GetTracerProvider() when an exporter is configured; even a no-op
	// provider costs allocations on every request).
	Tracer trace.TracerProvider
	// ClockSkew for exp/nbf (default 5 min).
	ClockSkew time.Duration
	// TokenCacheSize bounds the verified-token cache (default 100000).
	TokenCacheSize int
	// DisableTokenCache verifies every token (benchmarks only).
	DisableTokenCache bool
	// JWKSMinRefetch bounds unknown-kid refetches (default 10 s).
	JWKSMinRefetch time.Duration
}

// Gateway is the data plane. It implements platform.Gateway.
type Gateway struct {
	cfg      Config
	logger   *slog.Logger
	state    atomic.Pointer[state]
	revoked  *revocation.Set
	authn    *authn.Authenticator
	jwks     *jwks.Cache
	proxy    *proxy.Proxy
	limiter  throttle.Limiter
	backend  *backendjwt.Signer
	metrics  *metrics
	tracer   trace.Tracer
	reloadMu sync.Mutex
	// eventGen counts change events; loadedGen (under reloadMu) is the
	// eventGen value the serving snapshot is known to include.
	eventGen  atomic.Uint64
	loadedGen uint64
	kick      chan struct{}
	stop      chan struct{}
	done      chan struct{}
	unsub     func()
	closeOnce sync.Once
	pool      sync.Pool
}

// state is one compiled snapshot with its per-API metric handles.
type state struct {
	snap  *snapshot.Snapshot
	raw   *runtime.Snapshot
	stats []*apiStats
	kmSig string
	// apiKeys verifies API keys against the snapshot's issuers.
	apiKeys apikey.Trusted
	// jwtHeader is the backend JWT header name, canonicalized once here
	// rather than on every request.
	jwtHeader string
}

// New builds the gateway, loads the first snapshot (a failure is logged and
// retried in the background; until then every request gets 404) and
// subscribes to the bus.
func New(ctx context.Context, cfg Config) (*Gateway, error) {
	if cfg.Source == nil {
		return nil, errors.New("gateway: a runtime source is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	logger := cfg.Logger.With("component", "gateway")
	client := &http.Client{Timeout: 15 * time.Second}
	if cfg.Trust != nil {
		client = cfg.Trust.HTTPClient(15 * time.Second)
	}
	if cfg.KeyManagerClient != nil {
		client = cfg.KeyManagerClient
	}
	g := &Gateway{cfg: cfg, logger: logger, revoked: revocation.NewSet(),
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	g.jwks = jwks.New(client, jwks.Options{MinRefetch: cfg.JWKSMinRefetch, Logger: logger})
	var keys APIKeyVerifier = snapshotAPIKeys{g}
	if cfg.APIKeys != nil {
		keys = cfg.APIKeys
	}
	g.authn = authn.New(authn.Config{JWKS: g.jwks, Client: client, Revoked: g.revoked, APIKeys: keys,
		ClockSkew: cfg.ClockSkew, CacheSize: cfg.TokenCacheSize, DisableCache: cfg.DisableTokenCache})
	g.proxy = proxy.New(cfg.Trust, proxy.Options{Logger: logger})
	if cfg.Redis != nil {
		g.limiter = throttle.NewRedis(cfg.Redis, throttle.RedisOptions{Logger: logger, Metrics: cfg.Metrics})
	} else {
		g.limiter = throttle.NewLocal()
	}
	if cfg.Signer != nil {
		s, err := backendjwt.New(cfg.Signer, 0)
		if err != nil {
			return nil, err
		}
		g.backend = s
	}
	g.metrics = newMetrics(cfg.Metrics)
	if cfg.Tracer != nil {
		g.tracer = cfg.Tracer.Tracer("github.com/keyway/keyway/internal/gateway")
	}
	g.pool.New = func() any { return new(exchange) }
	g.state.Store(g.newState(snapshot.Empty(), nil))
	if err := g.Reload(ctx); err != nil {
		logger.Warn("initial snapshot unavailable; serving nothing until it loads", "error", err)
		g.kickReload()
	}
	if cfg.Bus != nil {
		g.unsub = cfg.Bus.Subscribe(g.onEvent)
	}
	go g.reloadLoop()
	limiter := "local"
	if cfg.Redis != nil {
		limiter = "redis"
	}
	logger.Info("gateway ready", "throttling", limiter, "backend_jwt", g.backend != nil,
		"api_keys", apiKeySource(cfg), "event_bus", cfg.Bus != nil, "tracing", g.tracer != nil)
	return g, nil
}

// Name implements platform.Component.
func (g *Gateway) Name() string { return "gateway" }

// Mount implements platform.Component; the gateway has no management routes
// (the revocation receiver is revocation.Service, mounted by the control plane).
func (g *Gateway) Mount(*http.ServeMux) {}

// GatewayHandler serves the gateway listeners (8280/8243).
func (g *Gateway) GatewayHandler() http.Handler { return g }

// Revoked exposes the revocation set (for tests and admin tools).
func (g *Gateway) Revoked() *revocation.Set { return g.revoked }

// Revision returns the revision of the snapshot being served.
func (g *Gateway) Revision() int64 { return g.state.Load().snap.Revision }

// Close stops background work and drops idle backend connections.
func (g *Gateway) Close(context.Context) error {
	g.closeOnce.Do(func() {
		if g.unsub != nil {
			g.unsub()
		}
		close(g.stop)
		<-g.done
		g.jwks.Close()
		g.proxy.Close()
	})
	return nil
}

// Reload fetches and compiles the current snapshot and swaps it in. On
// failure the previous snapshot keeps serving.
func (g *Gateway) Reload(ctx context.Context) error {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	gen := g.eventGen.Load()
	if err := g.reloadLocked(ctx); err != nil {
		return err
	}
	g.loadedGen = max(g.loadedGen, gen)
	return nil
}

// reloadAfter makes sure the serving snapshot was read after event number
// target. Concurrent callers coalesce: one reload started after all their
// events satisfies every one of them.
func (g *Gateway) reloadAfter(ctx context.Context, target uint64) error {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	if g.loadedGen >= target {
		return nil
	}
	gen := g.eventGen.Load()
	if err := g.reloadLocked(ctx); err != nil {
		return err
	}
	g.loadedGen = max(g.loadedGen, gen)
	return nil
}

func (g *Gateway) reloadLocked(ctx context.Context) error {
	rs, err := g.cfg.Source.Snapshot(ctx)
	if err != nil {
		return fmt.Errorf("load runtime snapshot: %w", err)
	}
	if rs == nil {
		return errors.New("load runtime snapshot: source returned nothing")
	}
	if rs == g.state.Load().raw {
		return nil
	}
	compiled, err := snapshot.Compile(rs)
	if err != nil {
		return fmt.Errorf("compile runtime snapshot %d: %w", rs.Revision, err)
	}
	g.revoked.Add(rs.RevokedTokens...)
	for _, c := range rs.RevokedConsumerKeys {
		g.revoked.AddConsumerKey(c.ConsumerKey, c.RevocationTime)
	}
	next := g.newState(compiled, rs)
	prev := g.state.Swap(next)
	if prev.kmSig != next.kmSig {
		g.authn.Flush()
	}
	g.metrics.forget(prev, next)
	g.logger.Info("runtime snapshot loaded", "revision", rs.Revision, "apis", len(compiled.APIs))
	return nil
}

func (g *Gateway) newState(s *snapshot.Snapshot, raw *runtime.Snapshot) *state {
	st := &state{snap: s, raw: raw, jwtHeader: backendjwt.DefaultHeader}
	if s.BackendJWT.Header != "" {
		st.jwtHeader = s.BackendJWT.Header
	}
	st.jwtHeader = http.CanonicalHeaderKey(st.jwtHeader)
	for _, a := range s.APIs {
		st.stats = append(st.stats, g.metrics.forAPI(a.Name, a.Version))
	}
	if raw != nil {
		// A change of trusted issuers (key managers or API-key signers)
		// flushes the verified-token cache.
		b, _ := json.Marshal(struct {
			KM []runtime.KeyManager
			AK []runtime.APIKeyIssuer
		}{raw.KeyManagers, raw.APIKeyIssuers})
		st.kmSig = string(b)
		keys, err := apikey.FromSnapshot(raw.APIKeyIssuers)
		if err != nil {
			g.logger.Warn("API key issuer left out of the snapshot's trust", "revision", raw.Revision, "error", err)
		}
		st.apiKeys = keys
	}
	return st
}

func (g *Gateway) kickReload() {
	select {
	case g.kick <- struct{}{}:
	default:
	}
}

// onEvent runs on the bus's goroutine: revocations apply immediately; any
// other change reloads the snapshot before returning, so that when the
// control plane's Publish returns on an in-process bus the gateway already
// serves the change (events.Local's contract). Bursts coalesce; requests are
// never blocked (they keep reading the previous snapshot). A failed reload
// is retried in the background.
func (g *Gateway) onEvent(e events.Event) {
	switch e.Type {
	case events.TokenRevoked:
		var rt runtime.RevokedToken
		if err := json.Unmarshal(e.Payload, &rt); err != nil || rt.Token == "" {
			g.logger.Warn("bad token revocation event", "event_id", e.ID, "error", err)
			return
		}
		g.revoked.Add(rt)
	case events.ConsumerKeyRevoked:
		var rc runtime.RevokedConsumerKey
		if err := json.Unmarshal(e.Payload, &rc); err != nil || rc.ConsumerKey == "" {
			g.logger.Warn("bad consumer key revocation event", "event_id", e.ID, "error", err)
			return
		}
		g.revoked.AddConsumerKey(rc.ConsumerKey, rc.RevocationTime)
	case events.SubjectEntityRevoked:
	default:
		target := g.eventGen.Add(1)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := g.reloadAfter(ctx, target); err != nil {
			g.logger.Warn("snapshot reload after event failed; retrying in the background", "event", e.Type, "error", err)
			g.kickReload()
		}
	}
}

func (g *Gateway) reloadLoop() {
	defer close(g.done)
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-g.kick:
		case <-retry.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := g.Reload(ctx)
		cancel()
		if err != nil {
			g.logger.Warn("snapshot reload failed; serving the previous one", "error", err)
			retry.Reset(5 * time.Second)
		}
	}
}
