package devportal

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/keyway/keyway/internal/apim/policy"
	"github.com/keyway/keyway/internal/apim/restapi"
	"github.com/keyway/keyway/internal/apim/subscription"
)

type applicationDTO struct {
	ApplicationID      string            `json:"applicationId"`
	Name               string            `json:"name"`
	ThrottlingPolicy   string            `json:"throttlingPolicy"`
	Description        string            `json:"description"`
	TokenType          string            `json:"tokenType"`
	Status             string            `json:"status"`
	Groups             []string          `json:"groups"`
	SubscriptionCount  int               `json:"subscriptionCount"`
	Keys               []applicationKey  `json:"keys"`
	Attributes         map[string]string `json:"attributes"`
	SubscriptionScopes []scopeInfo       `json:"subscriptionScopes"`
	Owner              string            `json:"owner"`
	HashEnabled        bool              `json:"hashEnabled"`
	CreatedTime        string            `json:"createdTime"`
	UpdatedTime        string            `json:"updatedTime"`
	Visibility         string            `json:"visibility,omitempty"`
}

type applicationInfo struct {
	ApplicationID     string            `json:"applicationId"`
	Name              string            `json:"name"`
	ThrottlingPolicy  string            `json:"throttlingPolicy"`
	Description       string            `json:"description"`
	Status            string            `json:"status"`
	Groups            []string          `json:"groups"`
	SubscriptionCount int               `json:"subscriptionCount"`
	Attributes        map[string]string `json:"attributes"`
	Owner             string            `json:"owner"`
	TokenType         string            `json:"tokenType"`
	CreatedTime       string            `json:"createdTime"`
	UpdatedTime       string            `json:"updatedTime"`
}

// applicationRequest is the Application DTO as clients send it.
type applicationRequest struct {
	Name             string            `json:"name"`
	ThrottlingPolicy string            `json:"throttlingPolicy"`
	Description      string            `json:"description"`
	TokenType        string            `json:"tokenType"`
	Groups           []string          `json:"groups"`
	Attributes       map[string]string `json:"attributes"`
}

func millis(t interface{ UnixMilli() int64 }) string { return strconv.FormatInt(t.UnixMilli(), 10) }

func (h *Handler) toInfo(r *http.Request, a *subscription.Application) applicationInfo {
	n, _ := h.Store.CountSubscriptions(r.Context(), a.UUID)
	return applicationInfo{ApplicationID: a.UUID, Name: a.Name, ThrottlingPolicy: a.ThrottlingPolicy, Description: a.Description,
		Status: a.Status, Groups: a.Groups, SubscriptionCount: n, Attributes: a.Attributes, Owner: a.Owner, TokenType: a.TokenType,
		CreatedTime: millis(a.Created), UpdatedTime: millis(a.Updated)}
}

func (h *Handler) toApplication(r *http.Request, a *subscription.Application) (applicationDTO, error) {
	ctx := r.Context()
	subs, _, err := h.Store.ListSubscriptions(ctx, subscription.SubscriptionQuery{ApplicationUUID: a.UUID})
	if err != nil {
		return applicationDTO{}, err
	}
	d := applicationDTO{ApplicationID: a.UUID, Name: a.Name, ThrottlingPolicy: a.ThrottlingPolicy, Description: a.Description,
		TokenType: a.TokenType, Status: a.Status, Groups: a.Groups, SubscriptionCount: len(subs), Attributes: a.Attributes,
		Owner: a.Owner, CreatedTime: millis(a.Created), UpdatedTime: millis(a.Updated), Keys: []applicationKey{},
		SubscriptionScopes: []scopeInfo{}, Visibility: "PRIVATE"}
	// The scopes of every subscribed API: apictl's get keys asks for them.
	for _, s := range subs {
		api, err := h.Catalog.GetAPI(ctx, s.APIUUID)
		if err != nil {
			continue
		}
		for _, sc := range api.Scopes {
			if !slices.ContainsFunc(d.SubscriptionScopes, func(x scopeInfo) bool { return x.Key == sc.Scope.Name }) {
				d.SubscriptionScopes = append(d.SubscriptionScopes, toScopeInfo(sc.Scope))
			}
		}
	}
	keys, err := h.Store.KeyMappingsOf(ctx, a.UUID)
	if err != nil {
		return applicationDTO{}, err
	}
	for _, k := range keys {
		d.Keys = append(d.Keys, h.keyDTO(r, k, nil, nil))
	}
	return d, nil
}

