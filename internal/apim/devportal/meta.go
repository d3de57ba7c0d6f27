package devportal

import (
	"net/http"
	"strings"

	"github.com/keyway/keyway/internal/apim/keymanager"
	"github.com/keyway/keyway/internal/apim/policy"
	"github.com/keyway/keyway/internal/apim/restapi"
)

type throttlingPolicyDTO struct {
	Name              string            `json:"name"`
	Description       string            `json:"description"`
	PolicyLevel       string            `json:"policyLevel"`
	Attributes        map[string]string `json:"attributes"`
	RequestCount      int64             `json:"requestCount"`
	DataUnit          string            `json:"dataUnit,omitempty"`
	UnitTime          int64             `json:"unitTime"`
	TimeUnit          string            `json:"timeUnit"`
	RateLimitCount    int64             `json:"rateLimitCount"`
	RateLimitTimeUnit string            `json:"rateLimitTimeUnit,omitempty"`
	QuotaPolicyType   string            `json:"quotaPolicyType"`
	TierPlan          string            `json:"tierPlan"`
	StopOnQuotaReach  bool              `json:"stopOnQuotaReach"`
}

func toPolicy(p *policy.Policy) throttlingPolicyDTO {
	d := throttlingPolicyDTO{Name: p.Name, Description: p.Description, PolicyLevel: string(p.Level), Attributes: map[string]string{},
		RequestCount: p.RequestCount, UnitTime: p.UnitTime, TimeUnit: p.TimeUnit, RateLimitCount: p.RateLimitCount,
		RateLimitTimeUnit: p.RateLimitTimeUnit, QuotaPolicyType: "REQUESTCOUNT", TierPlan: p.BillingPlan, StopOnQuotaReach: p.StopOnQuotaReach}
	if p.LimitType == policy.BandwidthLimit {
		d.QuotaPolicyType, d.RequestCount, d.DataUnit = "BANDWIDTHVOLUME", p.DataAmount, p.DataUnit
	}
	if d.TierPlan == "" {
		d.TierPlan = "FREE"
	}
	return d
}

func portalLevel(s string) (policy.Level, bool) {
	switch s {
	case "application":
		return policy.Application, true
	case "subscription":
		return policy.Subscription, true
	}
	return "", false
}

func (h *Handler) listPolicies(w http.ResponseWriter, r *http.Request) {
	level, ok := portalLevel(r.PathValue("policyLevel"))
	if !ok {
		restapi.BadRequest(w, "policyLevel must be application or subscription")
		return
	}
	q := r.URL.Query()
	page, err := restapi.ParsePage(q, 0)
	if err != nil {
		h.respond(w, err)
		return
	}
	ps, err := h.Policies.List(r.Context(), level)
	if err != nil {
		h.respond(w, err)
		return
	}
	out := make([]throttlingPolicyDTO, 0, len(ps))
	for _, p := range ps {
		out = append(out, toPolicy(p))
	}
	restapi.WriteList(w, restapi.NewList(restapi.Slice(out, page), "/throttling-policies/"+string(level), q, page, len(out)))
}

func (h *Handler) getPolicy(w http.ResponseWriter, r *http.Request) {
	level, ok := portalLevel(r.PathValue("policyLevel"))
	if !ok {
		restapi.BadRequest(w, "policyLevel must be application or subscription")
		return
	}
	p, err := h.Policies.GetByName(r.Context(), level, r.PathValue("policyId"))
	if err != nil {
		restapi.NotFound(w, "Throttling policy "+r.PathValue("policyId")+" not found")
		return
	}
	restapi.WriteJSON(w, http.StatusOK, toPolicy(p))
}

type appConfig struct {
	Name     string `json:"name"`
	Label    string `json:"label"`
	Type     string `json:"type"`
	Required bool   `json:"required"`
	Mask     bool   `json:"mask"`
	Multiple bool   `json:"multiple"`
	Tooltip  string `json:"tooltip"`
	// Default is left out: the contract types it as an object while
	// connectors give strings ("N/A", "false").
	Default any   `json:"default,omitempty"`
	Values  []any `json:"values"`
}

