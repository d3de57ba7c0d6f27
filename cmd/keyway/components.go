package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"strings"
	"sync"

	"github.com/keyway/keyway/internal/apim"
	"github.com/keyway/keyway/internal/doctor"
	"github.com/keyway/keyway/internal/events"
	"github.com/keyway/keyway/internal/gateway"
	"github.com/keyway/keyway/internal/gateway/revocation"
	"github.com/keyway/keyway/internal/healthcheck"
	"github.com/keyway/keyway/internal/identity"
	"github.com/keyway/keyway/internal/identity/listener"
	"github.com/keyway/keyway/internal/node"
	"github.com/keyway/keyway/internal/platform"
	"github.com/keyway/keyway/internal/secret"
	"github.com/keyway/keyway/internal/ui"
	"github.com/keyway/keyway/internal/user"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
)

// identityComponents are the parts of the Identity Server role: the OAuth2
// and management APIs, the token_revocation sender of the seed's
// [[event_listener]] block, and the console.
func identityComponents(ctx context.Context, p *platform.Platform) ([]platform.Component, error) {
	d, err := node.OpenDatabase(ctx, p, p.Config.Database.Identity, "identity_db")
	if err != nil {
		return nil, err
	}
	comps := []platform.Component{closer{name: "identity-database", close: func(context.Context) error { return d.Close() }}}
	fail := func(err error) ([]platform.Component, error) {
		closeAll(comps)
		return nil, err
	}
	is, err := identity.New(ctx, p, d)
	if err != nil {
		return fail(err)
	}
	comps = append(comps, is)
	if l, ok := p.Config.TokenRevocationListener(); ok {
		sender, err := listener.New(ctx, d, l, p.Trust.HTTPClient(10*time.Second), p.Logger,
			listener.WithRegisterer(p.Metrics), listener.WithSealer(p.Sealer))
		if err != nil {
			return fail(fmt.Errorf("token_revocation event listener: %w", err))
		}
		is.SetRevocationListener(sender)
		// Closed before the engine (components stop in reverse order), after
		// which no revocation can be produced that it would miss.
		comps = append(comps, closer{name: "token-revocation-sender", close: func(context.Context) error { return sender.Close() }})
		p.Logger.Info("token_revocation events enabled", "notification_endpoint", l.Properties["notification_endpoint"])
	}
	if err := ui.EnsureClient(ctx, is.OAuth().Clients(), p.BaseURL, ui.Console); err != nil {
		return fail(err)
	}
	comps = append(comps, ui.New("Keyway Identity Server", ui.Console))
	return comps, nil
}

// apimComponents are the parts of the API Manager all-in-one role
// (control plane, portals and the gateway).
func apimComponents(ctx context.Context, p *platform.Platform) ([]platform.Component, error) {
	apimDB, err := node.OpenDatabase(ctx, p, p.Config.Database.APIM, "apim_db")
	if err != nil {
		return nil, err
	}
	comps := []platform.Component{closer{name: "apim-database", close: func(context.Context) error { return apimDB.Close() }}}
	fail := func(err error) ([]platform.Component, error) {
		closeAll(comps)
		return nil, err
	}
	sharedDB, err := node.OpenDatabase(ctx, p, p.Config.Database.Shared, "shared_db")
	if err != nil {
		return fail(err)
	}
	comps = append(comps, closer{name: "shared-database", close: func(context.Context) error { return sharedDB.Close() }})

	redisClient, err := redisFor(ctx, p)
	if err != nil {
		return fail(err)
	}
	if err := useRedisBus(ctx, p, redisClient); err != nil {
		return fail(err)
	}

	// Revocations from key managers (POST /internal/data/v1/notify) are
	// persisted in apim_db and fanned out on the bus to every gateway.
	users := &lateDirectory{}
	revocations, err := revocation.NewService(ctx, apimDB, p.Bus, users, p.Logger.With("component", "revocation"))
	if err != nil {
		return fail(err)
	}
	// Key managers notify as their super admin (IS sends ${admin.username});
	// no other user may revoke tokens at the gateways.
	adminRole := p.Config.SuperAdmin.AdminRole
	if adminRole == "" {
		adminRole = "admin"
	}
	revocations.RequireRole(adminRole)
	comps = append(comps, closer{name: "revocations", close: func(context.Context) error { return revocations.Close() }})

	cp, err := apim.New(ctx, p, apimDB, sharedDB,
		apim.WithRevocations(revocations),
		apim.WithRevocationListener(residentRevocations{svc: revocations, logger: p.Logger}),
		apim.WithAPIKeyRevoker(apiKeyRevoker(revocations)))
	if err != nil {
		return fail(err)
	}
	users.set(cp.Users())
	comps = append(comps, cp, mounter{name: "notify", mount: revocations.Mount})

	gw, err := gateway.New(ctx, gateway.Config{
		Source: cp.Source(), Bus: p.Bus, Trust: p.Trust, Signer: p.Primary, Redis: redisClient,
		Logger: p.Logger, Metrics: p.Metrics,
	})
	if err != nil {
		return fail(err)
	}
	comps = append(comps, gw)
	portals := []ui.Portal{ui.Publisher, ui.DevPortal, ui.Admin}
	if err := ui.EnsureClient(ctx, cp.Resident().Engine().Clients(), p.BaseURL, portals...); err != nil {
		return fail(err)
	}
	comps = append(comps, ui.New("Keyway API Manager", portals...))
	return comps, nil
}

