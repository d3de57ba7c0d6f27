package admin

import (
	"context"
	"net/http"

	"github.com/keyway/keyway/internal/apim/policy"
	"github.com/keyway/keyway/internal/apim/restapi"
)

type limitBase struct {
	TimeUnit     string `json:"timeUnit"`
	UnitTime     int64  `json:"unitTime"`
	RequestCount int64  `json:"requestCount,omitempty"`
	DataAmount   int64  `json:"dataAmount,omitempty"`
	DataUnit     string `json:"dataUnit,omitempty"`
}

type throttleLimit struct {
	Type         string     `json:"type"`
	RequestCount *limitBase `json:"requestCount,omitempty"`
	Bandwidth    *limitBase `json:"bandwidth,omitempty"`
}

type burstLimit struct {
	RateLimitCount    int64  `json:"rateLimitCount"`
	RateLimitTimeUnit string `json:"rateLimitTimeUnit,omitempty"`
}

type customAttribute struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// policyDTO covers the three admin policy schemas; fields of other levels
// are left out by level-specific rendering.
type policyDTO struct {
	PolicyID          string            `json:"policyId,omitempty"`
	PolicyName        string            `json:"policyName"`
	DisplayName       string            `json:"displayName,omitempty"`
	Description       string            `json:"description,omitempty"`
	IsDeployed        bool              `json:"isDeployed"`
	Type              string            `json:"type,omitempty"`
	DefaultLimit      *throttleLimit    `json:"defaultLimit,omitempty"`
	RateLimitCount    *int64            `json:"rateLimitCount,omitempty"`
	RateLimitTimeUnit string            `json:"rateLimitTimeUnit,omitempty"`
	StopOnQuotaReach  *bool             `json:"stopOnQuotaReach,omitempty"`
	BillingPlan       string            `json:"billingPlan,omitempty"`
	CustomAttributes  []customAttribute `json:"customAttributes,omitempty"`
	SubscriberCount   *int64            `json:"subscriberCount,omitempty"`
	BurstLimit        *burstLimit       `json:"burstLimit,omitempty"`
	ConditionalGroups []any             `json:"conditionalGroups,omitempty"`
}

var typeNames = map[policy.Level]string{policy.Subscription: "SubscriptionThrottlePolicy",
	policy.Application: "ApplicationThrottlePolicy", policy.Advanced: "AdvancedThrottlePolicy"}

func toPolicyDTO(p *policy.Policy, list bool) policyDTO {
	d := policyDTO{PolicyID: p.ID, PolicyName: p.Name, DisplayName: p.DisplayName, Description: p.Description, IsDeployed: p.Deployed,
		Type: typeNames[p.Level]}
	lim := &limitBase{TimeUnit: p.TimeUnit, UnitTime: p.UnitTime}
	if p.LimitType == policy.BandwidthLimit {
		lim.DataAmount, lim.DataUnit = p.DataAmount, p.DataUnit
		d.DefaultLimit = &throttleLimit{Type: policy.BandwidthLimit, Bandwidth: lim}
	} else {
		lim.RequestCount = p.RequestCount
		d.DefaultLimit = &throttleLimit{Type: policy.RequestCountLimit, RequestCount: lim}
	}
	switch p.Level {
	case policy.Subscription:
		rc, stop, zero := p.RateLimitCount, p.StopOnQuotaReach, int64(0)
		d.RateLimitCount, d.RateLimitTimeUnit, d.StopOnQuotaReach, d.BillingPlan = &rc, p.RateLimitTimeUnit, &stop, p.BillingPlan
		d.CustomAttributes, d.SubscriberCount = []customAttribute{}, &zero
	case policy.Application:
		d.BurstLimit = &burstLimit{RateLimitCount: p.RateLimitCount, RateLimitTimeUnit: p.RateLimitTimeUnit}
	case policy.Advanced:
		if !list {
			d.ConditionalGroups = []any{}
		}
	}
	return d
}

