package main

import (
	"context"

	"github.com/keyway/keyway/internal/doctor"
	"github.com/keyway/keyway/internal/healthcheck"
	"github.com/keyway/keyway/internal/platform"
	"github.com/keyway/keyway/internal/secret"
	"github.com/spf13/cobra"
)

// identityComponents are the parts of the Identity Server role.
func identityComponents(ctx context.Context, p *platform.Platform) ([]platform.Component, error) {
	return nil, nil
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

// extraCommands are further subcommands of keyway (cipher, doctor...).
func extraCommands() []*cobra.Command {
	return []*cobra.Command{secret.NewCommand(), doctor.NewCommand(), healthcheck.NewHealthCommand()}
}
