package admin

import (
	"net/http"

	"github.com/keyway/keyway/internal/apim/keymanager"
	"github.com/keyway/keyway/internal/apim/restapi"
)

type keyManagerInfo struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
	Enabled     bool   `json:"enabled"`
	IsGlobal    bool   `json:"isGlobal"`
	IsUsed      bool   `json:"isUsed"`
	TokenType   string `json:"tokenType"`
}

func (h *Handler) listKeyManagers(w http.ResponseWriter, r *http.Request) {
	all, err := h.KeyManagers.List(r.Context())
	if err != nil {
		h.respond(w, err)
		return
	}
	out := make([]keyManagerInfo, 0, len(all))
	for _, c := range all {
		used, err := h.KeyManagers.InUse(r.Context(), c.Name)
		if err != nil {
			h.respond(w, err)
			return
		}
		out = append(out, keyManagerInfo{ID: c.ID, Name: c.Name, Type: c.Type, Description: c.Description, Enabled: c.Enabled,
			IsGlobal: c.Global, IsUsed: used, TokenType: c.TokenType})
	}
	restapi.WriteJSON(w, http.StatusOK, map[string]any{"count": len(out), "list": out})
}

// decodeKeyManager reads a KeyManager DTO with WSO2's defaults for the
// booleans the contract defaults (enableSelfValidationJWT true).
func decodeKeyManager(w http.ResponseWriter, r *http.Request) (*keymanager.Config, bool) {
	c := &keymanager.Config{EnableSelfValidationJWT: true, Enabled: true}
	if !restapi.DecodeJSON(w, r, c, 1<<20) {
		return nil, false
	}
	return c, true
}

func (h *Handler) createKeyManager(w http.ResponseWriter, r *http.Request) {
	c, ok := decodeKeyManager(w, r)
	if !ok {
		return
	}
	if err := h.KeyManagers.Create(r.Context(), c); err != nil {
		h.respond(w, err)
		return
	}
	w.Header().Set("Location", BasePath+"/key-managers/"+c.ID)
	restapi.WriteJSON(w, http.StatusCreated, c)
}

func (h *Handler) getKeyManager(w http.ResponseWriter, r *http.Request) {
	c, err := h.KeyManagers.Get(r.Context(), r.PathValue("keyManagerId"))
	if err != nil {
		h.respond(w, err)
		return
	}
	restapi.WriteJSON(w, http.StatusOK, c)
}

func (h *Handler) updateKeyManager(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("keyManagerId")
	if _, err := h.KeyManagers.Get(r.Context(), id); err != nil {
		h.respond(w, err)
		return
	}
	c, ok := decodeKeyManager(w, r)
	if !ok {
		return
	}
	c.ID = id
	if err := h.KeyManagers.Update(r.Context(), c); err != nil {
		h.respond(w, err)
		return
	}
	restapi.WriteJSON(w, http.StatusOK, c)
}

func (h *Handler) deleteKeyManager(w http.ResponseWriter, r *http.Request) {
	if err := h.KeyManagers.Delete(r.Context(), r.PathValue("keyManagerId")); err != nil {
		h.respond(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// discover reads the multipart fields url and type (PATTERN6-WIRE §3.7);
// a document that cannot be read answers 200 {}.
func (h *Handler) discover(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		if err := r.ParseForm(); err != nil {
			restapi.BadRequest(w, "expected multipart/form-data with url and type")
			return
		}
	}
	u := r.FormValue("url")
	if u == "" {
		restapi.BadRequest(w, "url is required")
		return
	}
	cfg, ok := h.KeyManagers.Discover(r.Context(), u, r.FormValue("type"))
	if !ok {
		restapi.WriteJSON(w, http.StatusOK, map[string]any{})
		return
	}
	restapi.WriteJSON(w, http.StatusOK, map[string]any{"valid": true, "value": cfg})
}
