// Package authz decides whether an authenticated caller may use an API
// resource: key mapping → application → subscription (missing or blocked
// fails), the resource's scopes (at least one), and which backend the key
// type selects (PRODUCTION or SANDBOX).
package authz

import (
	"net/http"
	"slices"
	"strings"

	"github.com/keyway/keyway/internal/gateway/authn"
	"github.com/keyway/keyway/internal/gateway/fault"
	"github.com/keyway/keyway/internal/gateway/snapshot"
)

// Decision is what a successful authorization resolved.
type Decision struct {
	Application  *snapshot.Application
	Subscription *snapshot.Subscription
	// KeyType is PRODUCTION or SANDBOX.
	KeyType  string
	Upstream *snapshot.Upstream
	// EndUser is the subscriber for application tokens, else the token's user.
	EndUser string
}

var (
	errNoKeyManager = fault.New(http.StatusForbidden, fault.Forbidden, "Resource forbidden",
		"The authorized party (consumer key) or key manager of the token is unknown")
	errNoSandbox = fault.Invalid("Sandbox key offered to the API with no sandbox endpoint")
	errNoProd    = fault.Invalid("Production key offered to the API with no production endpoint")
)

// Authorize applies the subscription, scope and key-type rules.
func Authorize(snap *snapshot.Snapshot, api *snapshot.API, res *snapshot.Resource, p *authn.Principal) (Decision, *fault.Fault) {
	var d Decision
	var appUUID string
	if p.Kind == authn.KindAPIKey {
		appUUID, d.KeyType = p.APIKey.ApplicationUUID, p.APIKey.KeyType
		if len(p.APIKey.AllowedAPIs) > 0 && !slices.Contains(p.APIKey.AllowedAPIs, api.UUID) {
			return d, fault.ErrNotSubscribed
		}
	} else {
		if p.ConsumerKey == "" || p.KeyManager == "" {
			return d, errNoKeyManager
		}
		m := snap.KeyMapping(p.ConsumerKey, p.KeyManager)
		if m == nil {
			return d, fault.ErrNotSubscribed
		}
		appUUID, d.KeyType = m.ApplicationUUID, m.KeyType
	}
	d.Application = snap.Application(appUUID)
	if d.Application == nil {
		return d, fault.ErrNotSubscribed
	}
	d.Subscription = snap.Subscription(appUUID, api.UUID)
	if d.Subscription == nil {
		return d, fault.ErrNotSubscribed
	}
	sandbox := strings.EqualFold(d.KeyType, "SANDBOX")
	switch strings.ToUpper(d.Subscription.Status) {
	case "", "UNBLOCKED", "TIER_UPDATE_PENDING":
	case "BLOCKED":
		return d, fault.ErrSubscriptionBlocked
	case "PROD_ONLY_BLOCKED":
		if !sandbox {
			return d, fault.ErrSubscriptionBlocked
		}
	default: // ON_HOLD, REJECTED, DELETE_PENDING
		return d, fault.ErrNotSubscribed
	}
	if len(res.Scopes) > 0 && !p.HasAnyScope(res.Scopes) {
		return d, fault.ErrScope
	}
	if sandbox {
		d.KeyType = "SANDBOX"
		if d.Upstream = api.Sandbox; d.Upstream == nil {
			return d, errNoSandbox
		}
	} else {
		d.KeyType = "PRODUCTION"
		if d.Upstream = api.Production; d.Upstream == nil {
			return d, errNoProd
		}
	}
	d.EndUser = EndUser(p, d.Application)
	return d, nil
}

// EndUser follows GatewayUtils.getEndUserFromJWTValidationInfo: the
// application owner for application tokens, otherwise the user with the
// tenant domain.
func EndUser(p *authn.Principal, app *snapshot.Application) string {
	if p.ApplicationToken && app != nil {
		return app.Owner
	}
	if p.User == "" {
		return authn.QualifiedUser(p.Subject)
	}
	return p.User
}
