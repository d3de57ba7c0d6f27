package devportal

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/keyway/keyway/internal/apim/catalog"
	"github.com/keyway/keyway/internal/apim/policy"
	"github.com/keyway/keyway/internal/apim/restapi"
	"github.com/keyway/keyway/internal/apim/subscription"
)

type subscriptionDTO struct {
	SubscriptionID            string           `json:"subscriptionId"`
	ApplicationID             string           `json:"applicationId"`
	APIID                     string           `json:"apiId"`
	APIInfo                   *apiInfoDTO      `json:"apiInfo,omitempty"`
	ApplicationInfo           *applicationInfo `json:"applicationInfo,omitempty"`
	ThrottlingPolicy          string           `json:"throttlingPolicy"`
	RequestedThrottlingPolicy string           `json:"requestedThrottlingPolicy"`
	Status                    string           `json:"status"`
}

type subscriptionRequest struct {
	ApplicationID    string `json:"applicationId"`
	APIID            string `json:"apiId"`
	ThrottlingPolicy string `json:"throttlingPolicy"`
}

func (h *Handler) toSubscription(r *http.Request, s *subscription.Subscription) subscriptionDTO {
	d := subscriptionDTO{SubscriptionID: s.UUID, ApplicationID: s.ApplicationUUID, APIID: s.APIUUID, ThrottlingPolicy: s.Policy,
		RequestedThrottlingPolicy: s.RequestedPolicy, Status: s.Status}
	if a, err := h.Catalog.GetAPI(r.Context(), s.APIUUID); err == nil {
		info := toAPIInfo(a)
		d.APIInfo = &info
	}
	if app, err := h.Store.GetApplication(r.Context(), s.ApplicationUUID); err == nil {
		info := h.toInfo(r, app)
		d.ApplicationInfo = &info
	}
	return d
}

func (h *Handler) listSubscriptions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page, err := restapi.ParsePage(q, 0)
	if err != nil {
		h.respond(w, err)
		return
	}
	subs, total, err := h.Store.ListSubscriptions(r.Context(), subscription.SubscriptionQuery{ApplicationUUID: q.Get("applicationId"),
		APIUUID: q.Get("apiId"), Owner: caller(r), Offset: page.Offset, Limit: page.Limit})
	if err != nil {
		h.respond(w, err)
		return
	}
	out := make([]subscriptionDTO, 0, len(subs))
	for _, s := range subs {
		out = append(out, h.toSubscription(r, s))
	}
	restapi.WriteList(w, restapi.NewList(out, "/subscriptions", q, page, total))
}

// subscribe checks a request and creates the subscription.
func (h *Handler) subscribe(r *http.Request, req subscriptionRequest) (*subscription.Subscription, error) {
	if req.ApplicationID == "" || req.APIID == "" {
		return nil, restapi.ErrBadRequest("applicationId and apiId are required")
	}
	app, err := h.Store.GetApplication(r.Context(), req.ApplicationID)
	if err != nil || !strings.EqualFold(app.Owner, caller(r)) {
		return nil, restapi.ErrBadRequest("Application with id '" + req.ApplicationID + "' not found")
	}
	api, err := h.Catalog.GetAPI(r.Context(), req.APIID)
	if err != nil {
		if errors.Is(err, catalog.ErrNotFound) {
			return nil, restapi.ErrBadRequest("API with id '" + req.APIID + "' not found")
		}
		return nil, err
	}
	if api.IsRevision || api.LifeCycleStatus != "PUBLISHED" {
		return nil, restapi.ErrBadRequest("Subscriptions are allowed only for PUBLISHED APIs; " + api.Name + " is " + api.LifeCycleStatus)
	}
	if err := h.checkSubscriptionPolicy(r, api, req.ThrottlingPolicy); err != nil {
		return nil, err
	}
	s := &subscription.Subscription{ApplicationUUID: app.UUID, APIUUID: api.ID, Policy: req.ThrottlingPolicy}
	if err := h.Store.CreateSubscription(r.Context(), s); err != nil {
		return nil, err
	}
	return s, nil
}

