package apiresource

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/keyway/keyway/internal/httpx"
	"github.com/keyway/keyway/internal/identity/access"
)

// Base paths served by the Handler.
const (
	ResourcesPath   = "/api/server/v1/api-resources"
	ServerScopePath = "/api/server/v1/scopes"
	LegacyScopePath = "/api/identity/oauth2/v1.0/scopes"
)

// Handler serves the API resource and legacy scope REST APIs.
type Handler struct {
	store  *Store
	guard  *access.Guard
	logger *slog.Logger
}

// NewHandler returns the HTTP handler over store; guard authorizes callers.
func NewHandler(store *Store, guard *access.Guard, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.Default()
	}
	return &Handler{store: store, guard: guard, logger: logger}
}

// Mount registers the routes.
func (h *Handler) Mount(mux *http.ServeMux) {
	res := func(pattern string, fn http.HandlerFunc) {
		mux.Handle(pattern, h.guard.Protect(access.REST, access.ByMethod(access.APIResourceScopes), fn))
	}
	res("GET "+ResourcesPath, h.list)
	res("POST "+ResourcesPath, h.create)
	res("GET "+ResourcesPath+"/{id}", h.get)
	res("PATCH "+ResourcesPath+"/{id}", h.patch)
	res("DELETE "+ResourcesPath+"/{id}", h.delete)
	res("GET "+ResourcesPath+"/{id}/scopes", h.listScopes)
	res("PUT "+ResourcesPath+"/{id}/scopes", h.putScopes)
	res("PATCH "+ResourcesPath+"/{id}/scopes/{scope}", h.patchScope)
	res("DELETE "+ResourcesPath+"/{id}/scopes/{scope}", h.deleteScope)
	res("GET "+ServerScopePath, h.serverScopes)

	legacy := func(pattern string, fn http.HandlerFunc) {
		mux.Handle(pattern, h.guard.Protect(access.REST, access.ByMethod(access.LegacyScopeScopes), fn))
	}
	legacy("GET "+LegacyScopePath, h.legacyList)
	legacy("POST "+LegacyScopePath, h.legacyCreate)
	legacy("GET "+LegacyScopePath+"/name/{name}", h.legacyGet)
	legacy("HEAD "+LegacyScopePath+"/name/{name}", h.legacyHead)
	legacy("PUT "+LegacyScopePath+"/name/{name}", h.legacyUpdate)
	legacy("DELETE "+LegacyScopePath+"/name/{name}", h.legacyDelete)
}

// Wire shapes (is-api-resource.yaml).

type scopeJSON struct {
	ID          string `json:"id,omitempty"`
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
	// Description is always a string: connector v2.0.5 fails on null.
	Description string `json:"description"`
}

type resourceJSON struct {
	ID                    string      `json:"id"`
	Name                  string      `json:"name"`
	Description           string      `json:"description"`
	Identifier            string      `json:"identifier"`
	Type                  string      `json:"type"`
	RequiresAuthorization bool        `json:"requiresAuthorization"`
	Scopes                []scopeJSON `json:"scopes"`
	SubscribedApps        []any       `json:"subscribedApplications"`
	Properties            []any       `json:"properties"`
	Self                  string      `json:"self"`
}

type listItemJSON struct {
	ID                    string `json:"id"`
	Name                  string `json:"name"`
	Identifier            string `json:"identifier"`
	Type                  string `json:"type"`
	RequiresAuthorization bool   `json:"requiresAuthorization"`
	Self                  string `json:"self"`
}

type linkJSON struct {
	Rel  string `json:"rel"`
	Href string `json:"href"`
}

// listJSON carries the items under both spellings: the APIM IS7 connector
// reads "apiResources", while the published definition names the member
// "APIResources" (PATTERN6-WIRE.md §2.7).
type listJSON struct {
	TotalResults int            `json:"totalResults"`
	Links        []linkJSON     `json:"links"`
	APIResources []listItemJSON `json:"apiResources"`
	Legacy       []listItemJSON `json:"APIResources"`
}

type createJSON struct {
	Name                  string      `json:"name"`
	Identifier            string      `json:"identifier"`
	Description           string      `json:"description"`
	RequiresAuthorization *bool       `json:"requiresAuthorization"`
	Scopes                []scopeJSON `json:"scopes"`
}

