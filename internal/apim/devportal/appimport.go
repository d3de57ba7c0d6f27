package devportal

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/keyway/keyway/internal/apim/catalog"
	"github.com/keyway/keyway/internal/apim/restapi"
	"github.com/keyway/keyway/internal/apim/subscription"
)

// Application import (POST /applications/import) reads the archive
// exportApplication writes (or WSO2's, or apictl's re-zipped one, which adds
// application_meta.yaml and application_params.yaml that are ignored).
//
// Everything that can be refused is checked before anything is stored: the
// archive, the document, the owner, the application tier and every
// subscription. Stores then run one by one, and a failure undoes what the
// import made (the stores do not share a transaction), so a refused or
// failed import leaves nothing behind. Subscriptions to APIs that do not
// exist here, or whose tier is no longer allowed, are skipped as WSO2 does
// and reported with 207 and the skipped APIs. Keys are mapped to the
// existing consumer keys of their key managers without a secret (the export
// carries none); a key manager that needs the secret to map, or a consumer
// key already mapped elsewhere, is skipped with a warning in the log.

// Import limits: an application archive is a few kilobytes.
const (
	maxImportArchive  = 8 << 20
	maxImportDocument = 1 << 20
)

// skippedAPI is an APIInfo of a subscription the import could not restore.
type skippedAPI struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	Provider string `json:"provider"`
}

type importOptions struct {
	preserveOwner, skipSubscriptions, skipKeys, update bool
	appOwner                                           string
}

func parseImportOptions(r *http.Request) (importOptions, error) {
	q := r.URL.Query()
	o := importOptions{appOwner: strings.TrimSpace(q.Get("appOwner"))}
	for name, dst := range map[string]*bool{"preserveOwner": &o.preserveOwner, "skipSubscriptions": &o.skipSubscriptions,
		"skipApplicationKeys": &o.skipKeys, "update": &o.update} {
		v, err := restapi.ParseBool(q, name, false)
		if err != nil {
			return o, err
		}
		*dst = v
	}
	return o, nil
}

// plannedSub is a subscription the import will create.
type plannedSub struct {
	apiID, policy string
}

func (h *Handler) importApplication(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	opts, err := parseImportOptions(r)
	if err != nil {
		h.respond(w, err)
		return
	}
	doc, err := readImportArchive(w, r)
	if err != nil {
		h.respond(w, err)
		return
	}
	info := doc.Data.ApplicationInfo
	owner, err := importOwner(r, opts, info.Owner)
	if err != nil {
		h.respond(w, err)
		return
	}
	if err := h.checkAppPolicy(r, info.ThrottlingPolicy); err != nil {
		h.respond(w, err)
		return
	}
	existing, err := h.Store.GetApplicationByName(ctx, owner, info.Name)
	switch {
	case errors.Is(err, subscription.ErrNotFound):
		existing = nil
	case err != nil:
		h.respond(w, err)
		return
	case !opts.update:
		restapi.Conflict(w, "An application with name "+info.Name+" already exists for "+owner)
		return
	}
	var planned []plannedSub
	skipped := []skippedAPI{}
	if !opts.skipSubscriptions {
		if planned, skipped, err = h.planSubscriptions(r, doc.Data.SubscribedAPIs); err != nil {
			h.respond(w, err)
			return
		}
	}

	app, undo, err := h.storeImportedApplication(r, existing, owner, info)
	if err != nil {
		h.respond(w, err)
		return
	}
	if err := h.storeImportedSubscriptions(r, app, planned); err != nil {
		undo()
		h.respond(w, err)
		return
	}
	if !opts.skipKeys {
		h.mapImportedKeys(r, app, append(info.Keys, doc.Data.Keys...))
	}
	w.Header().Set("Location", BasePath+"/applications/"+app.UUID)
	if len(skipped) > 0 {
		restapi.WriteJSON(w, http.StatusMultiStatus, map[string]any{"count": len(skipped), "list": skipped})
		return
	}
	restapi.WriteJSON(w, http.StatusOK, h.toInfo(r, app))
}