// ownApplication loads an application of the caller; another user's
// application is reported as missing, as WSO2 does.
func (h *Handler) ownApplication(r *http.Request) (*subscription.Application, error) {
	id := r.PathValue("applicationId")
	a, err := h.Store.GetApplication(r.Context(), id)
	if err != nil {
		if errors.Is(err, subscription.ErrNotFound) {
			return nil, restapi.ErrNotFound("Application with id '" + id + "' not found")
		}
		return nil, err
	}
	if !strings.EqualFold(a.Owner, caller(r)) {
		return nil, restapi.ErrNotFound("Application with id '" + id + "' not found")
	}
	return a, nil
}

func (h *Handler) listApplications(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page, err := restapi.ParsePage(q, 0)
	if err != nil {
		h.respond(w, err)
		return
	}
	// The whole match set is read so that an exact name match comes first
	// (apictl takes list[0] for ?query=<name>); users have few applications.
	apps, _, err := h.Store.ListApplications(r.Context(), subscription.ApplicationQuery{Owner: caller(r), Name: q.Get("query")})
	if err != nil {
		h.respond(w, err)
		return
	}
	if name := q.Get("query"); name != "" {
		slices.SortStableFunc(apps, func(a, b *subscription.Application) int {
			ea, eb := a.Name == name, b.Name == name
			switch {
			case ea && !eb:
				return -1
			case eb && !ea:
				return 1
			}
			return 0
		})
	}
	if strings.EqualFold(q.Get("sortOrder"), "desc") {
		slices.Reverse(apps)
	}
	out := []applicationInfo{}
	for _, a := range restapi.Slice(apps, page) {
		out = append(out, h.toInfo(r, a))
	}
	restapi.WriteList(w, restapi.NewList(out, "/applications", q, page, len(apps)))
}

func (h *Handler) checkAppPolicy(r *http.Request, name string) error {
	if strings.TrimSpace(name) == "" {
		return restapi.ErrBadRequest("throttlingPolicy is required")
	}
	ok, err := h.Policies.Exists(r.Context(), policy.Application, name)
	if err != nil {
		return err
	}
	if !ok {
		return restapi.ErrBadRequest("Specified application throttling policy " + name + " is invalid")
	}
	return nil
}

func (h *Handler) createApplication(w http.ResponseWriter, r *http.Request) {
	var req applicationRequest
	if !restapi.DecodeJSON(w, r, &req, 1<<20) {
		return
	}
	if err := h.checkAppPolicy(r, req.ThrottlingPolicy); err != nil {
		h.respond(w, err)
		return
	}
	a := &subscription.Application{Name: req.Name, Owner: caller(r), ThrottlingPolicy: req.ThrottlingPolicy, Description: req.Description,
		TokenType: req.TokenType, Attributes: req.Attributes, Groups: req.Groups}
	if err := h.Store.CreateApplication(r.Context(), a); err != nil {
		h.respond(w, err)
		return
	}
	h.writeApplication(w, r, http.StatusCreated, a)
}

// writeApplication answers with the application as the Devportal shows it;
// a created one also gets its Location.
func (h *Handler) writeApplication(w http.ResponseWriter, r *http.Request, status int, a *subscription.Application) {
	d, err := h.toApplication(r, a)
	if err != nil {
		h.respond(w, err)
		return
	}
	if status == http.StatusCreated {
		w.Header().Set("Location", BasePath+"/applications/"+a.UUID)
	}
	restapi.WriteJSON(w, status, d)
}

func (h *Handler) getApplication(w http.ResponseWriter, r *http.Request) {
	a, err := h.ownApplication(r)
	if err != nil {
		h.respond(w, err)
		return
	}
	h.writeApplication(w, r, http.StatusOK, a)
}

func (h *Handler) updateApplication(w http.ResponseWriter, r *http.Request) {
	a, err := h.ownApplication(r)
	if err != nil {
		h.respond(w, err)
		return
	}
	var req applicationRequest
	if !restapi.DecodeJSON(w, r, &req, 1<<20) {
		return
	}
	if err := h.checkAppPolicy(r, req.ThrottlingPolicy); err != nil {
		h.respond(w, err)
		return
	}
	a.Name, a.ThrottlingPolicy, a.Description, a.TokenType = req.Name, req.ThrottlingPolicy, req.Description, req.TokenType
	a.Attributes, a.Groups = req.Attributes, req.Groups
	if err := h.Store.UpdateApplication(r.Context(), a); err != nil {
		h.respond(w, err)
		return
	}
	h.writeApplication(w, r, http.StatusOK, a)
}

func (h *Handler) deleteApplication(w http.ResponseWriter, r *http.Request) {
	a, err := h.ownApplication(r)
	if err != nil {
		h.respond(w, err)
		return
	}
	if err := h.Keys.DeleteApplication(r.Context(), a); err != nil {
		h.respond(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}
