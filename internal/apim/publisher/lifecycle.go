package publisher

import (
	"net/http"
	"strings"

	"github.com/keyway/keyway/internal/apim/catalog"
	"github.com/keyway/keyway/internal/apim/restapi"
)

// searchResult is APISearchResult.
type searchResult struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	Type            string `json:"type"`
	TransportType   string `json:"transportType"`
	Description     string `json:"description,omitempty"`
	Context         string `json:"context"`
	ContextTemplate string `json:"contextTemplate"`
	Version         string `json:"version"`
	Provider        string `json:"provider"`
	Status          string `json:"status"`
	ThumbnailURI    string `json:"thumbnailUri,omitempty"`
	HasThumbnail    bool   `json:"hasThumbnail"`
	AdvertiseOnly   bool   `json:"advertiseOnly"`
	MonetizedInfo   bool   `json:"monetizedInfo"`
}

// search answers apictl's name lookup (query=name:"N" version:"V") and the
// publisher's unified search; only APIs are indexed, so type:"APIProduct"
// finds nothing.
func (h *Handler) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page, err := restapi.ParsePage(q, 0)
	if err != nil {
		restapi.Respond(w, h.log, err)
		return
	}
	apis, total, err := h.svc.ListAPIs(r.Context(), catalog.Query{Text: q.Get("query"), Offset: page.Offset, Limit: page.Limit, SortBy: "name"})
	if err != nil {
		h.fail(w, err)
		return
	}
	items := make([]searchResult, 0, len(apis))
	for _, a := range apis {
		tmpl := a.Context
		if !strings.Contains(tmpl, "{version}") {
			tmpl += "/{version}"
		}
		items = append(items, searchResult{ID: a.ID, Name: a.Name, Type: "API", TransportType: a.Type, Description: a.Description,
			Context: a.Context, ContextTemplate: tmpl, Version: a.Version, Provider: a.Provider, Status: a.LifeCycleStatus, HasThumbnail: a.HasThumbnail})
	}
	restapi.WriteList(w, restapi.NewList(items, "/search", q, page, total))
}

// workflowResponse is WorkflowResponse.
type workflowResponse struct {
	WorkflowStatus string                  `json:"workflowStatus"`
	JSONPayload    string                  `json:"jsonPayload"`
	LifecycleState *catalog.LifecycleState `json:"lifecycleState"`
}

// parseChecklist reads lifecycleChecklist=Name:true,Name2:false.
func parseChecklist(s string) map[string]bool {
	out := map[string]bool{}
	for _, item := range strings.Split(s, ",") {
		name, val, ok := strings.Cut(item, ":")
		if ok && strings.TrimSpace(name) != "" {
			out[strings.TrimSpace(name)] = strings.EqualFold(strings.TrimSpace(val), "true")
		}
	}
	return out
}

func (h *Handler) changeLifecycle(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	action, apiID := q.Get("action"), q.Get("apiId")
	if action == "" || apiID == "" {
		restapi.BadRequest(w, "action and apiId are required")
		return
	}
	st, err := h.svc.ChangeLifecycle(r.Context(), caller(r), apiID, action, parseChecklist(q.Get("lifecycleChecklist")))
	if err != nil {
		h.fail(w, err)
		return
	}
	restapi.WriteJSON(w, http.StatusOK, workflowResponse{WorkflowStatus: "APPROVED", LifecycleState: st})
}

func (h *Handler) lifecycleState(w http.ResponseWriter, r *http.Request) {
	st, err := h.svc.LifecycleState(r.Context(), r.PathValue("apiId"))
	if err != nil {
		h.fail(w, err)
		return
	}
	restapi.WriteJSON(w, http.StatusOK, st)
}

func (h *Handler) lifecycleHistory(w http.ResponseWriter, r *http.Request) {
	hist, err := h.svc.LifecycleHistory(r.Context(), r.PathValue("apiId"))
	if err != nil {
		h.fail(w, err)
		return
	}
	restapi.WriteJSON(w, http.StatusOK, struct {
		Count int                            `json:"count"`
		List  []catalog.LifecycleHistoryItem `json:"list"`
	}{len(hist), hist})
}

func (h *Handler) copyAPI(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("apiId") == "" || q.Get("newVersion") == "" {
		restapi.BadRequest(w, "apiId and newVersion are required")
		return
	}
	def, err := restapi.ParseBool(q, "defaultVersion", false)
	if err != nil {
		restapi.Respond(w, h.log, err)
		return
	}
	a, err := h.svc.CopyAPI(r.Context(), q.Get("apiId"), q.Get("newVersion"), def)
	if err != nil {
		h.fail(w, err)
		return
	}
	w.Header().Set("Location", BasePath+"/apis/"+a.ID)
	restapi.WriteJSON(w, http.StatusCreated, a)
}
