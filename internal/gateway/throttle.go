package gateway

import (
	"net/http"

	"github.com/keyway/keyway/internal/gateway/authz"
	"github.com/keyway/keyway/internal/gateway/fault"
	"github.com/keyway/keyway/internal/gateway/snapshot"
)

var (
	errAPIThrottled = fault.New(http.StatusTooManyRequests, fault.APIThrottled, "Message throttled out",
		"You have exceeded your quota")
	errSubThrottled = fault.New(http.StatusTooManyRequests, fault.SubThrottled, "Message throttled out",
		"You have exceeded your quota")
	errAppThrottled = fault.New(http.StatusTooManyRequests, fault.AppThrottled, "Message throttled out",
		"You have exceeded your quota")
)

// throttleAPI applies the API-level and resource-level advanced policies,
// shared by every caller of the API (WSO2 checks these first: 900800).
func (g *Gateway) throttleAPI(r *http.Request, api *snapshot.API, res *snapshot.Resource) *fault.Fault {
	if f := g.limit(r, api.Policy, api.ThrottleKey, errAPIThrottled); f != nil {
		return f
	}
	return g.limit(r, res.Policy, res.ThrottleKey, errAPIThrottled)
}

// throttleConsumer applies the subscription tier (900802), then the
// application tier per end user (900801).
func (g *Gateway) throttleConsumer(r *http.Request, api *snapshot.API, d *authz.Decision) *fault.Fault {
	if sub := d.Subscription; sub != nil {
		if f := g.limit(r, sub.Policy, sub.ThrottleKey, errSubThrottled); f != nil {
			return f
		}
	}
	if app := d.Application; app != nil && app.Policy.Enforced() {
		return g.limit(r, app.Policy, "app:"+app.UUID+":"+app.Policy.Name+":"+d.EndUser, errAppThrottled)
	}
	return nil
}

func (g *Gateway) limit(r *http.Request, p *snapshot.Policy, key string, f *fault.Fault) *fault.Fault {
	if !p.Enforced() {
		return nil
	}
	res := g.limiter.Allow(r.Context(), key, p.Limit, p.Window)
	if res.Allowed {
		return nil
	}
	return &fault.Fault{Status: f.Status, Code: f.Code, Message: f.Message, Description: f.Description,
		RetryAfter: retryAfter(res.RetryAfter)}
}
