package admin

import (
	"errors"
	"net/http"

	"github.com/keyway/keyway/internal/apim/catalog"
	"github.com/keyway/keyway/internal/apim/restapi"
)

// vhostDTO is the admin VHost; WebSub ports are WSO2 4.5's extra fields.
type vhostDTO struct {
	Host            string `json:"host"`
	HTTPContext     string `json:"httpContext"`
	HTTPPort        int    `json:"httpPort"`
	HTTPSPort       int    `json:"httpsPort"`
	WSPort          int    `json:"wsPort"`
	WSSPort         int    `json:"wssPort"`
	WebsubHTTPPort  int    `json:"websubHttpPort,omitempty"`
	WebsubHTTPSPort int    `json:"websubHttpsPort,omitempty"`
}

type permissionsDTO struct {
	PermissionType string   `json:"permissionType"`
	Roles          []string `json:"roles"`
}

// environmentDTO is the admin Environment, in and out; id and isReadOnly
// are ignored on input.
type environmentDTO struct {
	ID                   string                `json:"id"`
	Name                 string                `json:"name"`
	DisplayName          string                `json:"displayName"`
	Provider             string                `json:"provider"`
	Type                 string                `json:"type"`
	GatewayType          string                `json:"gatewayType"`
	Description          string                `json:"description"`
	IsReadOnly           bool                  `json:"isReadOnly"`
	VHosts               []vhostDTO            `json:"vhosts"`
	EndpointURIs         []catalog.EndpointURI `json:"endpointURIs"`
	AdditionalProperties []catalog.Property    `json:"additionalProperties"`
	Permissions          *permissionsDTO       `json:"permissions,omitempty"`
}

func toEnvironment(e catalog.Environment) environmentDTO {
	d := environmentDTO{ID: e.ID, Name: e.Name, DisplayName: e.DisplayName, Provider: e.Provider, Type: e.Type, GatewayType: e.GatewayType,
		Description: e.Description, IsReadOnly: e.IsReadOnly, VHosts: []vhostDTO{},
		EndpointURIs: append([]catalog.EndpointURI{}, e.EndpointURIs...), AdditionalProperties: append([]catalog.Property{}, e.AdditionalProperties...)}
	for _, v := range e.VHosts {
		d.VHosts = append(d.VHosts, vhostDTO(v))
	}
	if p := e.Permissions; p != nil {
		d.Permissions = &permissionsDTO{PermissionType: p.PermissionType, Roles: append([]string{}, p.Roles...)}
	}
	return d
}

func fromEnvironment(d environmentDTO) catalog.Environment {
	e := catalog.Environment{Name: d.Name, DisplayName: d.DisplayName, Provider: d.Provider, Type: d.Type, GatewayType: d.GatewayType,
		Description: d.Description, EndpointURIs: d.EndpointURIs, AdditionalProperties: d.AdditionalProperties}
	for _, v := range d.VHosts {
		e.VHosts = append(e.VHosts, catalog.VHost(v))
	}
	if p := d.Permissions; p != nil {
		e.Permissions = &catalog.Permissions{PermissionType: p.PermissionType, Roles: p.Roles}
	}
	return e
}

func (h *Handler) listEnvironments(w http.ResponseWriter, r *http.Request) {
	envs, err := h.Environments.ListEnvironments(r.Context())
	if err != nil {
		h.environmentError(w, err)
		return
	}
	out := []environmentDTO{}
	for _, e := range envs {
		out = append(out, toEnvironment(e))
	}
	restapi.WriteJSON(w, http.StatusOK, map[string]any{"count": len(out), "list": out})
}

func (h *Handler) getEnvironment(w http.ResponseWriter, r *http.Request) {
	e, err := h.Environments.GetEnvironment(r.Context(), r.PathValue("environmentId"))
	if err != nil {
		h.environmentError(w, err)
		return
	}
	restapi.WriteJSON(w, http.StatusOK, toEnvironment(*e))
}

func (h *Handler) createEnvironment(w http.ResponseWriter, r *http.Request) {
	var in environmentDTO
	if !restapi.DecodeJSON(w, r, &in, 1<<20) {
		return
	}
	e, err := h.Environments.CreateEnvironment(r.Context(), fromEnvironment(in))
	if err != nil {
		h.environmentError(w, err)
		return
	}
	h.Logger.Info("gateway environment created", "environment", e.Name, "id", e.ID)
	w.Header().Set("Location", BasePath+"/environments/"+e.ID)
	restapi.WriteJSON(w, http.StatusCreated, toEnvironment(*e))
}

func (h *Handler) updateEnvironment(w http.ResponseWriter, r *http.Request) {
	var in environmentDTO
	if !restapi.DecodeJSON(w, r, &in, 1<<20) {
		return
	}
	e, err := h.Environments.UpdateEnvironment(r.Context(), r.PathValue("environmentId"), fromEnvironment(in))
	if err != nil {
		h.environmentError(w, err)
		return
	}
	h.Logger.Info("gateway environment updated", "environment", e.Name, "id", e.ID)
	restapi.WriteJSON(w, http.StatusOK, toEnvironment(*e))
}

func (h *Handler) deleteEnvironment(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("environmentId")
	if err := h.Environments.DeleteEnvironment(r.Context(), id); err != nil {
		h.environmentError(w, err)
		return
	}
	h.Logger.Info("gateway environment deleted", "environment", id)
	w.WriteHeader(http.StatusOK)
}

// environmentError answers the catalog's errors with their status and code.
func (h *Handler) environmentError(w http.ResponseWriter, err error) {
	var ce *catalog.Error
	if errors.As(err, &ce) && ce.Status < 500 {
		restapi.WriteError(w, ce.Status, restapi.Error{Code: ce.Code, Message: ce.Message, Description: ce.Description})
		return
	}
	restapi.Internal(w, h.Logger, err)
}