type patchJSON struct {
	Name          *string     `json:"name"`
	Description   *string     `json:"description"`
	AddedScopes   []scopeJSON `json:"addedScopes"`
	RemovedScopes []string    `json:"removedScopes"`
}

type scopePatchJSON struct {
	DisplayName *string `json:"displayName"`
	Description *string `json:"description"`
}

func selfLink(id string) string { return ResourcesPath + "/" + id }

func toScopeJSON(s Scope) scopeJSON {
	return scopeJSON{ID: s.ID, Name: s.Name, DisplayName: s.DisplayName, Description: s.Description}
}

func toResourceJSON(r *Resource) resourceJSON {
	out := resourceJSON{ID: r.ID, Name: r.Name, Description: r.Description, Identifier: r.Identifier, Type: r.Type,
		RequiresAuthorization: r.RequiresAuthorization, Scopes: []scopeJSON{}, SubscribedApps: []any{}, Properties: []any{}, Self: selfLink(r.ID)}
	for _, s := range r.Scopes {
		out.Scopes = append(out.Scopes, toScopeJSON(s))
	}
	return out
}

func fromScopesJSON(in []scopeJSON) []Scope {
	out := make([]Scope, 0, len(in))
	for _, s := range in {
		out = append(out, Scope{Name: s.Name, DisplayName: s.DisplayName, Description: s.Description})
	}
	return out
}

// decode reads a JSON body; unknown members are ignored as IS does.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("the request body is not valid JSON: %v", err)
	}
	return nil
}

// detail is an error's text without the package's sentinel wording.
func detail(err error) string {
	s := err.Error()
	for _, e := range []error{ErrInvalid, ErrNotFound, ErrConflict} {
		s = strings.Replace(s, e.Error()+": ", "", 1)
		s = strings.Replace(s, ": "+e.Error(), " does not exist", 1)
	}
	return s
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrInvalid):
		access.WriteError(w, r, access.REST, http.StatusBadRequest, "APR-60001", detail(err))
	case errors.Is(err, ErrNotFound):
		access.WriteError(w, r, access.REST, http.StatusNotFound, "APR-60002", detail(err))
	case errors.Is(err, ErrConflict):
		access.WriteError(w, r, access.REST, http.StatusConflict, "APR-60003", strings.Replace(err.Error(), ": "+ErrConflict.Error(), " already exists", 1))
	default:
		h.logger.Error("API resource request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		access.WriteError(w, r, access.REST, http.StatusInternalServerError, "APR-65001", "the server could not complete the request")
	}
}

func (h *Handler) badRequest(w http.ResponseWriter, r *http.Request, msg string) {
	access.WriteError(w, r, access.REST, http.StatusBadRequest, "APR-60001", msg)
}