func (h *Handler) checkSubscriptionPolicy(r *http.Request, api *catalog.API, tier string) error {
	if tier == "" {
		return restapi.ErrBadRequest("throttlingPolicy is required")
	}
	if !slices.Contains(api.Policies, tier) {
		return restapi.ErrBadRequest("Tier " + tier + " is not allowed for API " + api.Name + " (allowed: " + strings.Join(api.Policies, ", ") + ")")
	}
	ok, err := h.Policies.Exists(r.Context(), policy.Subscription, tier)
	if err != nil {
		return err
	}
	if !ok {
		return restapi.ErrBadRequest("Subscription throttling policy " + tier + " does not exist")
	}
	return nil
}

func (h *Handler) createSubscription(w http.ResponseWriter, r *http.Request) {
	var req subscriptionRequest
	if !restapi.DecodeJSON(w, r, &req, 1<<20) {
		return
	}
	s, err := h.subscribe(r, req)
	if err != nil {
		h.respond(w, err)
		return
	}
	w.Header().Set("Location", BasePath+"/subscriptions/"+s.UUID)
	restapi.WriteJSON(w, http.StatusCreated, h.toSubscription(r, s))
}

// createSubscriptions subscribes to several APIs. Requests are checked
// one by one; the first failure stops the batch and undoes what it made, so
// a bad entry changes nothing.
func (h *Handler) createSubscriptions(w http.ResponseWriter, r *http.Request) {
	var reqs []subscriptionRequest
	if !restapi.DecodeJSON(w, r, &reqs, 1<<20) {
		return
	}
	made := []*subscription.Subscription{}
	for _, req := range reqs {
		s, err := h.subscribe(r, req)
		if err != nil {
			for _, m := range made {
				_ = h.Store.DeleteSubscription(r.Context(), m.UUID)
			}
			h.respond(w, err)
			return
		}
		made = append(made, s)
	}
	out := make([]subscriptionDTO, 0, len(made))
	for _, s := range made {
		out = append(out, h.toSubscription(r, s))
	}
	restapi.WriteJSON(w, http.StatusOK, out)
}

// ownSubscription loads a subscription of one of the caller's applications.
func (h *Handler) ownSubscription(r *http.Request) (*subscription.Subscription, error) {
	id := r.PathValue("subscriptionId")
	s, err := h.Store.GetSubscription(r.Context(), id)
	if err == nil {
		var app *subscription.Application
		if app, err = h.Store.GetApplication(r.Context(), s.ApplicationUUID); err == nil && strings.EqualFold(app.Owner, caller(r)) {
			return s, nil
		}
	}
	if err != nil && !errors.Is(err, subscription.ErrNotFound) {
		return nil, err
	}
	return nil, restapi.ErrNotFound("Subscription with id '" + id + "' not found")
}

func (h *Handler) getSubscription(w http.ResponseWriter, r *http.Request) {
	s, err := h.ownSubscription(r)
	if err != nil {
		h.respond(w, err)
		return
	}
	restapi.WriteJSON(w, http.StatusOK, h.toSubscription(r, s))
}

func (h *Handler) updateSubscription(w http.ResponseWriter, r *http.Request) {
	s, err := h.ownSubscription(r)
	if err != nil {
		h.respond(w, err)
		return
	}
	var req subscriptionRequest
	if !restapi.DecodeJSON(w, r, &req, 1<<20) {
		return
	}
	if (req.APIID != "" && req.APIID != s.APIUUID) || (req.ApplicationID != "" && req.ApplicationID != s.ApplicationUUID) {
		restapi.BadRequest(w, "the API and application of a subscription cannot change")
		return
	}
	api, err := h.Catalog.GetAPI(r.Context(), s.APIUUID)
	if err != nil {
		h.respond(w, err)
		return
	}
	if err := h.checkSubscriptionPolicy(r, api, req.ThrottlingPolicy); err != nil {
		h.respond(w, err)
		return
	}
	// A subscription blocked by the publisher stays blocked.
	updated, err := h.Store.UpdateSubscription(r.Context(), s.UUID, req.ThrottlingPolicy, "")
	if err != nil {
		h.respond(w, err)
		return
	}
	restapi.WriteJSON(w, http.StatusOK, h.toSubscription(r, updated))
}

func (h *Handler) deleteSubscription(w http.ResponseWriter, r *http.Request) {
	s, err := h.ownSubscription(r)
	if err != nil {
		h.respond(w, err)
		return
	}
	if err := h.Store.DeleteSubscription(r.Context(), s.UUID); err != nil {
		h.respond(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}
