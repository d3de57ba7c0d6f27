// Package publisher serves WSO2's publisher REST API v4
// (/api/am/publisher/v4) over the API catalog: APIs and their definitions,
// search, lifecycle, revisions and deployments, import/export in apictl's
// project format, throttling policies, shared scopes, settings and
// subscription blocking. Each operation enforces the apim:* scopes the
// contract (publisher-api.yaml) declares for it.
package publisher

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/keyway/keyway/internal/apim/catalog"
	"github.com/keyway/keyway/internal/apim/restapi"
)

// BasePath is where the publisher API is mounted.
const BasePath = "/api/am/publisher/v4"

// PolicyLister gives the throttling policies of a level ("subscription" or
// "api"); APIM-B's policy store implements it.
type PolicyLister = catalog.PolicyLister

// SubscriptionBlocker blocks and unblocks subscriptions for the publisher
// (APIM-B's subscription service implements it). state is BLOCKED or
// PROD_ONLY_BLOCKED. Return a *restapi.Problem (e.g. restapi.ErrNotFound)
// for a 4xx answer; any other error answers 500.
type SubscriptionBlocker interface {
	BlockSubscription(ctx context.Context, subscriptionID, state string) error
	UnblockSubscription(ctx context.Context, subscriptionID string) error
}

// Handler serves the publisher API.
type Handler struct {
	svc  *catalog.Service
	auth *restapi.Auth
	log  *slog.Logger
	// DevPortalURL is reported by GET /settings.
	DevPortalURL string
	blocker      SubscriptionBlocker
}

// New returns the publisher API handler.
func New(svc *catalog.Service, auth *restapi.Auth, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.Default()
	}
	return &Handler{svc: svc, auth: auth, log: logger.With("component", "publisher")}
}

// SetPolicyLister sets the throttling policy source, for the policy
// endpoints and for the catalog's validation of API policies. Until it is
// called WSO2's default policies apply.
func (h *Handler) SetPolicyLister(p PolicyLister) { h.svc.SetPolicyLister(p) }

// SetSubscriptionBlocker sets the subscription service used by
// block/unblock-subscription; without one those answer 501.
func (h *Handler) SetSubscriptionBlocker(b SubscriptionBlocker) { h.blocker = b }

// Scopes the contract declares, grouped as its operations use them.
var (
	scView         = []string{"apim:api_view", "apim:api_manage", "apim:api_import_export", "apim:api_list_view"}
	scGet          = []string{"apim:api_view", "apim:api_manage", "apim:api_import_export", "apim:api_product_import_export"}
	scCreate       = []string{"apim:api_create", "apim:api_manage"}
	scUpdate       = []string{"apim:api_create", "apim:api_manage", "apim:api_publish"}
	scDelete       = []string{"apim:api_delete", "apim:api_manage", "apim:api_import_export"}
	scDefView      = []string{"apim:api_view", "apim:api_manage", "apim:api_definition_view"}
	scLifecycle    = []string{"apim:api_publish", "apim:api_manage", "apim:api_import_export"}
	scLCState      = []string{"apim:api_view", "apim:api_publish", "apim:api_create", "apim:api_manage"}
	scLCHistory    = []string{"apim:api_view", "apim:api_publish", "apim:api_manage"}
	scRevList      = []string{"apim:api_view", "apim:api_create", "apim:api_manage", "apim:api_publish", "apim:api_import_export"}
	scRevCreate    = []string{"apim:api_create", "apim:api_manage", "apim:api_publish", "apim:api_import_export"}
	scRevGet       = []string{"apim:api_view", "apim:api_create", "apim:api_manage", "apim:api_publish"}
	scDeploy       = []string{"apim:api_create", "apim:api_manage", "apim:api_publish"}
	scExport       = []string{"apim:api_view", "apim:api_publish", "apim:api_create", "apim:api_import_export", "apim:api_manage"}
	scImport       = []string{"apim:api_import_export", "apim:admin"}
	scSubPolicies  = []string{"apim:api_view", "apim:api_manage"}
	scTiers        = []string{"apim:api_view", "apim:tier_view", "apim:tier_manage"}
	scScopeView    = []string{"apim:api_view", "apim:shared_scope_manage"}
	scScopeManage  = []string{"apim:shared_scope_manage"}
	scScopeHead    = []string{"apim:api_create", "apim:api_publish", "apim:api_manage", "apim:shared_scope_manage"}
	scSettings     = []string{"apim:api_view", "apim:publisher_settings"}
	scBlock        = []string{"apim:subscription_block", "apim:subscription_manage"}
	scEnvironments = []string{"apim:api_view", "apim:api_create", "apim:api_manage", "apim:api_publish", "apim:api_import_export"}
)