// readImportArchive reads the multipart file part and decodes the
// application document in it.
func readImportArchive(w http.ResponseWriter, r *http.Request) (*exportedApplication, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxImportArchive)
	file, _, err := r.FormFile("file")
	if err != nil {
		return nil, restapi.ErrBadRequest("a multipart form with the application archive in part 'file' is required")
	}
	defer file.Close()
	raw, err := io.ReadAll(file)
	if err != nil {
		return nil, restapi.ErrBadRequest("read the application archive: " + err.Error())
	}
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		return nil, restapi.ErrBadRequest("the application archive is not a valid zip file")
	}
	entry := findApplicationFile(zr)
	if entry == nil {
		return nil, restapi.ErrBadRequest("the archive holds no application.yaml or application.json")
	}
	rc, err := entry.Open()
	if err != nil {
		return nil, restapi.ErrBadRequest("open " + entry.Name + ": " + err.Error())
	}
	defer rc.Close()
	body, err := io.ReadAll(io.LimitReader(rc, maxImportDocument+1))
	if err != nil {
		return nil, restapi.ErrBadRequest("read " + entry.Name + ": " + err.Error())
	}
	if len(body) > maxImportDocument {
		return nil, restapi.ErrBadRequest(entry.Name + " is too large")
	}
	return decodeApplicationDocument(entry.Name, body)
}

