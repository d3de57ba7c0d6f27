// Package internalapi serves the internal data API (/internal/data/v1) that
// gateways on other nodes read: the whole runtime snapshot in one call, and
// the WSO2-shaped key manager, application, subscription, key mapping and
// policy lists of wso2/internal-api.yaml. Callers authenticate as an admin
// (Basic). /notify and /revokedjwt belong to the gateway's revocation
// service and are not served here.
package internalapi

import (
	"log/slog"
	"net/http"

	"github.com/keyway/keyway/internal/apim/restapi"
	"github.com/keyway/keyway/internal/runtime"
)

// BasePath is where the API is mounted.
const BasePath = "/internal/data/v1"

// SnapshotPath is what the gateway's remote source calls.
const SnapshotPath = BasePath + "/runtime-snapshot"

// Handler serves the internal data API.
type Handler struct {
	source runtime.Source
	auth   *restapi.Auth
	log    *slog.Logger
}

// New returns the handler; auth must accept the admin's Basic credentials.
func New(source runtime.Source, auth *restapi.Auth, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.Default()
	}
	return &Handler{source: source, auth: auth, log: logger}
}

// Mount registers the routes.
func (h *Handler) Mount(mux *http.ServeMux) {
	handle := func(path string, fn func(http.ResponseWriter, *http.Request, *runtime.Snapshot)) {
		mux.Handle("GET "+BasePath+path, h.auth.RequireFunc(func(w http.ResponseWriter, r *http.Request) {
			snap, err := h.source.Snapshot(r.Context())
			if err != nil {
				restapi.Internal(w, h.log, err)
				return
			}
			fn(w, r, snap)
		}, "apim:admin"))
	}
	handle("/runtime-snapshot", func(w http.ResponseWriter, _ *http.Request, s *runtime.Snapshot) {
		w.Header().Set("Cache-Control", "no-store")
		restapi.WriteJSON(w, http.StatusOK, s)
	})
	handle("/keymanagers", h.keyManagers)
	handle("/applications", h.applications)
	handle("/subscriptions", h.subscriptions)
	handle("/application-key-mappings", h.keyMappings)
	handle("/subscription-policies", h.subscriptionPolicies)
	handle("/application-policies", h.applicationPolicies)
	handle("/api-policies", h.apiPolicies)
}
