package publisher

import (
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/keyway/keyway/internal/apim/catalog"
	"github.com/keyway/keyway/internal/apim/restapi"
)

// maxUpload bounds multipart bodies (definitions, project zips).
const maxUpload = 64 << 20

// apiInfo is the APIInfo of API lists.
type apiInfo struct {
	ID              string   `json:"id"`
	Name            string   `json:"name"`
	Description     string   `json:"description,omitempty"`
	Context         string   `json:"context"`
	Version         string   `json:"version"`
	Provider        string   `json:"provider"`
	Type            string   `json:"type"`
	LifeCycleStatus string   `json:"lifeCycleStatus"`
	HasThumbnail    bool     `json:"hasThumbnail"`
	SecurityScheme  []string `json:"securityScheme"`
	CreatedTime     string   `json:"createdTime,omitempty"`
	UpdatedTime     string   `json:"updatedTime,omitempty"`
	GatewayVendor   string   `json:"gatewayVendor,omitempty"`
	GatewayType     string   `json:"gatewayType,omitempty"`
	AdvertiseOnly   bool     `json:"advertiseOnly"`
	BusinessOwner   string   `json:"businessOwner,omitempty"`
	BusinessEmail   string   `json:"businessOwnerEmail,omitempty"`
	TechnicalOwner  string   `json:"TechnicalOwner,omitempty"`
	TechnicalEmail  string   `json:"TechnicalOwnerEmail,omitempty"`
}

func infoOf(a *catalog.API) apiInfo {
	i := apiInfo{ID: a.ID, Name: a.Name, Description: a.Description, Context: a.Context, Version: a.Version, Provider: a.Provider,
		Type: a.Type, LifeCycleStatus: a.LifeCycleStatus, HasThumbnail: a.HasThumbnail, SecurityScheme: a.SecurityScheme,
		CreatedTime: a.CreatedTime, UpdatedTime: a.LastUpdatedTime, GatewayVendor: a.GatewayVendor, GatewayType: a.GatewayType}
	if b := a.BusinessInformation; b != nil {
		i.BusinessOwner, i.BusinessEmail, i.TechnicalOwner, i.TechnicalEmail = b.BusinessOwner, b.BusinessOwnerEmail, b.TechnicalOwner, b.TechnicalOwnerEmail
	}
	return i
}

func (h *Handler) listAPIs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page, err := restapi.ParsePage(q, 0)
	if err != nil {
		restapi.Respond(w, h.log, err)
		return
	}
	desc := strings.EqualFold(q.Get("sortOrder"), "desc")
	apis, total, err := h.svc.ListAPIs(r.Context(), catalog.Query{Text: q.Get("query"), Offset: page.Offset, Limit: page.Limit, SortBy: q.Get("sortBy"), SortDesc: desc})
	if err != nil {
		h.fail(w, err)
		return
	}
	items := make([]apiInfo, 0, len(apis))
	for _, a := range apis {
		items = append(items, infoOf(a))
	}
	restapi.WriteList(w, restapi.NewList(items, "/apis", q, page, total))
}

func (h *Handler) getAPI(w http.ResponseWriter, r *http.Request) {
	a, err := h.svc.GetAPI(r.Context(), r.PathValue("apiId"))
	if err != nil {
		h.fail(w, err)
		return
	}
	restapi.WriteJSON(w, http.StatusOK, a)
}

func (h *Handler) createAPI(w http.ResponseWriter, r *http.Request) {
	var in catalog.API
	if !restapi.DecodeJSON(w, r, &in, 0) {
		return
	}
	if v := r.URL.Query().Get("openAPIVersion"); v != "" && v != "v3" && v != "v2" {
		restapi.BadRequest(w, "openAPIVersion must be v2 or v3")
		return
	}
	a, err := h.svc.CreateAPI(r.Context(), caller(r), &in, nil)
	if err != nil {
		h.fail(w, err)
		return
	}
	w.Header().Set("Location", BasePath+"/apis/"+a.ID)
	restapi.WriteJSON(w, http.StatusCreated, a)
}

func (h *Handler) updateAPI(w http.ResponseWriter, r *http.Request) {
	var in catalog.API
	if !restapi.DecodeJSON(w, r, &in, 0) {
		return
	}
	a, err := h.svc.UpdateAPI(r.Context(), r.PathValue("apiId"), &in)
	if err != nil {
		h.fail(w, err)
		return
	}
	restapi.WriteJSON(w, http.StatusOK, a)
}

