package catalog

import (
	"context"
	"fmt"
)

// Policy levels of the publisher's /throttling-policies/{policyLevel}.
const (
	PolicyLevelSubscription = "subscription"
	PolicyLevelAPI          = "api"
)

// ThrottlingPolicy is the publisher's ThrottlingPolicy (a "tier").
type ThrottlingPolicy struct {
	Name              string            `json:"name"`
	Description       string            `json:"description,omitempty"`
	PolicyLevel       string            `json:"policyLevel,omitempty"`
	DisplayName       string            `json:"displayName,omitempty"`
	Attributes        map[string]string `json:"attributes"`
	RequestCount      int64             `json:"requestCount"`
	DataUnit          string            `json:"dataUnit,omitempty"`
	UnitTime          int64             `json:"unitTime"`
	TimeUnit          string            `json:"timeUnit,omitempty"`
	RateLimitCount    int64             `json:"rateLimitCount"`
	RateLimitTimeUnit string            `json:"rateLimitTimeUnit,omitempty"`
	QuotaPolicyType   string            `json:"quotaPolicyType,omitempty"`
	TierPlan          string            `json:"tierPlan"`
	StopOnQuotaReach  bool              `json:"stopOnQuotaReach"`
}

// PolicyLister gives the catalog the throttling policies defined in the
// admin portal; APIM-B's policy store implements it. level is
// PolicyLevelSubscription or PolicyLevelAPI.
type PolicyLister interface {
	ThrottlingPolicies(ctx context.Context, level string) ([]ThrottlingPolicy, error)
}

// DefaultPolicies is the PolicyLister used until one is set: WSO2's built-in
// subscription tiers and advanced (API-level) policies.
type DefaultPolicies struct{}

func tier(level, name, desc string, count int64, unit string, stop bool) ThrottlingPolicy {
	return ThrottlingPolicy{Name: name, DisplayName: name, Description: desc, PolicyLevel: level, Attributes: map[string]string{},
		RequestCount: count, UnitTime: 1, TimeUnit: unit, QuotaPolicyType: "REQUESTCOUNT", TierPlan: "FREE", StopOnQuotaReach: stop}
}

// ThrottlingPolicies returns the defaults of level.
func (DefaultPolicies) ThrottlingPolicies(_ context.Context, level string) ([]ThrottlingPolicy, error) {
	switch level {
	case PolicyLevelSubscription:
		return []ThrottlingPolicy{
			tier(level, "Gold", "Allows 5000 requests per minute", 5000, "min", true),
			tier(level, "Silver", "Allows 2000 requests per minute", 2000, "min", true),
			tier(level, "Bronze", "Allows 1000 requests per minute", 1000, "min", true),
			tier(level, "Unlimited", "Allows unlimited requests", 2147483647, "min", true),
		}, nil
	case PolicyLevelAPI:
		return []ThrottlingPolicy{
			tier(level, "10KPerMin", "Allows 10000 requests per minute", 10000, "min", true),
			tier(level, "20KPerMin", "Allows 20000 requests per minute", 20000, "min", true),
			tier(level, "50KPerMin", "Allows 50000 requests per minute", 50000, "min", true),
			tier(level, "Unlimited", "Allows unlimited requests", 2147483647, "min", true),
		}, nil
	}
	return nil, fmt.Errorf("unknown policy level %q", level)
}
