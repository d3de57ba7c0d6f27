package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/doctor"
	"github.com/keyway/keyway/internal/healthcheck"
	"github.com/keyway/keyway/internal/identity"
	"github.com/keyway/keyway/internal/identity/listener"
	"github.com/keyway/keyway/internal/node"
	"github.com/keyway/keyway/internal/platform"
	"github.com/keyway/keyway/internal/secret"
	"github.com/keyway/keyway/internal/ui"
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
	return nil, nil
}

// gatewayComponents are the parts of a gateway-only node that pulls its
// snapshot from the control plane at controlPlane.
func gatewayComponents(ctx context.Context, p *platform.Platform, controlPlane string) ([]platform.Component, error) {
	return nil, nil
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

var _ = db.SQLite
