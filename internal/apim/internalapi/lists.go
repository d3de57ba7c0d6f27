package internalapi

import (
	"net/http"
	"strconv"

	"github.com/keyway/keyway/internal/apim/restapi"
	"github.com/keyway/keyway/internal/runtime"
)

const organization = "carbon.super"

func list[T any](w http.ResponseWriter, items []T) {
	if items == nil {
		items = []T{}
	}
	restapi.WriteJSON(w, http.StatusOK, map[string]any{"count": len(items), "list": items,
		"pagination": restapi.Pagination{Limit: len(items), Total: len(items)}})
}

func (h *Handler) keyManagers(w http.ResponseWriter, _ *http.Request, s *runtime.Snapshot) {
	out := []map[string]any{}
	for _, km := range s.KeyManagers {
		props := map[string]any{"issuer": km.Issuer, "consumer_key_claim": km.ConsumerKeyClaim, "scopes_claim": km.ScopesClaim,
			"self_validate_jwt": km.ValidateJWT, "introspection_endpoint": km.IntrospectionEndpoint}
		if km.JWKSURL != "" {
			props["certificate_type"], props["certificate_value"] = "JWKS", km.JWKSURL
		} else if km.CertificatePEM != "" {
			props["certificate_type"], props["certificate_value"] = "PEM", km.CertificatePEM
		}
		out = append(out, map[string]any{"uuid": km.UUID, "name": km.Name, "type": km.Type, "enabled": km.Enabled,
			"organization": organization, "additionalProperties": props, "tokenType": "DIRECT"})
	}
	restapi.WriteJSON(w, http.StatusOK, out)
}

func (h *Handler) applications(w http.ResponseWriter, r *http.Request, s *runtime.Snapshot) {
	appID := r.URL.Query().Get("appId")
	out := []map[string]any{}
	for _, a := range s.Applications {
		if appID != "" && strconv.Itoa(a.ID) != appID {
			continue
		}
		attrs := a.Attributes
		if attrs == nil {
			attrs = map[string]string{}
		}
		out = append(out, map[string]any{"uuid": a.UUID, "id": a.ID, "name": a.Name, "subName": a.Owner, "policy": a.Policy,
			"tokenType": a.TokenType, "groupIds": []any{}, "attributes": attrs, "organization": organization})
	}
	list(w, out)
}

func (h *Handler) subscriptions(w http.ResponseWriter, r *http.Request, s *runtime.Snapshot) {
	q := r.URL.Query()
	ids := map[string]int{}
	for _, a := range s.Applications {
		ids[a.UUID] = a.ID
	}
	apis := map[string]runtime.API{}
	for _, a := range s.APIs {
		apis[a.UUID] = a
	}
	out := []map[string]any{}
	for _, sub := range s.Subscriptions {
		if (q.Get("apiUUID") != "" && q.Get("apiUUID") != sub.APIUUID) ||
			(q.Get("applicationUUID") != "" && q.Get("applicationUUID") != sub.ApplicationUUID) ||
			(q.Get("appId") != "" && q.Get("appId") != strconv.Itoa(ids[sub.ApplicationUUID])) {
			continue
		}
		m := map[string]any{"subscriptionUUID": sub.UUID, "policyId": sub.Policy, "apiUUID": sub.APIUUID,
			"applicationUUID": sub.ApplicationUUID, "appId": ids[sub.ApplicationUUID], "subscriptionState": sub.Status,
			"apiOrganization": organization, "applicationOrganization": organization}
		if a, ok := apis[sub.APIUUID]; ok {
			m["apiName"], m["apiVersion"] = a.Name, a.Version
		}
		out = append(out, m)
	}
	list(w, out)
}

func (h *Handler) keyMappings(w http.ResponseWriter, r *http.Request, s *runtime.Snapshot) {
	q := r.URL.Query()
	out := []runtime.KeyMapping{}
	for _, k := range s.KeyMappings {
		if (q.Get("consumerKey") != "" && q.Get("consumerKey") != k.ConsumerKey) || (q.Get("keymanager") != "" && q.Get("keymanager") != k.KeyManager) {
			continue
		}
		out = append(out, k)
	}
	list(w, out)
}

func limit(l runtime.Limit) map[string]any {
	m := map[string]any{"type": l.Type, "timeUnit": l.TimeUnit, "unitTime": l.UnitTime}
	if l.Type == "BANDWIDTHLIMIT" {
		m["quotaType"] = "bandwidthVolume"
		m["bandwidth"] = map[string]any{"dataAmount": l.DataAmount, "dataUnit": l.DataUnit, "timeUnit": l.TimeUnit, "unitTime": l.UnitTime}
	} else {
		m["quotaType"] = "requestCount"
		m["requestCount"] = map[string]any{"requestCount": l.RequestCount, "timeUnit": l.TimeUnit, "unitTime": l.UnitTime}
	}
	return m
}

func quotaType(l runtime.Limit) string {
	if l.Type == "BANDWIDTHLIMIT" {
		return "bandwidthVolume"
	}
	return "requestCount"
}

func (h *Handler) subscriptionPolicies(w http.ResponseWriter, r *http.Request, s *runtime.Snapshot) {
	name := r.URL.Query().Get("policyName")
	out := []map[string]any{}
	for _, p := range s.SubscriptionPolicies {
		if name != "" && name != p.Name {
			continue
		}
		out = append(out, map[string]any{"tenantDomain": organization, "name": p.Name, "quotaType": quotaType(p.Limit),
			"rateLimitCount": p.RateLimitCount, "rateLimitTimeUnit": p.RateLimitTimeUnit, "stopOnQuotaReach": p.StopOnQuotaReach,
			"defaultLimit": limit(p.Limit)})
	}
	list(w, out)
}

func (h *Handler) applicationPolicies(w http.ResponseWriter, r *http.Request, s *runtime.Snapshot) {
	name := r.URL.Query().Get("policyName")
	out := []map[string]any{}
	for _, p := range s.ApplicationPolicies {
		if name != "" && name != p.Name {
			continue
		}
		out = append(out, map[string]any{"tenantDomain": organization, "name": p.Name, "quotaType": quotaType(p.Limit),
			"defaultLimit": limit(p.Limit), "burstLimit": map[string]any{"rateLimitCount": p.RateLimitCount, "rateLimitTimeUnit": p.RateLimitTimeUnit}})
	}
	list(w, out)
}

func (h *Handler) apiPolicies(w http.ResponseWriter, r *http.Request, s *runtime.Snapshot) {
	name := r.URL.Query().Get("policyName")
	out := []map[string]any{}
	for _, p := range s.APIPolicies {
		if name != "" && name != p.Name {
			continue
		}
		out = append(out, map[string]any{"tenantDomain": organization, "name": p.Name, "quotaType": quotaType(p.Limit),
			"applicableLevel": p.ApplyLevel, "defaultLimit": limit(p.Limit), "conditionGroups": []any{}})
	}
	list(w, out)
}
