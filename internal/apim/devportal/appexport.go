package devportal

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/keyway/keyway/internal/apim/restapi"
	"github.com/keyway/keyway/internal/apim/subscription"
)

// Application export (GET /applications/export) writes WSO2's exported
// application archive, modelled on carbon-apimgt's ExportUtils and
// ExportedApplication:
//
//	<owner>-<appName>/application.yaml   (application.json with format=JSON)
//
// holding {type: application, version: v4.5.0, data: {applicationInfo:
// <Application DTO>, subscribedAPIs: [{apiId: {providerName, apiName,
// version}, subscriber: {name}, throttlingPolicy}]}}. With withKeys=true the
// Application DTO's keys list the key mappings (key manager, key type,
// consumer key, grant types, callback URL). WSO2 also exports the consumer
// secrets (base64); Keyway never does (docs/differences.md).

// Export file constants (carbon-apimgt ImportExportConstants).
const (
	exportType    = "application"
	exportVersion = "v4.5.0"
	exportFile    = "application"
)

// exportedApplication is the file's document.
type exportedApplication struct {
	Type    string          `json:"type"`
	Version string          `json:"version"`
	Data    exportedAppData `json:"data"`
}

type exportedAppData struct {
	ApplicationInfo exportedAppInfo         `json:"applicationInfo"`
	SubscribedAPIs  []exportedSubscribedAPI `json:"subscribedAPIs"`
	// Keys is read on import only: some exporters place the keys beside
	// applicationInfo rather than in it.
	Keys []exportedKey `json:"keys,omitempty"`
}

// exportedAppInfo is the Application DTO as WSO2 writes it in the archive.
type exportedAppInfo struct {
	ApplicationID     string            `json:"applicationId,omitempty"`
	Name              string            `json:"name"`
	ThrottlingPolicy  string            `json:"throttlingPolicy"`
	Description       string            `json:"description"`
	TokenType         string            `json:"tokenType"`
	Status            string            `json:"status,omitempty"`
	Groups            []string          `json:"groups"`
	SubscriptionCount int               `json:"subscriptionCount"`
	Keys              []exportedKey     `json:"keys"`
	Attributes        map[string]string `json:"attributes"`
	Owner             string            `json:"owner"`
	HashEnabled       bool              `json:"hashEnabled"`
	CreatedTime       string            `json:"createdTime,omitempty"`
	UpdatedTime       string            `json:"updatedTime,omitempty"`
}

// exportedKey is an ApplicationKey without its secret or token.
type exportedKey struct {
	KeyManager           string         `json:"keyManager"`
	ConsumerKey          string         `json:"consumerKey"`
	SupportedGrantTypes  []string       `json:"supportedGrantTypes"`
	CallbackURL          string         `json:"callbackUrl,omitempty"`
	KeyState             string         `json:"keyState,omitempty"`
	KeyType              string         `json:"keyType"`
	Mode                 string         `json:"mode,omitempty"`
	AdditionalProperties map[string]any `json:"additionalProperties,omitempty"`
}

// exportedSubscribedAPI is WSO2's ExportedSubscribedAPI.
type exportedSubscribedAPI struct {
	APIID            exportedAPIID      `json:"apiId"`
	Subscriber       exportedSubscriber `json:"subscriber"`
	ThrottlingPolicy string             `json:"throttlingPolicy"`
}

type exportedAPIID struct {
	ProviderName string `json:"providerName"`
	APIName      string `json:"apiName"`
	Version      string `json:"version"`
}

type exportedSubscriber struct {
	Name string `json:"name"`
}

