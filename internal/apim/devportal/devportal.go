// Package devportal serves the developer portal REST API
// (/api/am/devportal/v3): the published API catalog, applications, their
// keys at every key manager, subscriptions, the key managers and the
// application/subscription tiers a developer may choose.
package devportal

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/keyway/keyway/internal/apim/catalog"
	"github.com/keyway/keyway/internal/apim/keymanager"
	"github.com/keyway/keyway/internal/apim/policy"
	"github.com/keyway/keyway/internal/apim/restapi"
	"github.com/keyway/keyway/internal/apim/subscription"
)

// BasePath is where the API is mounted.
const BasePath = "/api/am/devportal/v3"

// Catalog is the part of the API catalog the portal reads (catalog.Service).
type Catalog interface {
	ListAPIs(ctx context.Context, q catalog.Query) ([]*catalog.API, int, error)
	GetAPI(ctx context.Context, id string) (*catalog.API, error)
	Definition(ctx context.Context, id string) ([]byte, error)
	Deployments(ctx context.Context, apiID string) ([]catalog.Deployment, error)
	Environments() []catalog.Environment
	// FindAPI returns the id of the API with that name and version, or ""
	// when there is none.
	FindAPI(ctx context.Context, name, version string) (string, error)
}

// KeyManagers lists key manager configurations (keymanager.Service).
type KeyManagers interface {
	List(ctx context.Context) ([]*keymanager.Config, error)
}

// Options are the portal's collaborators; all are required.
type Options struct {
	Auth        *restapi.Auth
	Store       *subscription.Store
	Keys        *subscription.Manager
	Policies    *policy.Store
	KeyManagers KeyManagers
	Catalog     Catalog
	Logger      *slog.Logger
	// APIKeys enables the api-keys operations; nil answers them 501.
	APIKeys *APIKeys
}

// Handler serves the developer portal API.
type Handler struct {
	Options
}

// New returns the handler.
func New(opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Handler{Options: opts}
}

// Scopes of the developer portal operations (devportal-api.yaml).
var (
	appScopes = []string{"apim:subscribe", "apim:app_manage"}
	subScopes = []string{"apim:subscribe", "apim:sub_manage"}
)

