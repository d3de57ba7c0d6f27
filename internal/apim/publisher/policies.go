package publisher

import (
	"encoding/base64"
	"net/http"
	"slices"
	"sort"

	"github.com/keyway/keyway/internal/apim/catalog"
	"github.com/keyway/keyway/internal/apim/restapi"
)

// apiSubscriptionPolicies lists the subscription policies an API offers.
// WSO2 answers a JSON array of ThrottlingPolicy (its definition says one
// object); Keyway does the same.
func (h *Handler) apiSubscriptionPolicies(w http.ResponseWriter, r *http.Request) {
	a, err := h.svc.GetAPI(r.Context(), r.PathValue("apiId"))
	if err != nil {
		h.fail(w, err)
		return
	}
	all, err := h.svc.Policies().ThrottlingPolicies(r.Context(), catalog.PolicyLevelSubscription)
	if err != nil {
		h.fail(w, err)
		return
	}
	out := []catalog.ThrottlingPolicy{}
	for _, p := range all {
		if slices.Contains(a.Policies, p.Name) {
			out = append(out, p)
		}
	}
	restapi.WriteJSON(w, http.StatusOK, out)
}

func (h *Handler) throttlingPolicies(w http.ResponseWriter, r *http.Request) {
	level := r.PathValue("policyLevel")
	if level != catalog.PolicyLevelSubscription && level != catalog.PolicyLevelAPI {
		restapi.BadRequest(w, "policyLevel must be subscription or api")
		return
	}
	q := r.URL.Query()
	page, err := restapi.ParsePage(q, 0)
	if err != nil {
		restapi.Respond(w, h.log, err)
		return
	}
	all, err := h.svc.Policies().ThrottlingPolicies(r.Context(), level)
	if err != nil {
		h.fail(w, err)
		return
	}
	restapi.WriteList(w, restapi.NewList(restapi.Slice(all, page), "/throttling-policies/"+level, q, page, len(all)))
}

func (h *Handler) listScopes(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page, err := restapi.ParsePage(q, 0)
	if err != nil {
		restapi.Respond(w, h.log, err)
		return
	}
	all, err := h.svc.SharedScopes(r.Context())
	if err != nil {
		h.fail(w, err)
		return
	}
	restapi.WriteList(w, restapi.NewList(restapi.Slice(all, page), "/scopes", q, page, len(all)))
}

func (h *Handler) createScope(w http.ResponseWriter, r *http.Request) {
	var in catalog.Scope
	if !restapi.DecodeJSON(w, r, &in, 0) {
		return
	}
	sc, err := h.svc.CreateSharedScope(r.Context(), in)
	if err != nil {
		h.fail(w, err)
		return
	}
	w.Header().Set("Location", BasePath+"/scopes/"+sc.ID)
	restapi.WriteJSON(w, http.StatusCreated, sc)
}

func (h *Handler) getScope(w http.ResponseWriter, r *http.Request) {
	sc, err := h.svc.SharedScope(r.Context(), r.PathValue("scopeId"))
	if err != nil {
		h.fail(w, err)
		return
	}
	restapi.WriteJSON(w, http.StatusOK, sc)
}

func (h *Handler) updateScope(w http.ResponseWriter, r *http.Request) {
	var in catalog.Scope
	if !restapi.DecodeJSON(w, r, &in, 0) {
		return
	}
	sc, err := h.svc.UpdateSharedScope(r.Context(), r.PathValue("scopeId"), in)
	if err != nil {
		h.fail(w, err)
		return
	}
	restapi.WriteJSON(w, http.StatusOK, sc)
}

func (h *Handler) deleteScope(w http.ResponseWriter, r *http.Request) {
	if err := h.svc.DeleteSharedScope(r.Context(), r.PathValue("scopeId")); err != nil {
		h.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// headScope checks whether a scope name is taken; the publisher UI sends the
// name base64url-encoded, other clients send it as is.
func (h *Handler) headScope(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("scopeId")
	candidates := []string{name}
	if b, err := base64.RawURLEncoding.DecodeString(name); err == nil {
		candidates = append(candidates, string(b))
	} else if b, err := base64.URLEncoding.DecodeString(name); err == nil {
		candidates = append(candidates, string(b))
	}
	for _, c := range candidates {
		ok, err := h.svc.ScopeExists(r.Context(), c)
		if err != nil {
			h.fail(w, err)
			return
		}
		if ok {
			w.WriteHeader(http.StatusOK)
			return
		}
	}
	w.WriteHeader(http.StatusNotFound)
}

// settings is the publisher's SettingsDTO (the fields Keyway knows).
type settings struct {
	DevportalURL                 string                `json:"devportalUrl"`
	Environment                  []catalog.Environment `json:"environment"`
	GatewayTypes                 []string              `json:"gatewayTypes"`
	Scopes                       []string              `json:"scopes"`
	ExternalStoresEnabled        bool                  `json:"externalStoresEnabled"`
	DocVisibilityEnabled         bool                  `json:"docVisibilityEnabled"`
	PortalConfigurationOnlyMode  bool                  `json:"portalConfigurationOnlyModeEnabled"`
	RetryCallWithNewOAuthToken   bool                  `json:"retryCallWithNewOAuthTokenEnabled"`
	CrossTenantSubscription      bool                  `json:"crossTenantSubscriptionEnabled"`
	DefaultAdvancePolicy         string                `json:"defaultAdvancePolicy"`
	DefaultSubscriptionPolicy    string                `json:"defaultSubscriptionPolicy"`
	AuthorizationHeader          string                `json:"authorizationHeader"`
	IsJWTEnabledForLoginTokens   bool                  `json:"IsJWTEnabledForLoginTokens"`
	OrgAccessControlEnabled      bool                  `json:"orgAccessControlEnabled"`
	AllowSubscriptionValidationD bool                  `json:"allowSubscriptionValidationDisabling"`
}

func (h *Handler) settings(w http.ResponseWriter, r *http.Request) {
	var scopes []string
	for s := range restapi.ScopeRoles {
		scopes = append(scopes, s)
	}
	sort.Strings(scopes)
	restapi.WriteJSON(w, http.StatusOK, settings{
		DevportalURL: h.DevPortalURL, Environment: h.svc.Environments(), GatewayTypes: []string{"Regular"}, Scopes: scopes,
		RetryCallWithNewOAuthToken: true, DefaultAdvancePolicy: "Unlimited", DefaultSubscriptionPolicy: "Unlimited",
		AuthorizationHeader: "Authorization", AllowSubscriptionValidationD: false,
	})
}

func (h *Handler) blockSubscription(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id, state := q.Get("subscriptionId"), q.Get("blockState")
	if id == "" {
		restapi.BadRequest(w, "subscriptionId is required")
		return
	}
	if state != "BLOCKED" && state != "PROD_ONLY_BLOCKED" {
		restapi.BadRequest(w, "blockState must be BLOCKED or PROD_ONLY_BLOCKED")
		return
	}
	if h.blocker == nil {
		restapi.NotImplemented(w, "subscription management is not available on this node")
		return
	}
	if err := h.blocker.BlockSubscription(r.Context(), id, state); err != nil {
		restapi.Respond(w, h.log, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (h *Handler) unblockSubscription(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("subscriptionId")
	if id == "" {
		restapi.BadRequest(w, "subscriptionId is required")
		return
	}
	if h.blocker == nil {
		restapi.NotImplemented(w, "subscription management is not available on this node")
		return
	}
	if err := h.blocker.UnblockSubscription(r.Context(), id); err != nil {
		restapi.Respond(w, h.log, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}
