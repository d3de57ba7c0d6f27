package admin

import (
	"net/http"
	"slices"
	"strings"

	"github.com/keyway/keyway/internal/apim/catalog"
	"github.com/keyway/keyway/internal/apim/restapi"
)

// appUsages lists the applications holding keys of a key manager.
func (h *Handler) appUsages(w http.ResponseWriter, r *http.Request) {
	km, err := h.KeyManagers.Get(r.Context(), r.PathValue("keyManagerId"))
	if err != nil {
		h.respond(w, err)
		return
	}
	page, err := restapi.ParsePage(r.URL.Query(), 0)
	if err != nil {
		h.respond(w, err)
		return
	}
	keys, err := h.Store.KeyMappingsOfKeyManager(r.Context(), km.Name)
	if err != nil {
		h.respond(w, err)
		return
	}
	var ids []string
	for _, k := range keys {
		if !slices.Contains(ids, k.ApplicationUUID) {
			ids = append(ids, k.ApplicationUUID)
		}
	}
	apps := []map[string]any{}
	for _, id := range restapi.Slice(ids, page) {
		a, err := h.Store.GetApplication(r.Context(), id)
		if err != nil {
			continue
		}
		apps = append(apps, map[string]any{"name": a.Name, "uuid": a.UUID, "owner": a.Owner, "organization": "carbon.super"})
	}
	restapi.WriteJSON(w, http.StatusOK, map[string]any{"applicationCount": len(ids), "applications": apps})
}

// apiUsages lists the APIs that accept a key manager's tokens.
func (h *Handler) apiUsages(w http.ResponseWriter, r *http.Request) {
	km, err := h.KeyManagers.Get(r.Context(), r.PathValue("keyManagerId"))
	if err != nil {
		h.respond(w, err)
		return
	}
	page, err := restapi.ParsePage(r.URL.Query(), 0)
	if err != nil {
		h.respond(w, err)
		return
	}
	all, _, err := h.Catalog.ListAPIs(r.Context(), catalog.Query{})
	if err != nil {
		h.respond(w, err)
		return
	}
	var used []*catalog.API
	for _, a := range all {
		if len(a.KeyManagers) == 0 || slices.ContainsFunc(a.KeyManagers, func(n string) bool { return n == km.Name || strings.EqualFold(n, "all") }) {
			used = append(used, a)
		}
	}
	apis := []map[string]any{}
	for _, a := range restapi.Slice(used, page) {
		typ := a.Type
		if typ == "" {
			typ = "HTTP"
		}
		apis = append(apis, map[string]any{"id": a.ID, "type": "API", "name": a.Name, "transportType": typ, "description": a.Description,
			"context": a.Context, "version": a.Version, "provider": a.Provider, "status": a.LifeCycleStatus})
	}
	restapi.WriteJSON(w, http.StatusOK, map[string]any{"apiCount": len(used), "apis": apis})
}
