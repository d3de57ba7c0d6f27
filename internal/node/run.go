package node

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/keyway/keyway/internal/config"
	"github.com/keyway/keyway/internal/platform"
)

// ComponentsFunc builds a role's components from its platform.
type ComponentsFunc func(ctx context.Context, p *platform.Platform) ([]platform.Component, error)

// Role is one server role to run: `keyway is`, `keyway apim`, `keyway
// gateway`, or one half of `keyway up`.
type Role struct {
	// Name is the short name used in logs and trust aliases ("apim", "is").
	Name string
	// Title is the name printed in the banner ("API Manager").
	Title      string
	Config     *config.Config
	Options    Options
	Components ComponentsFunc
	Serve      []ServeOption
}

// Run builds the platforms of every role (at once: key generation dominates a
// first start), makes roles of the same process trust each other's TLS
// certificates, builds their components in order, starts them, and serves
// until ctx is cancelled; then it stops the roles in reverse order.
func Run(ctx context.Context, roles ...Role) error {
	return RunThen(ctx, nil, roles...)
}

// AfterStart runs once every role listens, with the roles' platforms and
// servers in the order of the roles. It runs on its own goroutine while the
// roles serve; its error is logged, not fatal.
type AfterStart func(ctx context.Context, platforms []*platform.Platform, servers []*Server) error

// RunThen is Run with a hook that runs once every role is up (keyway up uses
// it to set up its quick-start deployment through the REST APIs).
func RunThen(ctx context.Context, after AfterStart, roles ...Role) error {
	platforms, err := NewPlatforms(ctx, roles)
	if err != nil {
		return err
	}
	if err := TrustEachOther(roles, platforms); err != nil {
		return err
	}
	var started []*Server
	stop := func() error {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
		defer cancel()
		var errs []error
		for i := len(started) - 1; i >= 0; i-- {
			errs = append(errs, started[i].Shutdown(sctx))
		}
		return errors.Join(errs...)
	}
	for i, r := range roles {
		p := platforms[i]
		var comps []platform.Component
		if r.Components != nil {
			comps, err = r.Components(ctx, p)
			if err != nil {
				return errors.Join(fmt.Errorf("%s: build components: %w", r.Name, err), stop())
			}
		}
		opts := append([]ServeOption{WithTitle("Keyway " + r.Title)}, r.Serve...)
		s, err := Start(ctx, p, comps, opts...)
		if err != nil {
			return errors.Join(fmt.Errorf("%s: %w", r.Name, err), stop())
		}
		started = append(started, s)
	}
	if after != nil {
		go func() {
			if err := after(ctx, platforms, started); err != nil && ctx.Err() == nil {
				platforms[len(platforms)-1].Logger.Error("start-up task failed", "err", err)
			}
		}()
	}
	<-ctx.Done()
	for _, p := range platforms {
		p.Logger.Info("stopping")
	}
	return stop()
}

// NewPlatforms builds one platform per role, concurrently.
func NewPlatforms(ctx context.Context, roles []Role) ([]*platform.Platform, error) {
	platforms := make([]*platform.Platform, len(roles))
	errs := make([]error, len(roles))
	var wg sync.WaitGroup
	for i, r := range roles {
		wg.Go(func() {
			opts := r.Options
			if opts.Role == "" {
				opts.Role = r.Name
			}
			platforms[i], errs[i] = NewPlatform(ctx, r.Config, opts)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("%s: %w", r.Name, errs[i])
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return platforms, nil
}

// TrustEachOther adds every role's TLS certificate to every other role's
// truststore under the alias keyway-<name> (the seed's manual certificate
// exchange between the API Manager and the Identity Server), saving the
// default truststores so `keyway truststore list` shows it.
func TrustEachOther(roles []Role, platforms []*platform.Platform) error {
	for i, p := range platforms {
		changed := false
		for j, other := range platforms {
			if i != j && AddTrusted(p.Trust, "keyway-"+roles[j].Name, other.TLS) {
				changed = true
			}
		}
		if changed && IsDefaultTrustStore(p) {
			if err := p.Trust.Save(); err != nil {
				return fmt.Errorf("%s: save truststore: %w", roles[i].Name, err)
			}
		}
	}
	return nil
}
