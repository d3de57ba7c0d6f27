package publisher

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/keyway/keyway/internal/apim/catalog"
	"github.com/keyway/keyway/internal/apim/restapi"
)

func (h *Handler) exportAPI(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := catalog.ExportRequest{APIID: q.Get("apiId"), Name: q.Get("name"), Version: q.Get("version"), Provider: q.Get("providerName"), Format: q.Get("format")}
	if req.Format != "" && !strings.EqualFold(req.Format, "YAML") && !strings.EqualFold(req.Format, "JSON") {
		restapi.BadRequest(w, "format must be YAML or JSON")
		return
	}
	var err error
	if req.PreserveStatus, err = restapi.ParseBool(q, "preserveStatus", true); err != nil {
		restapi.Respond(w, h.log, err)
		return
	}
	if req.LatestRevision, err = restapi.ParseBool(q, "latestRevision", false); err != nil {
		restapi.Respond(w, h.log, err)
		return
	}
	if s := q.Get("revisionNumber"); s != "" {
		if req.RevisionNumber, err = strconv.Atoi(s); err != nil || req.RevisionNumber <= 0 {
			restapi.BadRequest(w, "revisionNumber must be a positive integer")
			return
		}
	}
	data, name, err := h.svc.Export(r.Context(), req)
	if err != nil {
		h.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}

// importAPI answers 200 with {id, revision} as JSON when the client accepts
// JSON (apictl does), else WSO2's text "API imported successfully.".
func (h *Handler) importAPI(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var opts catalog.ImportOptions
	var err error
	var dryRun bool
	if opts.PreserveProvider, err = restapi.ParseBool(q, "preserveProvider", true); err == nil {
		if opts.Overwrite, err = restapi.ParseBool(q, "overwrite", false); err == nil {
			if opts.RotateRevision, err = restapi.ParseBool(q, "rotateRevision", false); err == nil {
				dryRun, err = restapi.ParseBool(q, "dryRun", false)
			}
		}
	}
	if err != nil {
		restapi.Respond(w, h.log, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxUpload)
	if err := r.ParseMultipartForm(maxUpload); err != nil {
		restapi.BadRequest(w, "a multipart body with a 'file' part is required: "+err.Error())
		return
	}
	f, _, err := r.FormFile("file")
	if err != nil {
		if errors.Is(err, http.ErrMissingFile) {
			restapi.BadRequest(w, "the 'file' part with the project zip is required")
			return
		}
		restapi.BadRequest(w, "cannot read the 'file' part: "+err.Error())
		return
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		restapi.BadRequest(w, "cannot read the 'file' part: "+err.Error())
		return
	}
	if dryRun {
		// apictl --dry-run prints the compliance check; Keyway has no
		// governance rules, so a project that would import passes.
		if err := h.svc.CheckImport(r.Context(), caller(r), data, opts); err != nil {
			h.fail(w, err)
			return
		}
		restapi.WriteJSON(w, http.StatusOK, map[string]any{"compliance-check": map[string]any{"result": "pass", "violations": []any{}}})
		return
	}
	res, err := h.svc.Import(r.Context(), caller(r), data, opts)
	if err != nil {
		h.fail(w, err)
		return
	}
	if accept := r.Header.Get("Accept"); accept == "" || strings.Contains(accept, "json") || strings.Contains(accept, "*/*") {
		restapi.WriteJSON(w, http.StatusOK, res)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "API imported successfully.")
}