func (h *Handler) deleteAPI(w http.ResponseWriter, r *http.Request) {
	if err := h.svc.DeleteAPI(r.Context(), r.PathValue("apiId")); err != nil {
		h.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// definitionFrom reads a definition from a multipart form: a file part
// (fileField), an inline text field or a URL. The bool is false when the
// request carried none.
func (h *Handler) definitionFrom(r *http.Request, fileField, inlineField string) ([]byte, bool, error) {
	if err := r.ParseMultipartForm(maxUpload); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		return nil, false, restapi.ErrBadRequest("cannot read the multipart body: " + err.Error())
	}
	if f, _, err := r.FormFile(fileField); err == nil {
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxUpload))
		if err != nil {
			return nil, false, restapi.ErrBadRequest("cannot read the uploaded definition: " + err.Error())
		}
		return b, true, nil
	} else if !errors.Is(err, http.ErrMissingFile) && !errors.Is(err, http.ErrNotMultipart) && !errors.Is(err, multipart.ErrMessageTooLarge) {
		return nil, false, restapi.ErrBadRequest("cannot read the uploaded definition: " + err.Error())
	}
	if s := r.FormValue(inlineField); s != "" {
		return []byte(s), true, nil
	}
	if u := r.FormValue("url"); u != "" {
		b, err := h.svc.FetchDefinition(r.Context(), u)
		return b, true, err
	}
	return nil, false, nil
}

func (h *Handler) importOpenAPI(w http.ResponseWriter, r *http.Request) {
	raw, ok, err := h.definitionFrom(r, "file", "inlineAPIDefinition")
	if err != nil {
		h.fail(w, err)
		return
	}
	if !ok {
		restapi.BadRequest(w, "Either 'file', 'url' or 'inlineAPIDefinition' should be specified")
		return
	}
	def, err := catalog.ParseDefinition(r.Context(), raw)
	if err != nil {
		h.fail(w, err)
		return
	}
	var in catalog.API
	if props := r.FormValue("additionalProperties"); props != "" {
		if err := json.Unmarshal([]byte(props), &in); err != nil {
			restapi.BadRequest(w, "additionalProperties is not a valid API JSON: "+err.Error())
			return
		}
	}
	info := def.Info()
	if in.Name == "" {
		in.Name = info.Name
	}
	if in.Version == "" {
		in.Version = info.Version
	}
	if in.Context == "" {
		in.Context = info.Context
	}
	if in.Description == "" {
		in.Description = info.Description
	}
	a, err := h.svc.CreateAPI(r.Context(), caller(r), &in, def)
	if err != nil {
		h.fail(w, err)
		return
	}
	w.Header().Set("Location", BasePath+"/apis/"+a.ID)
	restapi.WriteJSON(w, http.StatusCreated, a)
}

// validationResponse is OpenAPIDefinitionValidationResponse.
type validationResponse struct {
	IsValid bool                    `json:"isValid"`
	Content string                  `json:"content,omitempty"`
	Info    *catalog.DefinitionInfo `json:"info,omitempty"`
	Errors  []restapi.ErrorItem     `json:"errors"`
}

func (h *Handler) validateOpenAPI(w http.ResponseWriter, r *http.Request) {
	raw, ok, err := h.definitionFrom(r, "file", "inlineAPIDefinition")
	if err != nil {
		h.fail(w, err)
		return
	}
	if !ok {
		restapi.BadRequest(w, "Either 'file', 'url' or 'inlineAPIDefinition' should be specified")
		return
	}
	def, err := catalog.ParseDefinition(r.Context(), raw)
	var de *catalog.DefinitionError
	if errors.As(err, &de) {
		restapi.WriteJSON(w, http.StatusOK, validationResponse{IsValid: false, Errors: definitionItems(de)})
		return
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	info := def.Info()
	resp := validationResponse{IsValid: true, Info: &info, Errors: []restapi.ErrorItem{}}
	if strings.EqualFold(r.URL.Query().Get("returnContent"), "true") {
		resp.Content = string(raw)
	}
	restapi.WriteJSON(w, http.StatusOK, resp)
}

func (h *Handler) getSwagger(w http.ResponseWriter, r *http.Request) {
	def, err := h.svc.Definition(r.Context(), r.PathValue("apiId"))
	if err != nil {
		h.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(def)
}

func (h *Handler) putSwagger(w http.ResponseWriter, r *http.Request) {
	raw, ok, err := h.definitionFrom(r, "file", "apiDefinition")
	if err != nil {
		h.fail(w, err)
		return
	}
	if !ok {
		restapi.BadRequest(w, "Either 'file', 'url' or 'apiDefinition' should be specified")
		return
	}
	def, err := catalog.ParseDefinition(r.Context(), raw)
	if err != nil {
		h.fail(w, err)
		return
	}
	id := r.PathValue("apiId")
	if _, err := h.svc.UpdateDefinition(r.Context(), id, def); err != nil {
		h.fail(w, err)
		return
	}
	h.getSwagger(w, r)
}