// fromPolicyDTO reads a request body into a policy of the level.
func fromPolicyDTO(level policy.Level, d *policyDTO) (*policy.Policy, error) {
	p := &policy.Policy{Level: level, Name: d.PolicyName, DisplayName: d.DisplayName, Description: d.Description,
		BillingPlan: d.BillingPlan, RateLimitTimeUnit: d.RateLimitTimeUnit}
	if d.DefaultLimit == nil {
		return nil, restapi.ErrBadRequest("defaultLimit is required")
	}
	p.LimitType = d.DefaultLimit.Type
	switch d.DefaultLimit.Type {
	case policy.RequestCountLimit:
		if d.DefaultLimit.RequestCount == nil {
			return nil, restapi.ErrBadRequest("defaultLimit.requestCount is required for REQUESTCOUNTLIMIT")
		}
		l := d.DefaultLimit.RequestCount
		p.RequestCount, p.UnitTime, p.TimeUnit = l.RequestCount, l.UnitTime, l.TimeUnit
	case policy.BandwidthLimit:
		if d.DefaultLimit.Bandwidth == nil {
			return nil, restapi.ErrBadRequest("defaultLimit.bandwidth is required for BANDWIDTHLIMIT")
		}
		l := d.DefaultLimit.Bandwidth
		p.DataAmount, p.DataUnit, p.UnitTime, p.TimeUnit = l.DataAmount, l.DataUnit, l.UnitTime, l.TimeUnit
	default:
		return nil, restapi.ErrBadRequest("defaultLimit.type must be REQUESTCOUNTLIMIT or BANDWIDTHLIMIT")
	}
	if d.RateLimitCount != nil {
		p.RateLimitCount = *d.RateLimitCount
	}
	if d.BurstLimit != nil {
		p.RateLimitCount, p.RateLimitTimeUnit = d.BurstLimit.RateLimitCount, d.BurstLimit.RateLimitTimeUnit
	}
	if d.StopOnQuotaReach != nil {
		p.StopOnQuotaReach = *d.StopOnQuotaReach
	}
	if len(d.ConditionalGroups) > 0 {
		return nil, restapi.ErrBadRequest("conditional groups are not supported")
	}
	return p, nil
}

func (h *Handler) listPolicies(level policy.Level) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ps, err := h.Policies.List(r.Context(), level)
		if err != nil {
			h.respond(w, err)
			return
		}
		out := make([]policyDTO, 0, len(ps))
		for _, p := range ps {
			out = append(out, toPolicyDTO(p, true))
		}
		restapi.WriteJSON(w, http.StatusOK, map[string]any{"count": len(out), "list": out})
	}
}

func (h *Handler) createPolicy(level policy.Level) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var d policyDTO
		if !restapi.DecodeJSON(w, r, &d, 1<<20) {
			return
		}
		p, err := fromPolicyDTO(level, &d)
		if err == nil {
			err = h.Policies.Create(r.Context(), p)
		}
		if err != nil {
			h.respond(w, err)
			return
		}
		w.Header().Set("Location", BasePath+"/throttling/policies/"+string(level)+"/"+p.ID)
		restapi.WriteJSON(w, http.StatusCreated, toPolicyDTO(p, false))
	}
}

func (h *Handler) getPolicy(level policy.Level) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := h.Policies.Get(r.Context(), level, r.PathValue("policyId"))
		if err != nil {
			h.respond(w, err)
			return
		}
		restapi.WriteJSON(w, http.StatusOK, toPolicyDTO(p, false))
	}
}

func (h *Handler) updatePolicy(level policy.Level) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("policyId")
		if _, err := h.Policies.Get(r.Context(), level, id); err != nil {
			h.respond(w, err)
			return
		}
		var d policyDTO
		if !restapi.DecodeJSON(w, r, &d, 1<<20) {
			return
		}
		p, err := fromPolicyDTO(level, &d)
		if err == nil {
			p.ID = id
			err = h.Policies.Update(r.Context(), p)
		}
		if err != nil {
			h.respond(w, err)
			return
		}
		restapi.WriteJSON(w, http.StatusOK, toPolicyDTO(p, false))
	}
}

func (h *Handler) deletePolicy(level policy.Level) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		inUse := func(ctx context.Context, p *policy.Policy) (bool, error) {
			switch level {
			case policy.Subscription:
				return h.Store.SubscriptionPolicyInUse(ctx, p.Name)
			case policy.Application:
				return h.Store.ApplicationPolicyInUse(ctx, p.Name)
			}
			return false, nil
		}
		if err := h.Policies.Delete(r.Context(), level, r.PathValue("policyId"), inUse); err != nil {
			h.respond(w, err)
			return
		}
		w.WriteHeader(http.StatusOK)
	}
}