// Mount registers every route on mux.
func (h *Handler) Mount(mux *http.ServeMux) {
	auth := h.Auth
	handle := func(pattern string, fn http.HandlerFunc, scopes ...string) {
		method, path, _ := strings.Cut(pattern, " ")
		full := method + " " + BasePath + path
		if scopes == nil {
			mux.Handle(full, fn)
			return
		}
		mux.Handle(full, auth.RequireFunc(fn, scopes...))
	}
	handle("GET /apis", h.listAPIs)
	handle("GET /apis/{apiId}", h.getAPI)
	handle("GET /apis/{apiId}/swagger", h.getSwagger)
	handle("GET /apis/{apiId}/subscription-policies", h.apiSubscriptionPolicies)
	handle("GET /search", h.search)

	handle("GET /applications", h.listApplications, "apim:subscribe", "apim:app_manage", "apim:app_import_export")
	handle("POST /applications", h.createApplication, appScopes...)
	handle("GET /applications/export", h.exportApplication, "apim:app_import_export")
	handle("POST /applications/import", h.importApplication, "apim:app_import_export")
	handle("GET /applications/{applicationId}", h.getApplication, appScopes...)
	handle("PUT /applications/{applicationId}", h.updateApplication, appScopes...)
	handle("DELETE /applications/{applicationId}", h.deleteApplication, "apim:subscribe", "apim:app_manage", "apim:app_import_export")

	handle("POST /applications/{applicationId}/generate-keys", h.generateKeys, appScopes...)
	handle("POST /applications/{applicationId}/map-keys", h.mapKeys, appScopes...)
	handle("GET /applications/{applicationId}/keys", h.listKeys, appScopes...)
	handle("GET /applications/{applicationId}/keys/{keyType}", h.getKeysByType, appScopes...)
	handle("GET /applications/{applicationId}/oauth-keys", h.listKeys, appScopes...)
	handle("GET /applications/{applicationId}/oauth-keys/{keyMappingId}", h.getKeys, appScopes...)
	handle("PUT /applications/{applicationId}/oauth-keys/{keyMappingId}", h.updateKeys, appScopes...)
	handle("DELETE /applications/{applicationId}/oauth-keys/{keyMappingId}", h.deleteKeys, appScopes...)
	handle("POST /applications/{applicationId}/oauth-keys/{keyMappingId}/regenerate-secret", h.regenerateSecret, appScopes...)
	handle("POST /applications/{applicationId}/oauth-keys/{keyMappingId}/clean-up", h.deleteKeys, appScopes...)
	handle("POST /applications/{applicationId}/oauth-keys/{keyMappingId}/generate-token", h.generateToken, appScopes...)

	handle("POST /applications/{applicationId}/api-keys/{keyType}/generate", h.generateAPIKey, apiKeyScopes...)
	handle("POST /applications/{applicationId}/api-keys/{keyType}/revoke", h.revokeAPIKey, apiKeyScopes...)

	handle("GET /subscriptions", h.listSubscriptions, subScopes...)
	handle("POST /subscriptions", h.createSubscription, subScopes...)
	handle("POST /subscriptions/multiple", h.createSubscriptions, subScopes...)
	handle("GET /subscriptions/{subscriptionId}", h.getSubscription, subScopes...)
	handle("PUT /subscriptions/{subscriptionId}", h.updateSubscription, subScopes...)
	handle("DELETE /subscriptions/{subscriptionId}", h.deleteSubscription, subScopes...)

	handle("GET /key-managers", h.listKeyManagers, "apim:subscribe")
	handle("GET /throttling-policies/{policyLevel}", h.listPolicies)
	handle("GET /throttling-policies/{policyLevel}/{policyId}", h.getPolicy)
}

// caller returns the authenticated user name.
func caller(r *http.Request) string {
	if c, ok := restapi.CallerFrom(r.Context()); ok {
		return c.Username
	}
	return ""
}

// respond maps a domain error to the APIM error envelope.
func (h *Handler) respond(w http.ResponseWriter, err error) {
	var p *restapi.Problem
	var remote *keymanager.RemoteError
	var cerr *catalog.Error
	switch {
	case errors.As(err, &p):
		restapi.Respond(w, h.Logger, err)
	case errors.As(err, &cerr):
		restapi.WriteError(w, cerr.Status, restapi.Error{Code: cerr.Code, Message: cerr.Message, Description: cerr.Description})
	case errors.Is(err, subscription.ErrNotFound), errors.Is(err, keymanager.ErrClientNotFound), errors.Is(err, catalog.ErrNotFound):
		restapi.NotFound(w, message(err))
	case errors.Is(err, subscription.ErrConflict):
		restapi.Conflict(w, message(err))
	case errors.Is(err, subscription.ErrInvalid), errors.Is(err, keymanager.ErrInvalid), errors.Is(err, keymanager.ErrInvalidProperties),
		errors.Is(err, keymanager.ErrUnsupported), errors.Is(err, keymanager.ErrNotFound), errors.Is(err, policy.ErrNotFound):
		restapi.BadRequest(w, message(err))
	case errors.As(err, &remote):
		if remote.Status >= 400 && remote.Status < 500 {
			restapi.BadRequest(w, "key manager: "+remote.Message)
			return
		}
		restapi.Internal(w, h.Logger, err)
	default:
		restapi.Internal(w, h.Logger, err)
	}
}

// message drops the sentinel prefixes Go error wrapping leaves.
func message(err error) string {
	s := err.Error()
	for _, prefix := range []string{"invalid input: ", "already exists: ", "invalid key manager configuration: ", "application: ",
		"subscription: ", "key manager: "} {
		s = strings.TrimPrefix(s, prefix)
	}
	return s
}