// findApplicationFile picks the application document: application.yaml
// wins over application.json, as api.yaml does for APIs, at the archive's
// root or in its one top-level folder.
func findApplicationFile(zr *zip.Reader) *zip.File {
	var found *zip.File
	for _, f := range zr.File {
		name := strings.TrimPrefix(path.Clean(strings.ReplaceAll(f.Name, `\`, "/")), "/")
		if f.FileInfo().IsDir() || strings.Count(name, "/") > 1 {
			continue
		}
		switch path.Base(name) {
		case exportFile + ".yaml", exportFile + ".yml":
			return f
		case exportFile + ".json":
			found = f
		}
	}
	return found
}

// decodeApplicationDocument parses YAML or JSON (JSON is YAML) into the
// exported application and checks what the import relies on.
func decodeApplicationDocument(name string, body []byte) (*exportedApplication, error) {
	var tree any
	if err := yaml.Unmarshal(body, &tree); err != nil {
		return nil, restapi.ErrBadRequest(name + " is not valid YAML or JSON: " + err.Error())
	}
	raw, err := json.Marshal(tree)
	if err != nil {
		return nil, restapi.ErrBadRequest(name + " has a structure that cannot be read: " + err.Error())
	}
	var doc exportedApplication
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, restapi.ErrBadRequest(name + " does not hold an exported application: " + err.Error())
	}
	if doc.Type != exportType {
		return nil, restapi.ErrBadRequest(fmt.Sprintf("%s has type %q; an application archive has type %q", name, doc.Type, exportType))
	}
	if strings.TrimSpace(doc.Data.ApplicationInfo.Name) == "" {
		return nil, restapi.ErrBadRequest(name + " has no data.applicationInfo.name")
	}
	return &doc, nil
}

// importOwner decides who owns the imported application: the archive's
// owner with preserveOwner, else appOwner, else the caller (WSO2's
// ApplicationServiceImpl.getOwnerId). Only an admin imports for others.
func importOwner(r *http.Request, o importOptions, fileOwner string) (string, error) {
	owner := caller(r)
	switch {
	case o.preserveOwner && strings.TrimSpace(fileOwner) != "":
		owner = strings.TrimSpace(fileOwner)
	case o.appOwner != "":
		owner = o.appOwner
	}
	if !strings.EqualFold(owner, caller(r)) && !isAdmin(r) {
		return "", restapi.ErrForbidden("Only an admin can import an application for another user (" + owner + ")")
	}
	return owner, nil
}

// planSubscriptions resolves each exported subscription by provider, name
// and version; those that cannot be restored here are skipped.
func (h *Handler) planSubscriptions(r *http.Request, subs []exportedSubscribedAPI) ([]plannedSub, []skippedAPI, error) {
	var planned []plannedSub
	skipped := []skippedAPI{}
	for _, s := range subs {
		id := s.APIID
		skip := func(reason string) {
			h.Logger.Warn("import application: subscription skipped", "api", id.APIName, "version", id.Version,
				"provider", id.ProviderName, "reason", reason)
			skipped = append(skipped, skippedAPI{Name: id.APIName, Version: id.Version, Provider: id.ProviderName})
		}
		apiID, err := h.Catalog.FindAPI(r.Context(), id.APIName, id.Version)
		if err != nil {
			return nil, nil, fmt.Errorf("find API %s %s: %w", id.APIName, id.Version, err)
		}
		if apiID == "" {
			skip("API not found")
			continue
		}
		api, err := h.Catalog.GetAPI(r.Context(), apiID)
		if errors.Is(err, catalog.ErrNotFound) {
			skip("API not found")
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read API %s: %w", apiID, err)
		}
		switch {
		case id.ProviderName != "" && !strings.EqualFold(api.Provider, id.ProviderName):
			skip("API has another provider (" + api.Provider + ")")
		case api.IsRevision || api.LifeCycleStatus != "PUBLISHED":
			skip("API is " + api.LifeCycleStatus)
		default:
			if err := h.checkSubscriptionPolicy(r, api, s.ThrottlingPolicy); err != nil {
				var p *restapi.Problem
				if !errors.As(err, &p) {
					return nil, nil, err
				}
				skip(p.Body.Description)
				continue
			}
			planned = append(planned, plannedSub{apiID: api.ID, policy: s.ThrottlingPolicy})
		}
	}
	return planned, skipped, nil
}

// storeImportedApplication creates the application, or updates existing;
// undo reverts that.
func (h *Handler) storeImportedApplication(r *http.Request, existing *subscription.Application, owner string,
	info exportedAppInfo) (*subscription.Application, func(), error) {
	ctx := r.Context()
	if existing == nil {
		a := &subscription.Application{Name: info.Name, Owner: owner, ThrottlingPolicy: info.ThrottlingPolicy, Description: info.Description,
			TokenType: info.TokenType, Attributes: info.Attributes, Groups: info.Groups}
		if err := h.Store.CreateApplication(ctx, a); err != nil {
			return nil, nil, err
		}
		undo := func() {
			if err := h.Store.DeleteApplication(ctx, a.UUID); err != nil {
				h.Logger.Error("import application: undo create failed", "application", a.UUID, "err", err)
			}
		}
		return a, undo, nil
	}
	before := *existing
	a := *existing
	a.ThrottlingPolicy, a.Description, a.TokenType, a.Attributes, a.Groups = info.ThrottlingPolicy, info.Description, info.TokenType,
		info.Attributes, info.Groups
	if err := h.Store.UpdateApplication(ctx, &a); err != nil {
		return nil, nil, err
	}
	undo := func() {
		if err := h.Store.UpdateApplication(ctx, &before); err != nil {
			h.Logger.Error("import application: undo update failed", "application", a.UUID, "err", err)
		}
	}
	return &a, undo, nil
}

// storeImportedSubscriptions creates the planned subscriptions the
// application does not have yet; on failure it deletes those it made.
func (h *Handler) storeImportedSubscriptions(r *http.Request, app *subscription.Application, planned []plannedSub) error {
	ctx := r.Context()
	have, _, err := h.Store.ListSubscriptions(ctx, subscription.SubscriptionQuery{ApplicationUUID: app.UUID})
	if err != nil {
		return fmt.Errorf("list subscriptions of %s: %w", app.UUID, err)
	}
	subscribed := map[string]bool{}
	for _, s := range have {
		subscribed[s.APIUUID] = true
	}
	var made []string
	for _, p := range planned {
		if subscribed[p.apiID] {
			continue
		}
		s := &subscription.Subscription{ApplicationUUID: app.UUID, APIUUID: p.apiID, Policy: p.policy}
		if err := h.Store.CreateSubscription(ctx, s); err != nil {
			for _, id := range made {
				if derr := h.Store.DeleteSubscription(ctx, id); derr != nil {
					h.Logger.Error("import application: undo subscription failed", "subscription", id, "err", derr)
				}
			}
			return err
		}
		subscribed[p.apiID] = true
		made = append(made, s.UUID)
	}
	return nil
}

// mapImportedKeys maps each exported consumer key to the application at its
// key manager. Keys cannot be re-created from an export without secrets, so
// a key that cannot be mapped is skipped with a warning, as WSO2 skips keys
// it cannot restore.
func (h *Handler) mapImportedKeys(r *http.Request, app *subscription.Application, keys []exportedKey) {
	ctx := r.Context()
	current, err := h.Store.KeyMappingsOf(ctx, app.UUID)
	if err != nil {
		h.Logger.Warn("import application: keys skipped", "application", app.UUID, "err", err)
		return
	}
	for _, k := range keys {
		if k.ConsumerKey == "" {
			continue
		}
		mapped := false
		for _, c := range current {
			if c.ConsumerKey == k.ConsumerKey && strings.EqualFold(c.KeyManager, k.KeyManager) {
				mapped = true
			}
		}
		if mapped {
			continue
		}
		if _, err := h.Keys.MapKeys(ctx, app, strings.ToUpper(k.KeyType), k.KeyManager, k.ConsumerKey, ""); err != nil {
			h.Logger.Warn("import application: key skipped", "application", app.UUID, "key_manager", k.KeyManager,
				"key_type", k.KeyType, "err", err)
		}
	}
}
