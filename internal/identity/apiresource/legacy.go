package apiresource

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/keyway/keyway/internal/httpx"
)

// legacyScopeJSON is the scope of /api/identity/oauth2/v1.0/scopes
// (is-oauth2-scopes.yaml).
type legacyScopeJSON struct {
	Name        string   `json:"name"`
	DisplayName string   `json:"displayName"`
	Description string   `json:"description"`
	Bindings    []string `json:"bindings"`
}

func toLegacy(s Scope) legacyScopeJSON {
	b := s.Bindings
	if b == nil {
		b = []string{}
	}
	return legacyScopeJSON{Name: s.Name, DisplayName: s.DisplayName, Description: s.Description, Bindings: b}
}

func (h *Handler) legacyList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	start, count := 0, -1
	for _, p := range []struct {
		name string
		dst  *int
	}{{"startIndex", &start}, {"count", &count}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				h.badRequest(w, r, p.name+" must be a non-negative integer")
				return
			}
			*p.dst = n
		}
	}
	scopes, err := h.store.AllScopes(r.Context(), "", "")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if want := q.Get("requestedScopes"); want != "" {
		set := map[string]bool{}
		for _, s := range strings.FieldsFunc(want, func(r rune) bool { return r == ' ' || r == ',' }) {
			set[s] = true
		}
		kept := scopes[:0]
		for _, s := range scopes {
			if set[s.Name] {
				kept = append(kept, s)
			}
		}
		scopes = kept
	}
	if start > len(scopes) {
		start = len(scopes)
	}
	scopes = scopes[start:]
	if count >= 0 && count < len(scopes) {
		scopes = scopes[:count]
	}
	out := make([]legacyScopeJSON, 0, len(scopes))
	for _, s := range scopes {
		out = append(out, toLegacy(s))
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (h *Handler) legacyCreate(w http.ResponseWriter, r *http.Request) {
	var in legacyScopeJSON
	if err := decode(r, &in); err != nil {
		h.badRequest(w, r, err.Error())
		return
	}
	if strings.TrimSpace(in.DisplayName) == "" {
		h.badRequest(w, r, "displayName is required")
		return
	}
	sc := &Scope{Name: in.Name, DisplayName: in.DisplayName, Description: in.Description, Bindings: in.Bindings}
	if err := h.store.CreateScope(r.Context(), sc); err != nil {
		h.fail(w, r, err)
		return
	}
	got, err := h.store.GetScope(r.Context(), sc.Name)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Location", LegacyScopePath+"/name/"+sc.Name)
	httpx.WriteJSON(w, http.StatusCreated, toLegacy(*got))
}

func (h *Handler) legacyGet(w http.ResponseWriter, r *http.Request) {
	sc, err := h.store.GetScope(r.Context(), r.PathValue("name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, toLegacy(*sc))
}

func (h *Handler) legacyHead(w http.ResponseWriter, r *http.Request) {
	if _, err := h.store.GetScope(r.Context(), r.PathValue("name")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (h *Handler) legacyUpdate(w http.ResponseWriter, r *http.Request) {
	var in legacyScopeJSON
	if err := decode(r, &in); err != nil {
		h.badRequest(w, r, err.Error())
		return
	}
	sc := &Scope{Name: r.PathValue("name"), DisplayName: in.DisplayName, Description: in.Description, Bindings: in.Bindings}
	if err := h.store.UpdateScope(r.Context(), sc); err != nil {
		h.fail(w, r, err)
		return
	}
	got, err := h.store.GetScope(r.Context(), sc.Name)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, toLegacy(*got))
}

func (h *Handler) legacyDelete(w http.ResponseWriter, r *http.Request) {
	if err := h.store.DeleteScope(r.Context(), r.PathValue("name")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
