package gateway

import (
	"context"

	"github.com/keyway/keyway/internal/gateway/authn"
)

// snapshotAPIKeys verifies API keys with the issuers of the snapshot being
// served: one atomic load, no lock, and a gateway-only node trusts exactly
// the control plane it follows without any configuration.
type snapshotAPIKeys struct{ g *Gateway }

func (s snapshotAPIKeys) VerifyAPIKey(ctx context.Context, key string) (*authn.APIKey, error) {
	return s.g.state.Load().apiKeys.VerifyAPIKey(ctx, key)
}

// apiKeySource names where API keys are verified, for the start-up log.
func apiKeySource(cfg Config) string {
	if cfg.APIKeys != nil {
		return "configured"
	}
	return "snapshot issuers"
}
