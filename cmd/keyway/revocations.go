package main

import (
	"context"
	"log/slog"

	"github.com/keyway/keyway/internal/gateway/revocation"
	"github.com/keyway/keyway/internal/oauth"
)

// residentRevocations sends tokens revoked by the API Manager's resident key
// manager to the gateways, the way the Identity Server's events do.
type residentRevocations struct {
	svc    *revocation.Service
	logger *slog.Logger
}

func (r residentRevocations) AccessTokenRevoked(ctx context.Context, t oauth.RevokedAccessToken) {
	if err := r.svc.Record(context.WithoutCancel(ctx), revocation.Revoked{
		Token: t.Identifier, TokenType: t.TokenType, ExpiryMillis: t.ExpiresAt.UnixMilli(), ConsumerKey: t.ClientID,
	}); err != nil {
		r.logger.Error("resident key manager revocation not recorded", "client_id", t.ClientID, "err", err)
	}
}
