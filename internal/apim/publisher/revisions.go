package publisher

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/keyway/keyway/internal/apim/catalog"
	"github.com/keyway/keyway/internal/apim/restapi"
)

// revisionList is APIRevisionList: {count, list} without pagination.
type revisionList struct {
	Count int                `json:"count"`
	List  []catalog.Revision `json:"list"`
}

func (h *Handler) listRevisions(w http.ResponseWriter, r *http.Request) {
	deployedOnly := false
	if q := strings.TrimSpace(r.URL.Query().Get("query")); q != "" {
		k, v, _ := strings.Cut(q, ":")
		if !strings.EqualFold(k, "deployed") {
			restapi.BadRequest(w, "unsupported revision query "+q+" (use deployed:true or deployed:false)")
			return
		}
		deployedOnly = strings.EqualFold(v, "true")
	}
	revs, err := h.svc.Revisions(r.Context(), r.PathValue("apiId"), deployedOnly)
	if err != nil {
		h.fail(w, err)
		return
	}
	restapi.WriteJSON(w, http.StatusOK, revisionList{Count: len(revs), List: revs})
}

func (h *Handler) createRevision(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Description string `json:"description"`
	}
	if r.ContentLength != 0 && !restapi.DecodeJSON(w, r, &in, 0) {
		return
	}
	rev, err := h.svc.CreateRevision(r.Context(), r.PathValue("apiId"), in.Description)
	if err != nil {
		h.fail(w, err)
		return
	}
	restapi.WriteJSON(w, http.StatusCreated, rev)
}

func (h *Handler) getRevision(w http.ResponseWriter, r *http.Request) {
	rev, err := h.svc.Revision(r.Context(), r.PathValue("apiId"), r.PathValue("revisionId"))
	if err != nil {
		h.fail(w, err)
		return
	}
	restapi.WriteJSON(w, http.StatusOK, rev)
}

func (h *Handler) deleteRevision(w http.ResponseWriter, r *http.Request) {
	apiID := r.PathValue("apiId")
	if err := h.svc.DeleteRevision(r.Context(), apiID, r.PathValue("revisionId")); err != nil {
		h.fail(w, err)
		return
	}
	revs, err := h.svc.Revisions(r.Context(), apiID, false)
	if err != nil {
		h.fail(w, err)
		return
	}
	restapi.WriteJSON(w, http.StatusOK, revisionList{Count: len(revs), List: revs})
}

func (h *Handler) restoreRevision(w http.ResponseWriter, r *http.Request) {
	revID := r.URL.Query().Get("revisionId")
	if revID == "" {
		restapi.BadRequest(w, "revisionId is required")
		return
	}
	a, err := h.svc.RestoreRevision(r.Context(), r.PathValue("apiId"), revID)
	if err != nil {
		h.fail(w, err)
		return
	}
	restapi.WriteJSON(w, http.StatusCreated, a)
}

// deployRevision answers 201, as WSO2 does (its definition says 200).
func (h *Handler) deployRevision(w http.ResponseWriter, r *http.Request) {
	revID := r.URL.Query().Get("revisionId")
	if revID == "" {
		restapi.BadRequest(w, "revisionId is required")
		return
	}
	var reqs []catalog.DeploymentRequest
	if !restapi.DecodeJSON(w, r, &reqs, 0) {
		return
	}
	deps, err := h.svc.DeployRevision(r.Context(), r.PathValue("apiId"), revID, reqs)
	if err != nil {
		h.fail(w, err)
		return
	}
	restapi.WriteJSON(w, http.StatusCreated, deps)
}

// undeployRevision answers 201 with the remaining deployments (apictl
// accepts only 201).
func (h *Handler) undeployRevision(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	revID, num := q.Get("revisionId"), 0
	if revID == "" {
		n, err := strconv.Atoi(q.Get("revisionNumber"))
		if err != nil || n <= 0 {
			restapi.BadRequest(w, "revisionId or a positive revisionNumber is required")
			return
		}
		num = n
	}
	all, err := restapi.ParseBool(q, "allEnvironments", false)
	if err != nil {
		restapi.Respond(w, h.log, err)
		return
	}
	var reqs []catalog.DeploymentRequest
	if r.ContentLength != 0 && !restapi.DecodeJSON(w, r, &reqs, 0) {
		return
	}
	deps, err := h.svc.UndeployRevision(r.Context(), r.PathValue("apiId"), revID, num, all, reqs)
	if err != nil {
		h.fail(w, err)
		return
	}
	restapi.WriteJSON(w, http.StatusCreated, deps)
}

func (h *Handler) deployments(w http.ResponseWriter, r *http.Request) {
	deps, err := h.svc.Deployments(r.Context(), r.PathValue("apiId"))
	if err != nil {
		h.fail(w, err)
		return
	}
	restapi.WriteJSON(w, http.StatusOK, struct {
		List []catalog.Deployment `json:"list"`
	}{deps})
}

func (h *Handler) environments(w http.ResponseWriter, r *http.Request) {
	envs := h.svc.Environments()
	restapi.WriteJSON(w, http.StatusOK, struct {
		Count int                   `json:"count"`
		List  []catalog.Environment `json:"list"`
	}{len(envs), envs})
}