// parseFilter reads "attr op value" (value may be quoted or contain spaces).
func parseFilter(f string) (attr, op, value string, err error) {
	f = strings.TrimSpace(f)
	if f == "" {
		return "", "", "", nil
	}
	parts := strings.SplitN(f, " ", 3)
	if len(parts) != 3 {
		return "", "", "", fmt.Errorf("%w: filter %q must be \"attribute operator value\"", ErrInvalid, f)
	}
	value = strings.TrimSpace(parts[2])
	if len(value) >= 2 && (value[0] == '"' && value[len(value)-1] == '"' || value[0] == '\'' && value[len(value)-1] == '\'') {
		value = value[1 : len(value)-1]
	}
	return parts[0], parts[1], value, nil
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	attr, op, value, err := parseFilter(q.Get("filter"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	o := ListOptions{Attribute: attr, Op: op, Value: value}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			h.badRequest(w, r, "limit must be a non-negative integer")
			return
		}
		o.Limit = n
	}
	for _, c := range []struct {
		name string
		dst  *string
	}{{"after", &o.After}, {"before", &o.Before}} {
		if v := q.Get(c.name); v != "" {
			raw, err := base64.RawURLEncoding.DecodeString(v)
			if err != nil {
				h.badRequest(w, r, c.name+" is not a valid cursor")
				return
			}
			*c.dst = string(raw)
		}
	}
	items, total, more, err := h.store.ListResources(r.Context(), o)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := listJSON{TotalResults: total, Links: []linkJSON{}, APIResources: []listItemJSON{}}
	for _, it := range items {
		out.APIResources = append(out.APIResources, listItemJSON{ID: it.ID, Name: it.Name, Identifier: it.Identifier, Type: it.Type,
			RequiresAuthorization: it.RequiresAuthorization, Self: selfLink(it.ID)})
	}
	out.Legacy = out.APIResources
	if len(items) > 0 && o.Limit > 0 {
		link := func(rel, key, id string) {
			v := url.Values{}
			v.Set(key, base64.RawURLEncoding.EncodeToString([]byte(id)))
			v.Set("limit", strconv.Itoa(o.Limit))
			if f := q.Get("filter"); f != "" {
				v.Set("filter", f)
			}
			out.Links = append(out.Links, linkJSON{Rel: rel, Href: ResourcesPath + "?" + v.Encode()})
		}
		if (o.Before == "" && more) || o.Before != "" {
			link("next", "after", items[len(items)-1].ID)
		}
		if o.After != "" || (o.Before != "" && more) {
			link("previous", "before", items[0].ID)
		}
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request) {
	var in createJSON
	if err := decode(r, &in); err != nil {
		h.badRequest(w, r, err.Error())
		return
	}
	res := &Resource{Name: in.Name, Identifier: in.Identifier, Description: in.Description, RequiresAuthorization: true, Scopes: fromScopesJSON(in.Scopes)}
	if in.RequiresAuthorization != nil {
		res.RequiresAuthorization = *in.RequiresAuthorization
	}
	if err := h.store.CreateResource(r.Context(), res); err != nil {
		h.fail(w, r, err)
		return
	}
	got, err := h.store.GetResource(r.Context(), res.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Location", selfLink(res.ID))
	httpx.WriteJSON(w, http.StatusCreated, toResourceJSON(got))
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	res, err := h.store.GetResource(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, toResourceJSON(res))
}

func (h *Handler) patch(w http.ResponseWriter, r *http.Request) {
	var in patchJSON
	if err := decode(r, &in); err != nil {
		h.badRequest(w, r, err.Error())
		return
	}
	if len(in.RemovedScopes) > 0 {
		// As IS: removing scopes goes through DELETE .../scopes/{name}.
		access.WriteError(w, r, access.REST, http.StatusNotImplemented, "APR-65002", "removedScopes is not supported; delete scopes with DELETE "+ResourcesPath+"/{id}/scopes/{name}")
		return
	}
	if err := h.store.PatchResource(r.Context(), r.PathValue("id"), in.Name, in.Description, fromScopesJSON(in.AddedScopes)); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request) {
	if err := h.store.DeleteResource(r.Context(), r.PathValue("id")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) listScopes(w http.ResponseWriter, r *http.Request) {
	scopes, err := h.store.ListScopes(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]scopeJSON, 0, len(scopes))
	for _, s := range scopes {
		out = append(out, toScopeJSON(s))
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (h *Handler) putScopes(w http.ResponseWriter, r *http.Request) {
	var in []scopeJSON
	if err := decode(r, &in); err != nil {
		h.badRequest(w, r, err.Error())
		return
	}
	if err := h.store.ReplaceScopes(r.Context(), r.PathValue("id"), fromScopesJSON(in)); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) patchScope(w http.ResponseWriter, r *http.Request) {
	var in scopePatchJSON
	if err := decode(r, &in); err != nil {
		h.badRequest(w, r, err.Error())
		return
	}
	if err := h.store.PatchScope(r.Context(), r.PathValue("id"), r.PathValue("scope"), in.DisplayName, in.Description); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) deleteScope(w http.ResponseWriter, r *http.Request) {
	if err := h.store.DeleteResourceScope(r.Context(), r.PathValue("id"), r.PathValue("scope")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) serverScopes(w http.ResponseWriter, r *http.Request) {
	attr, op, value, err := parseFilter(r.URL.Query().Get("filter"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if attr != "" && !strings.EqualFold(attr, "name") {
		h.badRequest(w, r, "scopes can be filtered on name only")
		return
	}
	scopes, err := h.store.AllScopes(r.Context(), op, value)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]scopeJSON, 0, len(scopes))
	for _, s := range scopes {
		out = append(out, toScopeJSON(s))
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}