func (h *Handler) exportApplication(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name, owner := q.Get("appName"), q.Get("appOwner")
	if name == "" {
		restapi.BadRequest(w, "appName is required")
		return
	}
	withKeys, err := restapi.ParseBool(q, "withKeys", false)
	if err != nil {
		h.respond(w, err)
		return
	}
	format := strings.ToUpper(q.Get("format"))
	switch format {
	case "":
		format = "YAML"
	case "YAML", "JSON":
	default:
		restapi.BadRequest(w, "format must be YAML or JSON")
		return
	}
	if owner == "" {
		owner = caller(r)
	}
	// Another user's application is visible to admins only, and reported as
	// missing otherwise so that names do not leak.
	if !strings.EqualFold(owner, caller(r)) && !isAdmin(r) {
		restapi.NotFound(w, "Application "+name+" of "+owner+" not found")
		return
	}
	app, err := h.Store.GetApplicationByName(r.Context(), owner, name)
	if err != nil {
		if errors.Is(err, subscription.ErrNotFound) {
			restapi.NotFound(w, "Application "+name+" of "+owner+" not found")
			return
		}
		h.respond(w, err)
		return
	}
	doc, err := h.exportDocument(r, app, withKeys)
	if err != nil {
		h.respond(w, err)
		return
	}
	archive, err := exportArchive(app, doc, format)
	if err != nil {
		restapi.Internal(w, h.Logger, err)
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	// WSO2 names the file after its temporary folder, <owner>_<appName>.
	file := strings.ReplaceAll(app.Owner, "/", "#") + "_" + strings.ReplaceAll(app.Name, "/", "#") + ".zip"
	w.Header().Set("Content-Disposition", `attachment; filename="`+file+`"`)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(archive)
}

// isAdmin reports whether the caller holds the admin role.
func isAdmin(r *http.Request) bool {
	c, ok := restapi.CallerFrom(r.Context())
	return ok && c.HasRole(restapi.RoleAdmin)
}

// exportDocument builds the exported application of app.
func (h *Handler) exportDocument(r *http.Request, app *subscription.Application, withKeys bool) (*exportedApplication, error) {
	ctx := r.Context()
	subs, _, err := h.Store.ListSubscriptions(ctx, subscription.SubscriptionQuery{ApplicationUUID: app.UUID})
	if err != nil {
		return nil, fmt.Errorf("list subscriptions of %s: %w", app.UUID, err)
	}
	info := exportedAppInfo{ApplicationID: app.UUID, Name: app.Name, ThrottlingPolicy: app.ThrottlingPolicy, Description: app.Description,
		TokenType: app.TokenType, Status: app.Status, Groups: nonNil(app.Groups), Keys: []exportedKey{}, Attributes: app.Attributes,
		Owner: app.Owner, CreatedTime: millis(app.Created), UpdatedTime: millis(app.Updated)}
	if info.Attributes == nil {
		info.Attributes = map[string]string{}
	}
	out := []exportedSubscribedAPI{}
	for _, s := range subs {
		api, err := h.Catalog.GetAPI(ctx, s.APIUUID)
		if err != nil {
			// An API deleted under the subscription cannot be re-created
			// elsewhere; WSO2 lists only resolvable subscriptions too.
			h.Logger.Warn("export application: subscribed API not found", "application", app.UUID, "api", s.APIUUID, "err", err)
			continue
		}
		out = append(out, exportedSubscribedAPI{APIID: exportedAPIID{ProviderName: api.Provider, APIName: api.Name, Version: api.Version},
			Subscriber: exportedSubscriber{Name: app.Owner}, ThrottlingPolicy: s.Policy})
	}
	info.SubscriptionCount = len(out)
	if withKeys {
		keys, err := h.Store.KeyMappingsOf(ctx, app.UUID)
		if err != nil {
			return nil, fmt.Errorf("key mappings of %s: %w", app.UUID, err)
		}
		for _, k := range keys {
			info.Keys = append(info.Keys, exportedKey{KeyManager: k.KeyManager, ConsumerKey: k.ConsumerKey,
				SupportedGrantTypes: nonNil(k.GrantTypes), CallbackURL: k.CallbackURL, KeyState: k.State, KeyType: k.KeyType,
				Mode: k.Mode, AdditionalProperties: k.AdditionalProperties})
		}
	}
	return &exportedApplication{Type: exportType, Version: exportVersion,
		Data: exportedAppData{ApplicationInfo: info, SubscribedAPIs: out}}, nil
}

// archiveName is the archive's folder name: WSO2 writes <owner>-<appName>;
// a user store domain's "/" becomes "#" as apictl does for its file name.
func archiveName(app *subscription.Application) string {
	return strings.ReplaceAll(app.Owner, "/", "#") + "-" + strings.ReplaceAll(app.Name, "/", "#")
}

// exportArchive zips the document under one top-level folder.
func exportArchive(app *subscription.Application, doc *exportedApplication, format string) ([]byte, error) {
	// The document goes through JSON first so that YAML keys are the
	// contract's camelCase names.
	raw, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode exported application: %w", err)
	}
	file := exportFile + ".json"
	if format == "YAML" {
		var tree any
		if err := json.Unmarshal(raw, &tree); err != nil {
			return nil, fmt.Errorf("re-read exported application: %w", err)
		}
		if raw, err = yaml.Marshal(tree); err != nil {
			return nil, fmt.Errorf("encode exported application yaml: %w", err)
		}
		file = exportFile + ".yaml"
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	dir := archiveName(app) + "/"
	if _, err := zw.Create(dir); err != nil {
		return nil, fmt.Errorf("zip folder: %w", err)
	}
	f, err := zw.Create(dir + file)
	if err != nil {
		return nil, fmt.Errorf("zip file: %w", err)
	}
	if _, err := f.Write(raw); err != nil {
		return nil, fmt.Errorf("zip write: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("zip close: %w", err)
	}
	return buf.Bytes(), nil
}
