package apim

import (
	"context"
	"encoding/json"
	"io"

	"github.com/keyway/keyway/internal/apim/subscription"
)

func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }

func subscriptionQuery(appID string) subscription.SubscriptionQuery {
	return subscription.SubscriptionQuery{ApplicationUUID: appID}
}

func t0() context.Context { return context.Background() }

func appQuery(owner string) subscription.ApplicationQuery {
	return subscription.ApplicationQuery{Owner: owner}
}
