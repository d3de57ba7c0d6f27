// Package policy owns the API Manager's throttling tiers: subscription tiers
// (Gold, Silver, Bronze, Unlimited ...), application tiers (10PerMin ...) and
// advanced API/resource policies (10KPerMin ...), with WSO2's defaults seeded
// at first start, their storage, and their conversion to the gateway's
// runtime model.
package policy

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keyway/keyway/internal/runtime"
)

// Level says which kind of tier a policy is.
type Level string

// Policy levels, named as the admin REST paths name them.
const (
	Subscription Level = "subscription"
	Application  Level = "application"
	Advanced     Level = "advanced"
)

// Limit types.
const (
	RequestCountLimit = "REQUESTCOUNTLIMIT"
	BandwidthLimit    = "BANDWIDTHLIMIT"
)

// UnlimitedCount is the request count WSO2 gives its Unlimited tiers.
const UnlimitedCount = 2147483647

// Policy is one throttling tier.
type Policy struct {
	ID          string
	Level       Level
	Name        string
	DisplayName string
	Description string
	// LimitType is REQUESTCOUNTLIMIT or BANDWIDTHLIMIT.
	LimitType    string
	RequestCount int64
	DataAmount   int64
	DataUnit     string
	UnitTime     int64
	// TimeUnit is "sec", "min", "hour", "day" (WSO2 also accepts "ms" etc.).
	TimeUnit string
	// RateLimitCount and RateLimitTimeUnit are the burst control of
	// subscription and application tiers (0 = none).
	RateLimitCount    int64
	RateLimitTimeUnit string
	// StopOnQuotaReach is meaningful for subscription tiers only; other tiers
	// always stop.
	StopOnQuotaReach bool
	// BillingPlan is FREE or COMMERCIAL (subscription tiers).
	BillingPlan string
	// Deployed is set for every stored policy: Keyway evaluates tiers in the
	// gateway directly, so nothing separate must be deployed.
	Deployed bool
	Created  time.Time
	Updated  time.Time
}

// Errors of the store and the validation.
var (
	ErrNotFound = errors.New("throttling policy not found")
	ErrConflict = errors.New("throttling policy already exists")
	ErrInvalid  = errors.New("invalid throttling policy")
	// ErrInUse means a policy still referenced cannot be deleted.
	ErrInUse = errors.New("throttling policy is in use")
)

var timeUnits = map[string]string{
	"ms": "ms", "sec": "sec", "s": "sec", "second": "sec", "seconds": "sec",
	"min": "min", "m": "min", "minute": "min", "minutes": "min",
	"hour": "hour", "h": "hour", "hours": "hour",
	"day": "day", "d": "day", "days": "day",
	"week": "week", "month": "month", "year": "year",
}

// Validate checks p and normalises its time units, returning an error that
// wraps ErrInvalid with the reason.
func (p *Policy) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
	}
	switch p.Level {
	case Subscription, Application, Advanced:
	default:
		return bad("unknown policy level %q", p.Level)
	}
	p.Name = strings.TrimSpace(p.Name)
	if p.Name == "" || len(p.Name) > 60 {
		return bad("policyName is required and must be at most 60 characters")
	}
	if strings.ContainsAny(p.Name, " /\\?#%&") {
		return bad("policyName %q must not contain spaces or URL delimiters", p.Name)
	}
	if p.LimitType == "" {
		p.LimitType = RequestCountLimit
	}
	switch p.LimitType {
	case RequestCountLimit:
		if p.RequestCount <= 0 {
			return bad("requestCount must be positive")
		}
	case BandwidthLimit:
		if p.DataAmount <= 0 {
			return bad("dataAmount must be positive")
		}
		if u := strings.ToUpper(p.DataUnit); u != "KB" && u != "MB" && u != "GB" {
			return bad("dataUnit must be KB, MB or GB")
		}
		p.DataUnit = strings.ToUpper(p.DataUnit)
	default:
		return bad("unsupported limit type %q", p.LimitType)
	}
	if p.UnitTime <= 0 {
		return bad("unitTime must be positive")
	}
	tu, ok := timeUnits[strings.ToLower(p.TimeUnit)]
	if !ok {
		return bad("unknown timeUnit %q", p.TimeUnit)
	}
	p.TimeUnit = tu
	if p.RateLimitCount < 0 {
		return bad("rateLimitCount must not be negative")
	}
	if p.RateLimitCount > 0 {
		rtu, ok := timeUnits[strings.ToLower(p.RateLimitTimeUnit)]
		if !ok || (rtu != "sec" && rtu != "min") {
			return bad("rateLimitTimeUnit must be sec or min")
		}
		p.RateLimitTimeUnit = rtu
	} else {
		p.RateLimitTimeUnit = ""
	}
	if p.Level != Subscription {
		p.StopOnQuotaReach = true
		p.BillingPlan = ""
	} else {
		switch strings.ToUpper(p.BillingPlan) {
		case "", "FREE":
			p.BillingPlan = "FREE"
		case "COMMERCIAL":
			p.BillingPlan = "COMMERCIAL"
		default:
			return bad("billingPlan must be FREE or COMMERCIAL")
		}
	}
	if len(p.Description) > 1024 {
		return bad("description must be at most 1024 characters")
	}
	if p.DisplayName == "" {
		p.DisplayName = p.Name
	}
	return nil
}

func (p *Policy) limit() runtime.Limit {
	l := runtime.Limit{Type: p.LimitType, UnitTime: p.UnitTime, TimeUnit: p.TimeUnit}
	if p.LimitType == BandwidthLimit {
		l.DataAmount, l.DataUnit = p.DataAmount, p.DataUnit
	} else {
		l.RequestCount = p.RequestCount
	}
	return l
}

// ThrottlePolicy converts a subscription or application tier for the gateway.
func (p *Policy) ThrottlePolicy() runtime.ThrottlePolicy {
	return runtime.ThrottlePolicy{
		Name:              p.Name,
		Limit:             p.limit(),
		StopOnQuotaReach:  p.StopOnQuotaReach,
		RateLimitCount:    p.RateLimitCount,
		RateLimitTimeUnit: p.RateLimitTimeUnit,
	}
}

// APIPolicy converts an advanced policy for the gateway.
func (p *Policy) APIPolicy() runtime.APIPolicy {
	return runtime.APIPolicy{Name: p.Name, Limit: p.limit(), ApplyLevel: "apiLevel"}
}