// applicationConfiguration lists the per-key fields a connector offers in
// the portal (PATTERN6-WIRE §3.4 for WSO2-IS-7; WSO2's default connector
// for the resident key manager).
func applicationConfiguration(typ string) []appConfig {
	lifetime := func(name, label string) appConfig {
		return appConfig{Name: name, Label: label, Type: "input", Tooltip: label + " in seconds (N/A: the key manager default)", Values: []any{}}
	}
	check := func(name, label string) appConfig {
		return appConfig{Name: name, Label: label, Type: "checkbox", Tooltip: label + " (default false)", Values: []any{}}
	}
	switch typ {
	case keymanager.TypeWSO2IS7:
		return []appConfig{lifetime("ext_application_token_lifetime", "Application Access Token Expiry Time"),
			lifetime("ext_user_token_lifetime", "User Access Token Expiry Time"),
			lifetime("ext_refresh_token_lifetime", "Refresh Token Expiry Time"), lifetime("ext_id_token_lifetime", "Id Token Expiry Time"),
			check("ext_pkce_mandatory", "Enable PKCE"), check("ext_pkce_support_plain", "Support PKCE Plain text"),
			check("ext_public_client", "Public client")}
	case keymanager.TypeResident:
		return []appConfig{lifetime("application_access_token_expiry_time", "Application Access Token Expiry Time"),
			lifetime("user_access_token_expiry_time", "User Access Token Expiry Time"),
			lifetime("refresh_token_expiry_time", "Refresh Token Expiry Time"), lifetime("id_token_expiry_time", "Id Token Expiry Time"),
			check("pkceMandatory", "Enable PKCE"), check("pkceSupportPlain", "Support PKCE Plain text"),
			check("bypassClientCredentials", "Public client")}
	}
	return []appConfig{}
}

func (h *Handler) listKeyManagers(w http.ResponseWriter, r *http.Request) {
	all, err := h.KeyManagers.List(r.Context())
	if err != nil {
		h.respond(w, err)
		return
	}
	roles := []string{}
	if c, ok := restapi.CallerFrom(r.Context()); ok {
		roles = c.Roles
	}
	out := []map[string]any{}
	for _, c := range all {
		if !c.Enabled || !permitted(c.Permissions, roles) {
			continue
		}
		out = append(out, map[string]any{"id": c.ID, "name": c.Name, "type": c.Type, "displayName": c.DisplayName,
			"description": c.Description, "enabled": c.Enabled, "availableGrantTypes": nonNil(c.AvailableGrantTypes),
			"tokenEndpoint":  firstNonEmpty(c.DisplayTokenEndpoint, c.TokenEndpoint),
			"revokeEndpoint": firstNonEmpty(c.DisplayRevokeEndpoint, c.RevokeEndpoint), "userInfoEndpoint": c.UserInfoEndpoint,
			"enableTokenGeneration": c.EnableTokenGeneration, "enableTokenEncryption": c.EnableTokenEncryption,
			"enableTokenHashing": c.EnableTokenHashing, "enableOAuthAppCreation": c.EnableOAuthAppCreation,
			"enableMapOAuthConsumerApps": c.EnableMapOAuthConsumerApps, "applicationConfiguration": applicationConfiguration(c.Type),
			"alias": c.Alias, "additionalProperties": publicProps(c.AdditionalProperties), "tokenType": c.TokenType})
	}
	restapi.WriteJSON(w, http.StatusOK, map[string]any{"count": len(out), "list": out})
}

// permitted applies a key manager's role permissions to the caller.
func permitted(p *keymanager.Permissions, roles []string) bool {
	if p == nil || p.PermissionType == "" || p.PermissionType == "PUBLIC" {
		return true
	}
	has := false
	for _, want := range p.Roles {
		for _, r := range roles {
			if strings.EqualFold(r, want) {
				has = true
			}
		}
	}
	if p.PermissionType == "ALLOW" {
		return has
	}
	return !has
}

// publicProps drops connector credentials from what developers see.
func publicProps(in map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range in {
		lk := strings.ToLower(k)
		if lk == "username" || v == keymanager.Masked || strings.Contains(lk, "password") || strings.Contains(lk, "secret") {
			continue
		}
		out[k] = v
	}
	return out
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