// Mount registers every operation on mux under BasePath.
func (h *Handler) Mount(mux *http.ServeMux) {
	route := func(pattern string, fn http.HandlerFunc, scopes []string) {
		method, path, _ := cut(pattern)
		mux.Handle(method+" "+BasePath+path, h.auth.Require(scopes...)(fn))
	}
	route("GET /apis", h.listAPIs, scView)
	route("POST /apis", h.createAPI, scCreate)
	route("GET /apis/{apiId}", h.getAPI, scGet)
	route("PUT /apis/{apiId}", h.updateAPI, scUpdate)
	route("DELETE /apis/{apiId}", h.deleteAPI, scDelete)
	route("POST /apis/import-openapi", h.importOpenAPI, scCreate)
	route("POST /apis/validate-openapi", h.validateOpenAPI, scCreate)
	route("GET /apis/{apiId}/swagger", h.getSwagger, scDefView)
	route("PUT /apis/{apiId}/swagger", h.putSwagger, scCreate)
	route("GET /search", h.search, scGet)
	route("POST /apis/change-lifecycle", h.changeLifecycle, scLifecycle)
	route("GET /apis/{apiId}/lifecycle-state", h.lifecycleState, scLCState)
	route("GET /apis/{apiId}/lifecycle-history", h.lifecycleHistory, scLCHistory)
	route("POST /apis/copy-api", h.copyAPI, scCreate)
	route("GET /apis/{apiId}/revisions", h.listRevisions, scRevList)
	route("POST /apis/{apiId}/revisions", h.createRevision, scRevCreate)
	route("GET /apis/{apiId}/revisions/{revisionId}", h.getRevision, scRevGet)
	route("DELETE /apis/{apiId}/revisions/{revisionId}", h.deleteRevision, scRevCreate)
	route("POST /apis/{apiId}/restore-revision", h.restoreRevision, scDeploy)
	route("POST /apis/{apiId}/deploy-revision", h.deployRevision, scDeploy)
	route("POST /apis/{apiId}/undeploy-revision", h.undeployRevision, scRevCreate)
	route("GET /apis/{apiId}/deployments", h.deployments, scRevGet)
	route("GET /environments", h.environments, scEnvironments)
	route("GET /apis/export", h.exportAPI, scExport)
	route("POST /apis/import", h.importAPI, scImport)
	route("GET /apis/{apiId}/subscription-policies", h.apiSubscriptionPolicies, scSubPolicies)
	route("GET /throttling-policies/{policyLevel}", h.throttlingPolicies, scTiers)
	route("GET /scopes", h.listScopes, scScopeView)
	route("POST /scopes", h.createScope, scScopeManage)
	route("GET /scopes/{scopeId}", h.getScope, scScopeView)
	route("PUT /scopes/{scopeId}", h.updateScope, scScopeManage)
	route("DELETE /scopes/{scopeId}", h.deleteScope, scScopeManage)
	route("HEAD /scopes/{scopeId}", h.headScope, scScopeHead)
	route("GET /settings", h.settings, scSettings)
	route("POST /subscriptions/block-subscription", h.blockSubscription, scBlock)
	route("POST /subscriptions/unblock-subscription", h.unblockSubscription, scBlock)
}

func cut(pattern string) (method, path string, ok bool) {
	for i := 0; i < len(pattern); i++ {
		if pattern[i] == ' ' {
			return pattern[:i], pattern[i+1:], true
		}
	}
	return "", pattern, false
}

// fail answers err in the APIM error shape.
func (h *Handler) fail(w http.ResponseWriter, err error) {
	var ce *catalog.Error
	if errors.As(err, &ce) {
		if ce.Status >= 500 {
			h.log.Error("publisher request failed", "err", err)
		}
		restapi.WriteError(w, ce.Status, restapi.Error{Code: ce.Code, Message: ce.Message, Description: ce.Description})
		return
	}
	var de *catalog.DefinitionError
	if errors.As(err, &de) {
		restapi.BadRequest(w, "Invalid OpenAPI definition", definitionItems(de)...)
		return
	}
	restapi.Respond(w, h.log, err)
}

func definitionItems(de *catalog.DefinitionError) []restapi.ErrorItem {
	items := make([]restapi.ErrorItem, 0, len(de.Problems))
	for _, p := range de.Problems {
		items = append(items, restapi.ErrorItem{Code: "900754", Message: "Invalid OpenAPI definition", Description: p})
	}
	return items
}

func caller(r *http.Request) string {
	if c, ok := restapi.CallerFrom(r.Context()); ok {
		return c.Username
	}
	return ""
}
