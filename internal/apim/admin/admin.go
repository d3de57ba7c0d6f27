// Package admin serves the admin portal REST API (/api/am/admin/v4): key
// manager configurations with well-known discovery, throttling policies of
// the three levels, gateway environments and the applications of all users.
package admin

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
	"github.com/keyway/keyway/internal/user"
)

// BasePath is where the API is mounted.
const BasePath = "/api/am/admin/v4"

// Environments lists and changes the gateway environments (catalog.Service).
type Environments interface {
	ListEnvironments(ctx context.Context) ([]catalog.Environment, error)
	GetEnvironment(ctx context.Context, idOrName string) (*catalog.Environment, error)
	CreateEnvironment(ctx context.Context, in catalog.Environment) (*catalog.Environment, error)
	UpdateEnvironment(ctx context.Context, idOrName string, in catalog.Environment) (*catalog.Environment, error)
	DeleteEnvironment(ctx context.Context, idOrName string) error
}

// Catalog resolves subscribed APIs for an application's scopes (catalog.Service).
type Catalog interface {
	GetAPI(ctx context.Context, id string) (*catalog.API, error)
	ListAPIs(ctx context.Context, q catalog.Query) ([]*catalog.API, int, error)
}

// Options are the admin API's collaborators.
type Options struct {
	Auth         *restapi.Auth
	KeyManagers  *keymanager.Service
	Policies     *policy.Store
	Store        *subscription.Store
	Keys         *subscription.Manager
	Environments Environments
	Catalog      Catalog
	Users        user.Directory
	Logger       *slog.Logger
}

// Handler serves the admin API.
type Handler struct{ Options }

// New returns the handler.
func New(opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Handler{Options: opts}
}

var (
	kmScopes       = []string{"apim:admin", "apim:admin_operations", "apim:keymanagers_manage"}
	tierViewScopes = []string{"apim:admin", "apim:tier_view", "apim:admin_tier_view"}
	tierScopes     = []string{"apim:admin", "apim:tier_manage", "apim:admin_tier_manage"}
)

// Mount registers every route on mux.
func (h *Handler) Mount(mux *http.ServeMux) {
	handle := func(pattern string, fn http.HandlerFunc, scopes ...string) {
		method, path, _ := strings.Cut(pattern, " ")
		mux.Handle(method+" "+BasePath+path, h.Auth.RequireFunc(fn, scopes...))
	}
	handle("GET /key-managers", h.listKeyManagers, kmScopes...)
	handle("POST /key-managers", h.createKeyManager, kmScopes...)
	handle("POST /key-managers/discover", h.discover, kmScopes...)
	handle("GET /key-managers/{keyManagerId}", h.getKeyManager, kmScopes...)
	handle("PUT /key-managers/{keyManagerId}", h.updateKeyManager, kmScopes...)
	handle("DELETE /key-managers/{keyManagerId}", h.deleteKeyManager, "apim:admin", "apim:admin_operations")
	handle("GET /key-managers/{keyManagerId}/app-usages", h.appUsages, "apim:admin", "apim:admin_operations")
	handle("GET /key-managers/{keyManagerId}/api-usages", h.apiUsages, "apim:admin", "apim:admin_operations")

	for _, level := range []string{"subscription", "application", "advanced"} {
		level := policy.Level(level)
		handle("GET /throttling/policies/"+string(level), h.listPolicies(level), tierViewScopes...)
		handle("POST /throttling/policies/"+string(level), h.createPolicy(level), tierScopes...)
		handle("GET /throttling/policies/"+string(level)+"/{policyId}", h.getPolicy(level), tierViewScopes...)
		handle("PUT /throttling/policies/"+string(level)+"/{policyId}", h.updatePolicy(level), tierScopes...)
		handle("DELETE /throttling/policies/"+string(level)+"/{policyId}", h.deletePolicy(level),
			"apim:admin", "apim:tier_manage", "apim:admin_tier_manage", "apim:policies_import_export")
	}

	handle("GET /environments", h.listEnvironments, "apim:admin", "apim:environment_read")
	handle("POST /environments", h.createEnvironment, "apim:admin", "apim:environment_manage")
	handle("GET /environments/{environmentId}", h.getEnvironment, "apim:admin", "apim:environment_manage")
	handle("PUT /environments/{environmentId}", h.updateEnvironment, "apim:admin", "apim:environment_manage")
	handle("DELETE /environments/{environmentId}", h.deleteEnvironment, "apim:admin", "apim:environment_manage")

	handle("GET /applications", h.listApplications, "apim:admin", "apim:app_owner_change", "apim:app_import_export", "apim:admin_application_view")
	handle("GET /applications/{applicationId}", h.getApplication, "apim:admin", "apim:app_import_export", "apim:admin_application_view")
	handle("DELETE /applications/{applicationId}", h.deleteApplication, "apim:admin", "apim:app_import_export")
	handle("POST /applications/{applicationId}/change-owner", h.changeOwner, "apim:admin", "apim:app_owner_change")
}

// respond maps domain errors to the APIM error envelope.
func (h *Handler) respond(w http.ResponseWriter, err error) {
	var p *restapi.Problem
	var remote *keymanager.RemoteError
	switch {
	case errors.As(err, &p):
		restapi.Respond(w, h.Logger, err)
	case errors.Is(err, keymanager.ErrNotFound), errors.Is(err, policy.ErrNotFound), errors.Is(err, subscription.ErrNotFound):
		restapi.NotFound(w, message(err))
	case errors.Is(err, keymanager.ErrConflict), errors.Is(err, policy.ErrConflict), errors.Is(err, subscription.ErrConflict):
		restapi.Conflict(w, message(err))
	case errors.Is(err, keymanager.ErrInvalid), errors.Is(err, policy.ErrInvalid), errors.Is(err, policy.ErrInUse),
		errors.Is(err, subscription.ErrInvalid), errors.Is(err, keymanager.ErrUnsupported):
		restapi.BadRequest(w, message(err))
	case errors.As(err, &remote) && remote.Status < 500:
		restapi.BadRequest(w, "key manager: "+remote.Message)
	default:
		restapi.Internal(w, h.Logger, err)
	}
}

func message(err error) string {
	s := err.Error()
	for _, prefix := range []string{"invalid key manager configuration: ", "invalid throttling policy: ", "throttling policy is in use: ",
		"invalid input: ", "already exists: ", "throttling policy already exists: ", "key manager already exists: "} {
		s = strings.TrimPrefix(s, prefix)
	}
	return s
}
