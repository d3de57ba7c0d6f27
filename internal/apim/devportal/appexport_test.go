package devportal_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/keyway/keyway/internal/apim"
	"github.com/keyway/keyway/internal/apim/subscription"
	"github.com/keyway/keyway/internal/config"
	"github.com/keyway/keyway/internal/contracttest"
	"github.com/keyway/keyway/internal/db/dbtest"
	"github.com/keyway/keyway/internal/events"
	"github.com/keyway/keyway/internal/httpx"
	"github.com/keyway/keyway/internal/keystore"
	"github.com/keyway/keyway/internal/platform"
	"github.com/keyway/keyway/internal/secret"
	"github.com/keyway/keyway/internal/user"
)

const (
	pubPath = "/api/am/publisher/v4"
	devPath = "/api/am/devportal/v3"
)

// portal is a running API Manager for the import/export tests.
type portal struct {
	t      *testing.T
	url    string
	client *http.Client
	apim   *apim.Server
}

func newPortal(t *testing.T) *portal {
	t.Helper()
	ks, err := keystore.Generate("wso2carbon", []string{"localhost", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := secret.NewSealerFromKey(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	trust := keystore.NewTrustStore(filepath.Join(t.TempDir(), "trust.pem"))
	trust.Add("apim", srv.Certificate())
	p := &platform.Platform{Config: config.Default(), DataDir: t.TempDir(), Primary: ks, TLS: ks, Internal: ks, Sealer: sealer,
		Trust: trust, Health: httpx.NewHealth(), Bus: events.NewLocal(), BaseURL: srv.URL}
	d := dbtest.SQLite(t)
	s, err := apim.New(context.Background(), p, d, d, apim.WithPasswordHashing(user.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	s.Mount(mux)
	return &portal{t: t, url: srv.URL, client: trust.HTTPClient(0), apim: s}
}

func basic(u, p string) string {
	r := http.Request{Header: http.Header{}}
	r.SetBasicAuth(u, p)
	return r.Header.Get("Authorization")
}

// do sends a request; contract, when set, validates the response.
func (p *portal) do(method, path, auth, ctype string, body []byte, contract bool) (*http.Response, []byte) {
	p.t.Helper()
	req, err := http.NewRequest(method, p.url+path, bytes.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Authorization", auth)
	if contract {
		return contracttest.Load(p.t, "devportal-api.yaml").Do(p.t, p.client, req)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, raw
}

func (p *portal) json(method, path, auth string, body any) (int, map[string]any) {
	p.t.Helper()
	raw, _ := json.Marshal(body)
	if body == nil {
		raw = nil
	}
	resp, out := p.do(method, path, auth, "application/json", raw, false)
	m := map[string]any{}
	_ = json.Unmarshal(out, &m)
	return resp.StatusCode, m
}

func (p *portal) publishAPI(name string) {
	p.t.Helper()
	admin := basic("admin", "admin")
	status, api := p.json(http.MethodPost, pubPath+"/apis", admin, map[string]any{"name": name, "version": "1.0.0",
		"context": "/" + strings.ToLower(name), "policies": []string{"Gold", "Unlimited"},
		"endpointConfig": map[string]any{"endpoint_type": "http", "production_endpoints": map[string]any{"url": "https://backend.example/v1"}}})
	if status != http.StatusCreated {
		p.t.Fatalf("create API: %d %v", status, api)
	}
	if status, body := p.json(http.MethodPost, pubPath+"/apis/change-lifecycle?action=Publish&apiId="+api["id"].(string), admin, nil); status != http.StatusOK {
		p.t.Fatalf("publish: %d %v", status, body)
	}
}

// importZip posts an archive as apictl does (multipart part "file").
func (p *portal) importZip(query, auth string, archive []byte, contract bool) (int, map[string]any, []byte) {
	p.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	part, _ := mw.CreateFormFile("file", "admin_PizzaApp.zip")
	_, _ = part.Write(archive)
	_ = mw.Close()
	resp, raw := p.do(http.MethodPost, devPath+"/applications/import?"+query, auth, mw.FormDataContentType(), body.Bytes(), contract)
	m := map[string]any{}
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m, raw
}

func (p *portal) apps(owner string) []*subscription.Application {
	p.t.Helper()
	apps, _, err := p.apim.Subscriptions().ListApplications(context.Background(), subscription.ApplicationQuery{Owner: owner})
	if err != nil {
		p.t.Fatal(err)
	}
	return apps
}

func (p *portal) subCount(appID string) int {
	n, err := p.apim.Subscriptions().CountSubscriptions(context.Background(), appID)
	if err != nil {
		p.t.Fatal(err)
	}
	return n
}

// unzip returns the archive's entries by name.
func unzip(t *testing.T, raw []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatalf("not a zip: %v", err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		out[f.Name] = b
	}
	return out
}

func makeZip(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, content := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write([]byte(content))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestApplicationExportImport(t *testing.T) {
	p := newPortal(t)
	ctx := context.Background()
	p.publishAPI("Pizza")
	for _, u := range []string{"dev", "eve"} {
		if err := p.apim.Users().CreateUser(ctx, &user.User{Username: u, Roles: []string{"Internal/subscriber", "Internal/devops"}}, u+"pass12"); err != nil {
			t.Fatal(err)
		}
	}
	dev, eve, admin := basic("dev", "devpass12"), basic("eve", "evepass12"), basic("admin", "admin")

	// dev's application: a subscription and production keys.
	status, app := p.json(http.MethodPost, devPath+"/applications", dev, map[string]any{"name": "PizzaApp", "throttlingPolicy": "10PerMin",
		"description": "orders", "attributes": map[string]string{"team": "blue"}})
	if status != http.StatusCreated {
		t.Fatalf("create app: %d %v", status, app)
	}
	appID := app["applicationId"].(string)
	apiID := ""
	if status, found := p.json(http.MethodGet, devPath+"/apis?limit=10", dev, nil); status == http.StatusOK {
		apiID = found["list"].([]any)[0].(map[string]any)["id"].(string)
	}
	if status, body := p.json(http.MethodPost, devPath+"/subscriptions", dev, map[string]any{"applicationId": appID, "apiId": apiID,
		"throttlingPolicy": "Gold"}); status != http.StatusCreated {
		t.Fatalf("subscribe: %d %v", status, body)
	}
	status, keys := p.json(http.MethodPost, devPath+"/applications/"+appID+"/generate-keys", dev, map[string]any{"keyType": "PRODUCTION",
		"keyManager": "Resident Key Manager", "grantTypesToBeSupported": []string{"client_credentials"}})
	if status != http.StatusOK {
		t.Fatalf("generate keys: %d %v", status, keys)
	}
	consumerKey, consumerSecret := keys["consumerKey"].(string), keys["consumerSecret"].(string)

	// Export: one folder <owner>-<app>/ holding application.yaml.
	resp, raw := p.do(http.MethodGet, devPath+"/applications/export?appName=PizzaApp&appOwner=dev&withKeys=true&format=YAML", dev, "", nil, true)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("export: %d %s", resp.StatusCode, raw)
	}
	entries := unzip(t, raw)
	doc, ok := entries["dev-PizzaApp/application.yaml"]
	if !ok || len(entries) != 2 {
		t.Fatalf("archive entries = %v", keysOf(entries))
	}
	if bytes.Contains(doc, []byte(consumerSecret)) || bytes.Contains(doc, []byte("consumerSecret")) {
		t.Fatalf("export holds the consumer secret:\n%s", doc)
	}
	var exported struct {
		Type    string `yaml:"type"`
		Version string `yaml:"version"`
		Data    struct {
			ApplicationInfo struct {
				Name             string            `yaml:"name"`
				Owner            string            `yaml:"owner"`
				ThrottlingPolicy string            `yaml:"throttlingPolicy"`
				Description      string            `yaml:"description"`
				Attributes       map[string]string `yaml:"attributes"`
				Keys             []struct {
					ConsumerKey string `yaml:"consumerKey"`
					KeyManager  string `yaml:"keyManager"`
					KeyType     string `yaml:"keyType"`
				} `yaml:"keys"`
			} `yaml:"applicationInfo"`
			SubscribedAPIs []struct {
				APIID struct {
					ProviderName string `yaml:"providerName"`
					APIName      string `yaml:"apiName"`
					Version      string `yaml:"version"`
				} `yaml:"apiId"`
				ThrottlingPolicy string `yaml:"throttlingPolicy"`
			} `yaml:"subscribedAPIs"`
		} `yaml:"data"`
	}
	if err := yaml.Unmarshal(doc, &exported); err != nil {
		t.Fatal(err)
	}
	info := exported.Data.ApplicationInfo
	if exported.Type != "application" || !strings.HasPrefix(exported.Version, "v4.") || info.Name != "PizzaApp" || info.Owner != "dev" ||
		info.ThrottlingPolicy != "10PerMin" || info.Description != "orders" || info.Attributes["team"] != "blue" {
		t.Errorf("exported application:\n%s", doc)
	}
	if len(info.Keys) != 1 || info.Keys[0].ConsumerKey != consumerKey || info.Keys[0].KeyManager != "Resident Key Manager" ||
		info.Keys[0].KeyType != "PRODUCTION" {
		t.Errorf("exported keys = %+v", info.Keys)
	}
	if s := exported.Data.SubscribedAPIs; len(s) != 1 || s[0].APIID.ProviderName != "admin" || s[0].APIID.APIName != "Pizza" ||
		s[0].APIID.Version != "1.0.0" || s[0].ThrottlingPolicy != "Gold" {
		t.Errorf("exported subscriptions = %+v", s)
	}
	yamlArchive := raw

	// Without withKeys no key is exported; format=JSON writes application.json.
	resp, raw = p.do(http.MethodGet, devPath+"/applications/export?appName=PizzaApp&appOwner=dev&format=JSON", dev, "", nil, true)
	var jsonDoc map[string]any
	if err := json.Unmarshal(unzip(t, raw)["dev-PizzaApp/application.json"], &jsonDoc); resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("json export: %d %v", resp.StatusCode, err)
	}
	if k := jsonDoc["data"].(map[string]any)["applicationInfo"].(map[string]any)["keys"].([]any); len(k) != 0 {
		t.Errorf("keys exported without withKeys: %v", k)
	}

	// Another user's application: missing for a non-admin, visible to admin.
	for _, c := range []struct {
		auth, query string
		want        int
	}{
		{eve, "appName=PizzaApp&appOwner=dev", http.StatusNotFound},
		{admin, "appName=PizzaApp&appOwner=dev", http.StatusOK},
		{dev, "appName=NoSuchApp&appOwner=dev", http.StatusNotFound},
		{dev, "appName=PizzaApp&appOwner=dev&format=XML", http.StatusBadRequest},
		{basic("nobody", "x"), "appName=PizzaApp&appOwner=dev", http.StatusUnauthorized},
	} {
		if resp, raw := p.do(http.MethodGet, devPath+"/applications/export?"+c.query, c.auth, "", nil, c.want != http.StatusUnauthorized); resp.StatusCode != c.want {
			t.Errorf("export %s: %d %s, want %d", c.query, resp.StatusCode, raw, c.want)
		}
	}

	// Import into a fresh owner: the subscription follows; the consumer key
	// is mapped to dev's application already, so it is skipped.
	status, imported, rawBody := p.importZip("appOwner=eve&preserveOwner=false&skipSubscriptions=false&skipApplicationKeys=false&update=false",
		admin, yamlArchive, true)
	if status != http.StatusOK || imported["owner"] != "eve" || imported["name"] != "PizzaApp" || imported["subscriptionCount"].(float64) != 1 ||
		imported["throttlingPolicy"] != "10PerMin" {
		t.Fatalf("import: %d %s", status, rawBody)
	}
	eveApp := imported["applicationId"].(string)
	if km, _ := p.apim.Subscriptions().KeyMappingsOf(ctx, eveApp); len(km) != 0 {
		t.Errorf("a consumer key mapped to two applications: %v", km)
	}

	// Again without update: 409 in the APIM error shape, nothing changes.
	status, conflict, rawBody := p.importZip("appOwner=eve&preserveOwner=false&update=false", admin, yamlArchive, false)
	if status != http.StatusConflict || conflict["code"] == nil || conflict["message"] == nil {
		t.Errorf("duplicate import: %d %s", status, rawBody)
	}
	if n := len(p.apps("eve")); n != 1 {
		t.Errorf("eve has %d applications", n)
	}

	// update=true rewrites the application from the archive.
	changed := makeZip(t, map[string]string{"dev-PizzaApp/application.yaml": strings.Replace(string(doc), "description: orders",
		"description: new orders", 1), "dev-PizzaApp/application_meta.yaml": "name: PizzaApp\nowner: dev\n"})
	status, updated, rawBody := p.importZip("appOwner=eve&update=true", admin, changed, true)
	if status != http.StatusOK || updated["applicationId"] != eveApp {
		t.Fatalf("update import: %d %s", status, rawBody)
	}
	if a, _ := p.apim.Subscriptions().GetApplication(ctx, eveApp); a.Description != "new orders" || p.subCount(eveApp) != 1 {
		t.Errorf("updated application: %+v, %d subscriptions", a, p.subCount(eveApp))
	}

	// skipSubscriptions: the caller (admin) owns the copy, without subscriptions.
	status, skipped, rawBody := p.importZip("skipSubscriptions=true&skipApplicationKeys=true", admin, yamlArchive, true)
	if status != http.StatusOK || skipped["owner"] != "admin" || skipped["subscriptionCount"].(float64) != 0 {
		t.Errorf("skipSubscriptions import: %d %s", status, rawBody)
	}

	// preserveOwner by a non-admin for another user is refused.
	if status, _, rawBody := p.importZip("preserveOwner=true", eve, makeZip(t, map[string]string{"x/application.yaml": strings.Replace(string(doc),
		"name: PizzaApp", "name: Other", 1)}), false); status != http.StatusForbidden {
		t.Errorf("non-admin import for dev: %d %s", status, rawBody)
	}
	if n := len(p.apps("dev")); n != 1 {
		t.Errorf("dev has %d applications", n)
	}
}

// TestApplicationImportWSO2Archive imports an archive written as WSO2
// writes it: a subscription to an API missing here is skipped (207), and an
// existing OAuth client of the resident key manager is mapped by its
// consumer key.
func TestApplicationImportWSO2Archive(t *testing.T) {
	p := newPortal(t)
	p.publishAPI("Pizza")
	admin := basic("admin", "admin")
	// A resident OAuth client that no application holds yet.
	status, reg := p.json(http.MethodPost, "/client-registration/v0.17/register", admin, map[string]any{"clientName": "legacy_client",
		"grantType": "client_credentials", "owner": "admin"})
	if status != http.StatusOK && status != http.StatusCreated {
		t.Fatalf("register: %d %v", status, reg)
	}
	clientID := reg["clientId"].(string)
	doc := `type: application
version: v4.5.0
data:
  applicationInfo:
    applicationId: 6b1e0a36-1f5f-4c1b-8a55-0c8b3a1c0f11
    name: LegacyApp
    throttlingPolicy: Unlimited
    description: from WSO2
    tokenType: JWT
    status: APPROVED
    groups: []
    subscriptionCount: 2
    keys:
      - consumerKey: ` + clientID + `
        consumerSecret: c2VjcmV0
        keyManager: Resident Key Manager
        keyType: PRODUCTION
        supportedGrantTypes: [client_credentials]
    attributes: {}
    owner: olduser
    hashEnabled: false
  subscribedAPIs:
    - apiId: {providerName: admin, apiName: Pizza, version: 1.0.0}
      subscriber: {name: olduser}
      throttlingPolicy: Unlimited
    - apiId: {providerName: admin, apiName: Gone, version: 2.0.0}
      subscriber: {name: olduser}
      throttlingPolicy: Gold
`
	status, body, raw := p.importZip("appOwner=admin&preserveOwner=false", admin, makeZip(t, map[string]string{
		"olduser-LegacyApp/application.yaml": doc}), true)
	if status != http.StatusMultiStatus || body["count"].(float64) != 1 {
		t.Fatalf("import: %d %s", status, raw)
	}
	if s := body["list"].([]any)[0].(map[string]any); s["name"] != "Gone" || s["version"] != "2.0.0" {
		t.Errorf("skipped = %v", s)
	}
	apps := p.apps("admin")
	if len(apps) != 1 || apps[0].Name != "LegacyApp" || p.subCount(apps[0].UUID) != 1 {
		t.Fatalf("imported applications: %+v", apps)
	}
	km, _ := p.apim.Subscriptions().KeyMappingsOf(context.Background(), apps[0].UUID)
	if len(km) != 1 || km[0].ConsumerKey != clientID || km[0].Mode != subscription.ModeMapped {
		t.Errorf("key mappings = %+v", km)
	}
}

// TestApplicationImportBadInput: nothing is created from a bad archive.
func TestApplicationImportBadInput(t *testing.T) {
	p := newPortal(t)
	admin := basic("admin", "admin")
	good := "type: application\nversion: v4.5.0\ndata:\n  applicationInfo:\n    name: A\n    throttlingPolicy: Unlimited\n    owner: admin\n"
	for name, archive := range map[string][]byte{
		"not a zip":    []byte("this is not a zip"),
		"no document":  makeZip(t, map[string]string{"A/readme.txt": "hi"}),
		"bad yaml":     makeZip(t, map[string]string{"A/application.yaml": "type: [application\n"}),
		"wrong type":   makeZip(t, map[string]string{"A/application.yaml": strings.Replace(good, "type: application", "type: api", 1)}),
		"no name":      makeZip(t, map[string]string{"A/application.yaml": strings.Replace(good, "name: A", "name: ''", 1)}),
		"unknown tier": makeZip(t, map[string]string{"A/application.yaml": strings.Replace(good, "Unlimited", "NoSuchTier", 1)}),
		"data is text": makeZip(t, map[string]string{"A/application.json": `{"type":"application","data":"x"}`}),
	} {
		status, body, raw := p.importZip("appOwner=admin", admin, archive, true)
		if status != http.StatusBadRequest || body["code"] == nil || body["message"] == nil {
			t.Errorf("%s: %d %s", name, status, raw)
		}
	}
	resp, raw := p.do(http.MethodPost, devPath+"/applications/import", admin, "application/json", []byte(`{}`), true)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("no multipart: %d %s", resp.StatusCode, raw)
	}
	if apps := p.apps("admin"); len(apps) != 0 {
		t.Errorf("bad imports stored %d applications", len(apps))
	}
	// The good document imports, so the cases above failed for their defect.
	if status, _, raw := p.importZip("", admin, makeZip(t, map[string]string{"A/application.yaml": good}), true); status != http.StatusOK {
		t.Errorf("good import: %d %s", status, raw)
	}
}

func keysOf(m map[string][]byte) []string {
	out := []string{}
	for k := range m {
		out = append(out, k)
	}
	return out
}
