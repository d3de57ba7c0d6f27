package apim

import (
	"context"
	"slices"

	"github.com/keyway/keyway/internal/apim/catalog"
	"github.com/keyway/keyway/internal/apim/keymanager"
	"github.com/keyway/keyway/internal/apim/policy"
)

// scopeRegistrar keeps API scopes in the key managers for the catalog.
type scopeRegistrar struct{ km *keymanager.Service }

func toKMScopes(in []catalog.Scope) []keymanager.Scope {
	out := make([]keymanager.Scope, 0, len(in))
	for _, s := range in {
		out = append(out, keymanager.Scope{Key: s.Name, Name: s.DisplayName, Description: s.Description, Roles: s.Bindings})
	}
	return out
}

func (r scopeRegistrar) RegisterScopes(ctx context.Context, keyManagers []string, scopes []catalog.Scope) error {
	return r.km.RegisterScopes(ctx, keyManagers, toKMScopes(scopes))
}

func (r scopeRegistrar) DeleteScopes(ctx context.Context, keyManagers []string, names []string) error {
	return r.km.DeleteScopes(ctx, keyManagers, names)
}

// policyLister gives the catalog the admin-defined tiers.
type policyLister struct{ p *policy.Store }

func (l policyLister) ThrottlingPolicies(ctx context.Context, level string) ([]catalog.ThrottlingPolicy, error) {
	lv := policy.Subscription
	if level == catalog.PolicyLevelAPI {
		lv = policy.Advanced
	}
	ps, err := l.p.List(ctx, lv)
	if err != nil {
		return nil, err
	}
	out := make([]catalog.ThrottlingPolicy, 0, len(ps))
	for _, p := range ps {
		tp := catalog.ThrottlingPolicy{Name: p.Name, Description: p.Description, PolicyLevel: level, DisplayName: p.DisplayName,
			Attributes: map[string]string{}, RequestCount: p.RequestCount, UnitTime: p.UnitTime, TimeUnit: p.TimeUnit,
			RateLimitCount: p.RateLimitCount, RateLimitTimeUnit: p.RateLimitTimeUnit, QuotaPolicyType: "REQUESTCOUNT",
			TierPlan: p.BillingPlan, StopOnQuotaReach: p.StopOnQuotaReach}
		if p.LimitType == policy.BandwidthLimit {
			tp.QuotaPolicyType, tp.RequestCount, tp.DataUnit = "BANDWIDTHVOLUME", p.DataAmount, p.DataUnit
		}
		if tp.TierPlan == "" {
			tp.TierPlan = "FREE"
		}
		out = append(out, tp)
	}
	return out, nil
}

// catalogScopes tells the resident key manager which roles the API scopes
// are bound to (API scopes and shared scopes).
type catalogScopes struct{ c *catalog.Service }

func (c catalogScopes) ScopeRoles(ctx context.Context, scopes []string) (map[string][]string, error) {
	out := map[string][]string{}
	add := func(s catalog.Scope) {
		if _, seen := out[s.Name]; !seen && slices.Contains(scopes, s.Name) {
			out[s.Name] = slices.Clone(s.Bindings)
		}
	}
	shared, err := c.c.SharedScopes(ctx)
	if err != nil {
		return nil, err
	}
	for _, s := range shared {
		add(s)
	}
	if len(out) == len(scopes) {
		return out, nil
	}
	apis, _, err := c.c.ListAPIs(ctx, catalog.Query{})
	if err != nil {
		return nil, err
	}
	for _, a := range apis {
		for _, s := range a.Scopes {
			add(s.Scope)
		}
	}
	return out, nil
}
