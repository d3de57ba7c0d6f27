package devportal

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/keyway/keyway/internal/apim/catalog"
	"github.com/keyway/keyway/internal/apim/policy"
	"github.com/keyway/keyway/internal/apim/restapi"
)

// visibleStatuses are the lifecycle states the developer portal shows.
var visibleStatuses = []string{"PUBLISHED", "PROTOTYPED", "DEPRECATED"}

type apiTier struct {
	TierName string `json:"tierName"`
	TierPlan string `json:"tierPlan"`
}

type apiOperation struct {
	ID     string `json:"id,omitempty"`
	Target string `json:"target"`
	Verb   string `json:"verb"`
}

type scopeInfo struct {
	Key         string   `json:"key"`
	Name        string   `json:"name"`
	Roles       []string `json:"roles"`
	Description string   `json:"description"`
}

type apiDTO struct {
	ID                      string                       `json:"id"`
	Name                    string                       `json:"name"`
	Description             string                       `json:"description,omitempty"`
	Context                 string                       `json:"context"`
	Version                 string                       `json:"version"`
	Provider                string                       `json:"provider"`
	LifeCycleStatus         string                       `json:"lifeCycleStatus"`
	IsDefaultVersion        bool                         `json:"isDefaultVersion"`
	Type                    string                       `json:"type"`
	Transport               []string                     `json:"transport"`
	Operations              []apiOperation               `json:"operations"`
	AuthorizationHeader     string                       `json:"authorizationHeader,omitempty"`
	APIKeyHeader            string                       `json:"apiKeyHeader,omitempty"`
	SecurityScheme          []string                     `json:"securityScheme"`
	Tags                    []string                     `json:"tags"`
	Tiers                   []apiTier                    `json:"tiers"`
	HasThumbnail            bool                         `json:"hasThumbnail"`
	AdditionalProperties    []catalog.AdditionalProperty `json:"additionalProperties"`
	BusinessInformation     *catalog.BusinessInformation `json:"businessInformation,omitempty"`
	Scopes                  []scopeInfo                  `json:"scopes"`
	IsSubscriptionAvailable bool                         `json:"isSubscriptionAvailable"`
	Categories              []string                     `json:"categories"`
	EndpointURLs            []endpointURLs               `json:"endpointURLs"`
	EnvironmentList         []string                     `json:"environmentList"`
	CreatedTime             string                       `json:"createdTime,omitempty"`
	LastUpdatedTime         string                       `json:"lastUpdatedTime,omitempty"`
	GatewayVendor           string                       `json:"gatewayVendor,omitempty"`
}

type apiInfoDTO struct {
	ID                      string                       `json:"id"`
	Name                    string                       `json:"name"`
	Description             string                       `json:"description,omitempty"`
	Context                 string                       `json:"context"`
	Version                 string                       `json:"version"`
	Type                    string                       `json:"type"`
	CreatedTime             string                       `json:"createdTime,omitempty"`
	Provider                string                       `json:"provider"`
	LifeCycleStatus         string                       `json:"lifeCycleStatus"`
	ThrottlingPolicies      []string                     `json:"throttlingPolicies"`
	BusinessInformation     *catalog.BusinessInformation `json:"businessInformation,omitempty"`
	IsSubscriptionAvailable bool                         `json:"isSubscriptionAvailable"`
	GatewayVendor           string                       `json:"gatewayVendor,omitempty"`
}

