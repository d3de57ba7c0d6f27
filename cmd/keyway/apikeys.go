package main

import (
	"context"
	"fmt"

	"github.com/keyway/keyway/internal/apim/devportal"
	"github.com/keyway/keyway/internal/gateway/revocation"
)

// apiKeyRevoker records an API key revoked in the developer portal the way a
// key manager's token revocation is recorded: persisted in apim_db (so the
// snapshot of every gateway, including gateway-only nodes, carries it) and
// fanned out on the event bus (so running gateways drop it at once).
func apiKeyRevoker(svc *revocation.Service) func(ctx context.Context, jti string, expiryMillis int64) error {
	return func(ctx context.Context, jti string, expiryMillis int64) error {
		if err := svc.Record(context.WithoutCancel(ctx), revocation.Revoked{
			Token: jti, TokenType: devportal.RevokedAPIKeyType, ExpiryMillis: expiryMillis,
		}); err != nil {
			return fmt.Errorf("record revoked API key: %w", err)
		}
		return nil
	}
}
