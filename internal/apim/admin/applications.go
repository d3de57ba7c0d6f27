package admin

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/keyway/keyway/internal/apim/restapi"
	"github.com/keyway/keyway/internal/apim/subscription"
	"github.com/keyway/keyway/internal/user"
)

type applicationInfo struct {
	ApplicationID string `json:"applicationId"`
	Name          string `json:"name"`
	Owner         string `json:"owner"`
	Status        string `json:"status"`
	GroupID       string `json:"groupId"`
}

type scopeInfo struct {
	Key         string   `json:"key"`
	Name        string   `json:"name"`
	Roles       []string `json:"roles"`
	Description string   `json:"description"`
}

type applicationDTO struct {
	ApplicationID      string            `json:"applicationId"`
	Name               string            `json:"name"`
	ThrottlingPolicy   string            `json:"throttlingPolicy"`
	Description        string            `json:"description"`
	TokenType          string            `json:"tokenType"`
	Status             string            `json:"status"`
	Groups             []string          `json:"groups"`
	SubscriptionCount  int               `json:"subscriptionCount"`
	Attributes         map[string]string `json:"attributes"`
	SubscriptionScopes []scopeInfo       `json:"subscriptionScopes"`
	Owner              string            `json:"owner"`
}

func (h *Handler) listApplications(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page, err := restapi.ParsePage(q, 0)
	if err != nil {
		h.respond(w, err)
		return
	}
	apps, total, err := h.Store.ListApplications(r.Context(), subscription.ApplicationQuery{Owner: q.Get("user"), Name: q.Get("name"),
		Offset: page.Offset, Limit: page.Limit})
	if err != nil {
		h.respond(w, err)
		return
	}
	if strings.EqualFold(q.Get("sortOrder"), "desc") {
		slices.Reverse(apps)
	}
	out := make([]applicationInfo, 0, len(apps))
	for _, a := range apps {
		out = append(out, applicationInfo{ApplicationID: a.UUID, Name: a.Name, Owner: a.Owner, Status: a.Status,
			GroupID: strings.Join(a.Groups, ",")})
	}
	restapi.WriteList(w, restapi.NewList(out, "/applications", q, page, total))
}

func (h *Handler) application(r *http.Request) (*subscription.Application, error) {
	id := r.PathValue("applicationId")
	a, err := h.Store.GetApplication(r.Context(), id)
	if errors.Is(err, subscription.ErrNotFound) {
		return nil, restapi.ErrNotFound("Application with id '" + id + "' not found")
	}
	return a, err
}

func (h *Handler) getApplication(w http.ResponseWriter, r *http.Request) {
	a, err := h.application(r)
	if err != nil {
		h.respond(w, err)
		return
	}
	subs, _, err := h.Store.ListSubscriptions(r.Context(), subscription.SubscriptionQuery{ApplicationUUID: a.UUID})
	if err != nil {
		h.respond(w, err)
		return
	}
	d := applicationDTO{ApplicationID: a.UUID, Name: a.Name, ThrottlingPolicy: a.ThrottlingPolicy, Description: a.Description,
		TokenType: a.TokenType, Status: a.Status, Groups: a.Groups, SubscriptionCount: len(subs), Attributes: a.Attributes,
		SubscriptionScopes: []scopeInfo{}, Owner: a.Owner}
	for _, s := range subs {
		api, err := h.Catalog.GetAPI(r.Context(), s.APIUUID)
		if err != nil {
			continue
		}
		for _, sc := range api.Scopes {
			if slices.ContainsFunc(d.SubscriptionScopes, func(x scopeInfo) bool { return x.Key == sc.Scope.Name }) {
				continue
			}
			roles := sc.Scope.Bindings
			if roles == nil {
				roles = []string{}
			}
			d.SubscriptionScopes = append(d.SubscriptionScopes, scopeInfo{Key: sc.Scope.Name, Name: sc.Scope.DisplayName, Roles: roles,
				Description: sc.Scope.Description})
		}
	}
	restapi.WriteJSON(w, http.StatusOK, d)
}

func (h *Handler) deleteApplication(w http.ResponseWriter, r *http.Request) {
	a, err := h.application(r)
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

func (h *Handler) changeOwner(w http.ResponseWriter, r *http.Request) {
	a, err := h.application(r)
	if err != nil {
		h.respond(w, err)
		return
	}
	owner := strings.TrimSpace(r.URL.Query().Get("owner"))
	if owner == "" {
		restapi.BadRequest(w, "owner is required")
		return
	}
	if _, err := h.Users.GetUserByName(r.Context(), owner); err != nil {
		if errors.Is(err, user.ErrNotFound) {
			restapi.BadRequest(w, "user "+owner+" does not exist")
			return
		}
		h.respond(w, err)
		return
	}
	if err := h.Store.ChangeOwner(r.Context(), a.UUID, owner); err != nil {
		h.respond(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}