// gatewayComponents are the parts of a gateway-only node that pulls its
// snapshot from the control plane at controlPlane and keeps serving the last
// one while the control plane is away, across restarts too.
func gatewayComponents(ctx context.Context, p *platform.Platform, controlPlane string) ([]platform.Component, error) {
	redisClient, err := redisFor(ctx, p)
	if err != nil {
		return nil, err
	}
	if err := useRedisBus(ctx, p, redisClient); err != nil {
		return nil, err
	}
	// The last snapshot is persisted so that a node restarted during a
	// control-plane outage still serves.
	cache, err := gateway.NewSnapshotCache(gateway.SnapshotCachePath(p.DataDir), p.Sealer)
	if err != nil {
		return nil, err
	}
	src := gateway.NewRemoteSource(strings.TrimSuffix(controlPlane, "/"), p.Trust.HTTPClient(30*time.Second),
		p.Config.SuperAdmin.Username, p.Config.SuperAdmin.Password,
		gateway.WithSnapshotCache(cache), gateway.WithRemoteLogger(p.Logger))
	// Key sets are persisted too: the resident key manager is the control
	// plane, so a restarted node could not verify a token without them.
	kmClient := p.Trust.HTTPClient(15 * time.Second)
	kmClient.Transport = gateway.NewKeySetCache(kmClient.Transport, gateway.KeySetCachePath(p.DataDir), p.Logger)
	gw, err := gateway.New(ctx, gateway.Config{
		Source: src, Bus: p.Bus, Trust: p.Trust, Signer: p.Primary, Redis: redisClient,
		Logger: p.Logger, Metrics: p.Metrics, KeyManagerClient: kmClient,
	})
	if err != nil {
		return nil, err
	}
	followCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		gateway.FollowRemote(followCtx, gw, 5*time.Second)
	}()
	// Components close in reverse order: the follower stops (and its last
	// reload finishes) before the gateway closes.
	follower := closer{name: "control-plane-follower", close: func(context.Context) error {
		stop()
		<-followed
		return nil
	}}
	return []platform.Component{gw, follower}, nil
}

// extraCommands are further subcommands of keyway.
func extraCommands() []*cobra.Command {
	return []*cobra.Command{secret.NewCommand(), doctor.NewCommand(), healthcheck.NewHealthCommand()}
}

// closer is a component that only releases a resource when the role stops.
type closer struct {
	name  string
	close func(context.Context) error
}

func (c closer) Name() string                    { return c.name }
func (c closer) Mount(*http.ServeMux)            {}
func (c closer) Close(ctx context.Context) error { return c.close(ctx) }

func closeAll(comps []platform.Component) {
	for i := len(comps) - 1; i >= 0; i-- {
		_ = comps[i].Close(context.Background())
	}
}

// mounter is a component that only adds routes.
type mounter struct {
	name  string
	mount func(*http.ServeMux)
}

func (m mounter) Name() string                { return m.name }
func (m mounter) Mount(mux *http.ServeMux)    { m.mount(mux) }
func (m mounter) Close(context.Context) error { return nil }

// lateDirectory lets the notify endpoint authenticate against the API
// Manager's user store, which exists only once the control plane is built.
type lateDirectory struct {
	mu sync.RWMutex
	d  revocation.Authenticator
}

func (l *lateDirectory) set(d revocation.Authenticator) {
	l.mu.Lock()
	l.d = d
	l.mu.Unlock()
}

func (l *lateDirectory) Authenticate(ctx context.Context, username, password, remote string) (*user.User, error) {
	l.mu.RLock()
	d := l.d
	l.mu.RUnlock()
	if d == nil {
		return nil, user.ErrInvalidCredentials
	}
	return d.Authenticate(ctx, username, password, remote)
}

// RedisEventChannel is the pub/sub channel that carries control-plane events
// and revocations between the nodes of a deployment.
const RedisEventChannel = "keyway:events"

// useRedisBus replaces the role's in-process event bus with one that also
// fans events out to every node through Redis, when Redis is configured (at
// once if it answers, as soon as it does otherwise).
func useRedisBus(ctx context.Context, p *platform.Platform, client *redis.Client) error {
	if client == nil {
		return nil
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var bus events.Bus
	if b, err := events.NewRedis(sctx, client, RedisEventChannel, p.Logger); err == nil {
		bus = b
		p.Logger.Info("events fan out through Redis", "channel", RedisEventChannel)
	} else {
		// Keep serving: this node sees its own events at once and joins
		// the fan-out as soon as Redis answers, without a restart; what
		// other nodes publish meanwhile reaches a gateway node through its
		// snapshot pulls.
		p.Logger.Warn("Redis is not reachable; events stay on this node until it answers", "err", err)
		bus = events.StartRedis(client, RedisEventChannel, p.Logger)
	}
	_ = p.Bus.Close()
	p.Bus = bus
	return nil
}

// redisFor connects to [apim.redis_config] when it is set: throttling
// counters become cluster-wide. Without it the gateway limits locally.
func redisFor(ctx context.Context, p *platform.Platform) (*redis.Client, error) {
	rc := p.Config.APIM.RedisConfig
	if !rc.Enabled() {
		return nil, nil
	}
	opt, err := redis.ParseURL(rc.Address())
	if err != nil {
		return nil, fmt.Errorf("[apim.redis_config]: %w", err)
	}
	client := redis.NewClient(opt)
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := client.Ping(pctx).Err(); err != nil {
		// A Redis outage must not stop the gateway: it limits locally until
		// Redis answers again.
		p.Logger.Warn("Redis is not reachable; throttling falls back to local limits until it is", "err", err)
	}
	return client, nil
}
