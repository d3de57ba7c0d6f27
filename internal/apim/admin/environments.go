package admin

import (
	"net/http"

	"github.com/keyway/keyway/internal/apim/catalog"
	"github.com/keyway/keyway/internal/apim/restapi"
)

type vhostDTO struct {
	Host        string `json:"host"`
	HTTPContext string `json:"httpContext"`
	HTTPPort    int    `json:"httpPort"`
	HTTPSPort   int    `json:"httpsPort"`
	WSPort      int    `json:"wsPort"`
	WSSPort     int    `json:"wssPort"`
}

type environmentDTO struct {
	ID                   string     `json:"id"`
	Name                 string     `json:"name"`
	DisplayName          string     `json:"displayName"`
	Provider             string     `json:"provider"`
	Type                 string     `json:"type"`
	GatewayType          string     `json:"gatewayType"`
	Description          string     `json:"description"`
	IsReadOnly           bool       `json:"isReadOnly"`
	VHosts               []vhostDTO `json:"vhosts"`
	EndpointURIs         []any      `json:"endpointURIs"`
	AdditionalProperties []any      `json:"additionalProperties"`
}

func toEnvironment(e catalog.Environment) environmentDTO {
	d := environmentDTO{ID: e.ID, Name: e.Name, DisplayName: e.DisplayName, Provider: e.Provider, Type: e.Type, GatewayType: e.GatewayType,
		Description: e.Description, IsReadOnly: true, VHosts: []vhostDTO{}, EndpointURIs: []any{}, AdditionalProperties: []any{}}
	for _, v := range e.VHosts {
		d.VHosts = append(d.VHosts, vhostDTO(v))
	}
	return d
}

func (h *Handler) listEnvironments(w http.ResponseWriter, _ *http.Request) {
	out := []environmentDTO{}
	for _, e := range h.Environments.Environments() {
		out = append(out, toEnvironment(e))
	}
	restapi.WriteJSON(w, http.StatusOK, map[string]any{"count": len(out), "list": out})
}

func (h *Handler) getEnvironment(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("environmentId")
	for _, e := range h.Environments.Environments() {
		if e.ID == id || e.Name == id {
			restapi.WriteJSON(w, http.StatusOK, toEnvironment(e))
			return
		}
	}
	restapi.NotFound(w, "Gateway environment '"+id+"' not found")
}

// readOnlyEnvironments answers changes: Keyway's environments come from
// deployment.toml ([[apim.gateway.environment]]), as read-only ones do in
// WSO2, and are changed there.
func (h *Handler) readOnlyEnvironments(w http.ResponseWriter, r *http.Request) {
	if id := r.PathValue("environmentId"); id != "" {
		found := false
		for _, e := range h.Environments.Environments() {
			found = found || e.ID == id || e.Name == id
		}
		if !found {
			restapi.NotFound(w, "Gateway environment '"+id+"' not found")
			return
		}
	}
	restapi.BadRequest(w, "gateway environments are configured in deployment.toml ([[apim.gateway.environment]]) and are read-only here")
}