// portalContext is the context the portal shows: with the version, as the
// gateway serves it.
func portalContext(a *catalog.API) string {
	ctx := a.Context
	if strings.Contains(ctx, "{version}") {
		return strings.ReplaceAll(ctx, "{version}", a.Version)
	}
	if strings.HasSuffix(ctx, "/"+a.Version) {
		return ctx
	}
	return strings.TrimSuffix(ctx, "/") + "/" + a.Version
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func apiType(a *catalog.API) string {
	if a.Type == "" {
		return "HTTP"
	}
	return a.Type
}

func subscribable(a *catalog.API) bool {
	return a.LifeCycleStatus == "PUBLISHED" && len(a.Policies) > 0
}

func (h *Handler) toAPI(r *http.Request, a *catalog.API) apiDTO {
	d := apiDTO{ID: a.ID, Name: a.Name, Description: a.Description, Context: portalContext(a), Version: a.Version, Provider: a.Provider,
		LifeCycleStatus: a.LifeCycleStatus, IsDefaultVersion: a.IsDefaultVersion, Type: apiType(a), Transport: nonNil(a.Transport),
		AuthorizationHeader: a.AuthorizationHeader, APIKeyHeader: a.APIKeyHeader, SecurityScheme: nonNil(a.SecurityScheme),
		Tags: nonNil(a.Tags), HasThumbnail: a.HasThumbnail, BusinessInformation: a.BusinessInformation,
		IsSubscriptionAvailable: subscribable(a), Categories: nonNil(a.Categories), CreatedTime: a.CreatedTime,
		LastUpdatedTime: a.LastUpdatedTime, GatewayVendor: a.GatewayVendor, Operations: []apiOperation{}, Tiers: []apiTier{},
		Scopes: []scopeInfo{}, AdditionalProperties: []catalog.AdditionalProperty{}, EndpointURLs: []endpointURLs{}, EnvironmentList: []string{}}
	for _, p := range a.AdditionalProperties {
		if p.Display {
			d.AdditionalProperties = append(d.AdditionalProperties, p)
		}
	}
	for _, op := range a.Operations {
		d.Operations = append(d.Operations, apiOperation{ID: op.ID, Target: op.Target, Verb: op.Verb})
	}
	for _, name := range a.Policies {
		plan := "FREE"
		if p, err := h.Policies.GetByName(r.Context(), policy.Subscription, name); err == nil {
			plan = p.BillingPlan
		}
		d.Tiers = append(d.Tiers, apiTier{TierName: name, TierPlan: plan})
	}
	for _, s := range a.Scopes {
		d.Scopes = append(d.Scopes, toScopeInfo(s.Scope))
	}
	return d
}

func toScopeInfo(s catalog.Scope) scopeInfo {
	name := s.DisplayName
	if name == "" {
		name = s.Name
	}
	return scopeInfo{Key: s.Name, Name: name, Roles: nonNil(s.Bindings), Description: s.Description}
}

func toAPIInfo(a *catalog.API) apiInfoDTO {
	return apiInfoDTO{ID: a.ID, Name: a.Name, Description: a.Description, Context: portalContext(a), Version: a.Version,
		Type: apiType(a), CreatedTime: a.CreatedTime, Provider: a.Provider, LifeCycleStatus: a.LifeCycleStatus,
		ThrottlingPolicies: nonNil(a.Policies), BusinessInformation: a.BusinessInformation, IsSubscriptionAvailable: subscribable(a),
		GatewayVendor: a.GatewayVendor}
}

// visibleAPI returns a published-catalog API, or a 404 Problem.
func (h *Handler) visibleAPI(r *http.Request, id string) (*catalog.API, error) {
	a, err := h.Catalog.GetAPI(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if a.IsRevision || !slices.Contains(visibleStatuses, a.LifeCycleStatus) {
		return nil, restapi.ErrNotFound("Requested API with id '" + id + "' not found")
	}
	return a, nil
}

func (h *Handler) listAPIs(w http.ResponseWriter, r *http.Request) {
	writeVisibleAPIs(h, w, r, "/apis", toAPIInfo)
}

func (h *Handler) search(w http.ResponseWriter, r *http.Request) {
	writeVisibleAPIs(h, w, r, "/search", func(a *catalog.API) any {
		return map[string]any{"id": a.ID, "name": a.Name, "type": "API", "transportType": apiType(a),
			"description": a.Description, "context": portalContext(a), "version": a.Version, "provider": a.Provider,
			"status": a.LifeCycleStatus, "thumbnailUri": "", "businessInformation": a.BusinessInformation}
	})
}

// writeVisibleAPIs answers with the page of published-catalog APIs that
// match ?query, each rendered by item, as the list served at path.
func writeVisibleAPIs[T any](h *Handler, w http.ResponseWriter, r *http.Request, path string, item func(*catalog.API) T) {
	q := r.URL.Query()
	page, err := restapi.ParsePage(q, 0)
	if err != nil {
		h.respond(w, err)
		return
	}
	apis, total, err := h.Catalog.ListAPIs(r.Context(), catalog.Query{Text: q.Get("query"), Statuses: visibleStatuses,
		Offset: page.Offset, Limit: page.Limit})
	if err != nil {
		h.respond(w, err)
		return
	}
	out := make([]T, 0, len(apis))
	for _, a := range apis {
		out = append(out, item(a))
	}
	restapi.WriteList(w, restapi.NewList(out, path, q, page, total))
}

func (h *Handler) getAPI(w http.ResponseWriter, r *http.Request) {
	a, err := h.visibleAPI(r, r.PathValue("apiId"))
	if err != nil {
		h.respond(w, err)
		return
	}
	d := h.toAPI(r, a)
	d.EndpointURLs, d.EnvironmentList = h.endpointURLs(r, a)
	restapi.WriteJSON(w, http.StatusOK, d)
}

type endpointURLs struct {
	EnvironmentName        string            `json:"environmentName"`
	EnvironmentDisplayName string            `json:"environmentDisplayName"`
	EnvironmentType        string            `json:"environmentType"`
	URLs                   map[string]string `json:"URLs"`
	DefaultVersionURLs     map[string]string `json:"defaultVersionURLs,omitempty"`
}

// endpointURLs lists where the API is invoked: every deployment shown on
// the developer portal, on its environment's vhost.
func (h *Handler) endpointURLs(r *http.Request, a *catalog.API) ([]endpointURLs, []string) {
	out, names := []endpointURLs{}, []string{}
	deps, err := h.Catalog.Deployments(r.Context(), a.ID)
	if err != nil {
		h.Logger.Warn("read deployments", "api", a.ID, "err", err)
		return out, names
	}
	envs := h.Catalog.Environments()
	for _, d := range deps {
		if !d.DisplayOnDevportal {
			continue
		}
		i := slices.IndexFunc(envs, func(e catalog.Environment) bool { return e.Name == d.Name })
		if i < 0 || len(envs[i].VHosts) == 0 {
			continue
		}
		env := envs[i]
		vh := env.VHosts[0]
		if j := slices.IndexFunc(env.VHosts, func(v catalog.VHost) bool { return v.Host == d.VHost }); j >= 0 {
			vh = env.VHosts[j]
		}
		path := strings.TrimSuffix(vh.HTTPContext, "/") + portalContext(a)
		base := func(scheme string, port, def int) string {
			if port == def {
				return scheme + "://" + vh.Host
			}
			return scheme + "://" + vh.Host + ":" + strconv.Itoa(port)
		}
		e := endpointURLs{EnvironmentName: env.Name, EnvironmentDisplayName: env.DisplayName, EnvironmentType: env.Type,
			URLs: map[string]string{"http": base("http", vh.HTTPPort, 80) + path, "https": base("https", vh.HTTPSPort, 443) + path}}
		if a.IsDefaultVersion {
			dp := strings.TrimSuffix(vh.HTTPContext, "/") + strings.TrimSuffix(strings.TrimSuffix(portalContext(a), a.Version), "/") + "/"
			e.DefaultVersionURLs = map[string]string{"http": base("http", vh.HTTPPort, 80) + dp, "https": base("https", vh.HTTPSPort, 443) + dp}
		}
		out = append(out, e)
		if !slices.Contains(names, env.Name) {
			names = append(names, env.Name)
		}
	}
	return out, names
}

func (h *Handler) getSwagger(w http.ResponseWriter, r *http.Request) {
	a, err := h.visibleAPI(r, r.PathValue("apiId"))
	if err != nil {
		h.respond(w, err)
		return
	}
	def, err := h.Catalog.Definition(r.Context(), a.ID)
	if err != nil {
		h.respond(w, err)
		return
	}
	if !json.Valid(def) {
		restapi.NotFound(w, "the API has no OpenAPI definition")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(def)
}

func (h *Handler) apiSubscriptionPolicies(w http.ResponseWriter, r *http.Request) {
	a, err := h.visibleAPI(r, r.PathValue("apiId"))
	if err != nil {
		h.respond(w, err)
		return
	}
	out := []throttlingPolicyDTO{}
	for _, name := range a.Policies {
		if p, err := h.Policies.GetByName(r.Context(), policy.Subscription, name); err == nil {
			out = append(out, toPolicy(p))
		}
	}
	restapi.WriteJSON(w, http.StatusOK, out)
}
