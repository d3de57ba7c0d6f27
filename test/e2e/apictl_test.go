package e2e

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"github.com/keyway/keyway/test/harness"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// apictlScopes are the 19 scopes apictl asks for, verbatim and in order.
var apictlScopes = []string{
	"apim:app_import_export", "apim:api_import_export", "apim:api_product_import_export",
	"apim:app_manage", "apim:sub_manage", "apim:api_view", "apim:api_delete",
	"apim:app_owner_change", "apim:subscribe", "apim:api_publish", "apim:admin",
	"apim:policies_import_export", "apim:mcp_server_view", "apim:mcp_server_list_view",
	"apim:mcp_server_create", "apim:mcp_server_delete", "apim:mcp_server_publish",
	"apim:mcp_server_manage", "apim:mcp_server_import_export",
}

// apictlClient replays apictl's requests byte for byte where it matters: the
// go-resty user agent, tab-indented DCR bodies, unescaped user names and
// scopes joined by a literal '+'.
type apictlClient struct {
	t      *testing.T
	http   *http.Client
	apim   string
	user   string
	pass   string
	id     string
	secret string
}

func (c *apictlClient) send(req *http.Request) (int, []byte) {
	c.t.Helper()
	req.Header.Set("User-Agent", "go-resty/2.4.0 (https://github.com/go-resty/resty)")
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// register is `apictl login` (§3.2) or step 1 of `get keys`.
func (c *apictlClient) register(clientName string, withTokenScope bool) {
	c.t.Helper()
	body := "{\n\t\"clientName\": \"" + clientName + "\",\n\t\"callbackUrl\": \"www.google.lk\",\n\t\"grantType\": \"password refresh_token\",\n\t\"saasApp\": true,\n\t\"owner\": \"" + c.user + "\""
	if withTokenScope {
		body += ",\n\t\"tokenScope\": \"Production\""
	}
	body += "\n}"
	req, _ := http.NewRequest("POST", c.apim+"/client-registration/v0.17/register", strings.NewReader(body))
	req.SetBasicAuth(c.user, c.pass)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	status, data := c.send(req)
	if status != 200 && status != 201 {
		c.t.Fatalf("client registration: %d %s", status, data)
	}
	var out struct{ ClientID, ClientSecret string }
	if err := json.Unmarshal(data, &out); err != nil || out.ClientID == "" || out.ClientSecret == "" {
		c.t.Fatalf("client registration answer %s: %v", data, err)
	}
	c.id, c.secret = out.ClientID, out.ClientSecret
}

// token is the password grant apictl sends before every command (§3.3).
func (c *apictlClient) token() string {
	c.t.Helper()
	body := "grant_type=password&username=" + c.user + "&password=" + url.QueryEscape(c.pass) + "&scope=" + strings.Join(apictlScopes, "+")
	req, _ := http.NewRequest("POST", c.apim+"/oauth2/token", strings.NewReader(body))
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(c.id+":"+c.secret)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	status, data := c.send(req)
	if status != 200 {
		c.t.Fatalf("password grant: %d %s", status, data)
	}
	var out map[string]any
	_ = json.Unmarshal(data, &out)
	tok, _ := out["access_token"].(string)
	if tok == "" {
		c.t.Fatalf("password grant answer has no access_token: %s", data)
	}
	return tok
}

// rest sends one REST command with a fresh token, as apictl does.
func (c *apictlClient) rest(method, u string, body io.Reader, contentType string) (int, []byte) {
	c.t.Helper()
	req, _ := http.NewRequest(method, u, body)
	req.Header.Set("Authorization", "Bearer "+c.token())
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return c.send(req)
}

func (c *apictlClient) restJSON(method, u string, body any, want []int, out any) {
	c.t.Helper()
	var rdr io.Reader
	ct := ""
	if body != nil {
		b, _ := json.Marshal(body)
		rdr, ct = bytes.NewReader(b), "application/json"
	}
	status, data := c.rest(method, u, rdr, ct)
	ok := false
	for _, w := range want {
		ok = ok || status == w
	}
	if !ok {
		c.t.Fatalf("%s %s: status %d, want %v: %s", method, u, status, want, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			c.t.Fatalf("%s %s: decode %s: %v", method, u, data, err)
		}
	}
}

// projectZip builds an apictl API project as `apictl import api` uploads it.
func projectZip(t *testing.T, name, version, context, backend, status string) []byte {
	t.Helper()
	apiYAML := fmt.Sprintf(`type: api
version: v4.5.0
data:
  name: %s
  context: %s
  version: %s
  provider: admin
  lifeCycleStatus: %s
  type: HTTP
  transport:
    - http
    - https
  policies:
    - Unlimited
  visibility: PUBLIC
  endpointConfig:
    endpoint_type: http
    production_endpoints:
      url: %s
    sandbox_endpoints:
      url: %s
  endpointImplementationType: ENDPOINT
`, name, context, version, status, backend, backend)
	swagger := fmt.Sprintf(`openapi: 3.0.1
info:
  title: %s
  version: %s
paths:
  /menu:
    get:
      responses:
        "200":
          description: OK
`, name, version)
	envs := `type: deployment_environments
version: v4.5.0
data:
  - displayOnDevportal: true
    deploymentEnvironment: Default
    deploymentVhost: localhost
`
	meta := fmt.Sprintf("name: %s\nversion: %s\n", name, version)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	root := name + "-" + version + "/"
	for _, d := range []string{root, root + "Definitions/"} {
		if _, err := zw.Create(d); err != nil {
			t.Fatal(err)
		}
	}
	for path, text := range map[string]string{
		"api.yaml": apiYAML, "Definitions/swagger.yaml": swagger,
		"deployment_environments.yaml": envs, "api_meta.yaml": meta,
	} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: root + path, Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write([]byte(text))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func multipartFile(data []byte) (io.Reader, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "project-artifact001.zip")
	_, _ = fw.Write(data)
	_ = mw.Close()
	return &buf, mw.FormDataContentType()
}

type listEnvelope struct {
	Count int               `json:"count"`
	List  []json.RawMessage `json:"list"`
}

// TestApictlFlow replays apictl's request sequences against `keyway apim`:
// login, import api, get apis, change-status, get keys (all twelve steps), a
// gateway call, export api, revisions, undeploy and delete api.
func TestApictlFlow(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	dir := t.TempDir()
	ks, ksPath := harness.WriteKeystore(t, dir, "apim")
	off := harness.FreeOffset(t)
	conf := filepath.Join(dir, "apim.toml")
	harness.WriteFile(t, conf, harness.ServerBlock(off, ksPath, filepath.Join(dir, "trust.pem")))
	p := harness.Start(t, "keyway apim", "apim", "--config", conf, "--data-dir", filepath.Join(dir, "data"))
	client := harness.ClientTrusting(ks)
	apim := fmt.Sprintf("https://localhost:%d", 9443+off)
	harness.WaitReady(t, client, apim+"/health/ready", p)

	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"pizzas":["Margherita"]}`)
	}))
	defer backend.Close()

	P, D, A := apim+"/api/am/publisher/v4", apim+"/api/am/devportal/v3", apim+"/api/am/admin/v4"
	c := &apictlClient{t: t, http: client, apim: apim, user: "admin", pass: "admin"}

	// apictl login: DCR only.
	c.register("rest_api_import_export_admin", true)

	// import api: created, published (lifeCycleStatus) and deployed (deployment_environments.yaml).
	zipData := projectZip(t, "PizzaAPI", "1.0.0", "/pizza", backend.URL, "PUBLISHED")
	body, ct := multipartFile(zipData)
	if status, data := c.rest("POST", P+"/apis/import?preserveProvider=true&rotateRevision=false", body, ct); status != 200 && status != 201 {
		t.Fatalf("import api: %d %s", status, data)
	}
	// A second import without overwrite is a 409 in the APIM error shape.
	body, ct = multipartFile(zipData)
	status, data := c.rest("POST", P+"/apis/import?preserveProvider=true&rotateRevision=false", body, ct)
	if status != 409 || !strings.Contains(string(data), `"code"`) {
		t.Fatalf("duplicate import: %d %s", status, data)
	}

	// get apis.
	var apis struct {
		Count int `json:"count"`
		List  []struct {
			ID, Name, Version, Context, Provider string
			LifeCycleStatus                      string `json:"lifeCycleStatus"`
		} `json:"list"`
	}
	c.restJSON("GET", P+"/apis?limit=25", nil, []int{200}, &apis)
	if apis.Count != 1 || apis.List[0].Name != "PizzaAPI" || apis.List[0].LifeCycleStatus != "PUBLISHED" {
		t.Fatalf("get apis: %+v", apis)
	}
	apiID := apis.List[0].ID

	// Name lookup (§4.5).
	lookup := func() string {
		var res struct {
			Count int                   `json:"count"`
			List  []struct{ ID string } `json:"list"`
		}
		q := url.Values{"query": {`name:"PizzaAPI" version:"1.0.0"`}}
		c.restJSON("GET", P+"/search?"+q.Encode(), nil, []int{200, 201}, &res)
		if res.Count == 0 {
			t.Fatal("search found nothing")
		}
		return res.List[0].ID
	}
	if lookup() != apiID {
		t.Fatal("search answered another id")
	}

	// change-status api -a "Deploy as a Prototype" then Publish again: 200 only.
	for _, action := range []string{"Deploy as a Prototype", "Publish"} {
		q := url.Values{"action": {action}, "apiId": {lookup()}}
		c.restJSON("POST", P+"/apis/change-lifecycle?"+q.Encode(), nil, []int{200}, nil)
	}
	// An illegal transition (Retire from Published) is refused and changes nothing.
	q := url.Values{"action": {"Retire"}, "apiId": {apiID}}
	if status, _ := c.rest("POST", P+"/apis/change-lifecycle?"+q.Encode(), nil, "application/json"); status < 400 || status >= 500 {
		t.Fatalf("illegal lifecycle transition answered %d", status)
	}

	// get keys: the twelve steps (§6).
	c.register("rest_api_devportal_admin", false) // 1 (2 happens in every rest call)
	apiID = lookup()                              // 3
	var apiDTO struct {
		Policies []string `json:"policies"`
	}
	c.restJSON("GET", P+"/apis/"+apiID, nil, []int{200}, &apiDTO) // 4
	if len(apiDTO.Policies) == 0 {
		t.Fatal("API has no policies: apictl would crash")
	}
	var appPolicies struct {
		Count int                     `json:"count"`
		List  []struct{ Name string } `json:"list"`
	}
	c.restJSON("GET", D+"/throttling-policies/application", nil, []int{200}, &appPolicies) // 5
	if appPolicies.Count == 0 {
		t.Fatal("no application policies")
	}
	var apps struct {
		Count int `json:"count"`
		List  []struct {
			ApplicationID string `json:"applicationId"`
		} `json:"list"`
	}
	c.restJSON("GET", D+"/applications?query=default-apictl-app", nil, []int{200}, &apps) // 6
	if apps.Count != 0 {
		t.Fatalf("fresh server already has default-apictl-app: %+v", apps)
	}
	var app struct {
		ApplicationID string `json:"applicationId"`
		Name          string `json:"name"`
	}
	c.restJSON("POST", D+"/applications", map[string]any{"name": "default-apictl-app", "throttlingPolicy": appPolicies.List[0].Name,
		"description": "Default application for apictl testing purposes", "tokenType": "JWT"}, []int{200, 201}, &app) // 7
	lookup() // 8
	var subs listEnvelope
	c.restJSON("GET", D+"/subscriptions?apiId="+apiID, nil, []int{200}, &subs)
	c.restJSON("POST", D+"/subscriptions", map[string]any{"applicationId": app.ApplicationID, "apiId": apiID, "throttlingPolicy": apiDTO.Policies[0]}, []int{200, 201}, nil) // 9
	var appDetail struct {
		SubscriptionScopes []struct{ Key string } `json:"subscriptionScopes"`
	}
	c.restJSON("GET", D+"/applications/"+app.ApplicationID, nil, []int{200}, &appDetail) // 10
	var keys struct {
		ConsumerKey    string `json:"consumerKey"`
		ConsumerSecret string `json:"consumerSecret"`
		Token          struct {
			AccessToken string `json:"accessToken"`
		} `json:"token"`
	}
	c.restJSON("POST", D+"/applications/"+app.ApplicationID+"/generate-keys", map[string]any{"keyType": "PRODUCTION",
		"grantTypesToBeSupported": []string{"refresh_token", "password", "client_credentials"}, "validityTime": 3600}, []int{200}, &keys) // 11
	var scopeKeys []string
	for _, s := range appDetail.SubscriptionScopes {
		scopeKeys = append(scopeKeys, s.Key)
	}
	req, _ := http.NewRequest("POST", apim+"/oauth2/token", strings.NewReader("grant_type=client_credentials&scope="+url.QueryEscape(strings.Join(scopeKeys, " "))))
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(keys.ConsumerKey+":"+keys.ConsumerSecret)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	status, data = c.send(req) // 12
	if status != 200 && status != 201 {
		t.Fatalf("get keys step 12: %d %s", status, data)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal(data, &tok)

	// The printed token calls the API through the gateway (retrying 404 while
	// the deployment propagates, as apictl's tests do).
	gw := fmt.Sprintf("http://localhost:%d/pizza/1.0.0/menu", 8280+off)
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, _ := http.NewRequest("GET", gw, nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		status, data = c.send(req)
		if status != 404 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if status != 200 || !strings.Contains(string(data), "Margherita") {
		req, _ := http.NewRequest("GET", apim+"/internal/data/v1/runtime-snapshot", nil)
		req.SetBasicAuth("admin", "admin")
		_, snap := c.send(req)
		t.Fatalf("gateway call with get keys token: %d %s\nruntime snapshot: %s", status, data, snap)
	}

	// export api: a zip with api.yaml and Definitions/swagger.yaml under one folder.
	ex := url.Values{"name": {"PizzaAPI"}, "version": {"1.0.0"}, "providerName": {""}, "preserveStatus": {"true"}, "preserveCredentials": {"false"}, "format": {"YAML"}}
	req, _ = http.NewRequest("GET", P+"/apis/export?"+ex.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+c.token())
	req.Header.Set("Accept", "application/zip")
	status, data = c.send(req)
	if status != 200 {
		t.Fatalf("export api: %d %s", status, data)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("export is not a zip: %v", err)
	}
	files := map[string]bool{}
	for _, f := range zr.File {
		parts := strings.SplitN(f.Name, "/", 2)
		if len(parts) == 2 {
			files[parts[1]] = true
		}
	}
	if !files["api.yaml"] || !files["Definitions/swagger.yaml"] {
		t.Fatalf("export zip lacks api.yaml or Definitions/swagger.yaml: %v", files)
	}

	// get api-revisions: displayName "Revision N".
	var revs struct {
		Count int `json:"count"`
		List  []struct {
			ID             string `json:"id"`
			DisplayName    string `json:"displayName"`
			DeploymentInfo []struct {
				Name string `json:"name"`
			} `json:"deploymentInfo"`
		} `json:"list"`
	}
	c.restJSON("GET", P+"/apis/"+lookup()+"/revisions", nil, []int{200}, &revs)
	if revs.Count == 0 || !strings.HasPrefix(revs.List[0].DisplayName, "Revision ") {
		t.Fatalf("revisions: %+v", revs)
	}
	num := strings.TrimPrefix(revs.List[0].DisplayName, "Revision ")

	// undeploy api: 201 only.
	ud, _ := json.Marshal([]map[string]any{{"name": "Default", "displayOnDevportal": true}})
	status, data = c.rest("POST", P+"/apis/"+apiID+"/undeploy-revision?revisionNumber="+num, bytes.NewReader(ud), "application/json")
	if status != 201 {
		t.Fatalf("undeploy: %d %s", status, data)
	}

	// get apps through the admin API.
	var adminApps listEnvelope
	c.restJSON("GET", A+"/applications?limit=25", nil, []int{200}, &adminApps)
	if adminApps.Count == 0 {
		t.Fatal("admin applications list is empty")
	}

	// delete app (apictl: admin lookup by user and name, then delete), so that
	// the API has no active subscription left.
	var found struct {
		Count int `json:"count"`
		List  []struct {
			ApplicationID string `json:"applicationId"`
		} `json:"list"`
	}
	c.restJSON("GET", A+"/applications?user=admin&name=default-apictl-app", nil, []int{200}, &found)
	if found.Count != 1 {
		t.Fatalf("admin application lookup: %+v", found)
	}
	if status, data := c.rest("DELETE", A+"/applications/"+found.List[0].ApplicationID, nil, ""); status != 200 && status != 204 {
		t.Fatalf("delete app: %d %s", status, data)
	}

	// delete api: 200 or 204, then the search finds nothing.
	status, data = c.rest("DELETE", P+"/apis/"+apiID, nil, "")
	if status != 200 && status != 204 {
		t.Fatalf("delete api: %d %s", status, data)
	}
	var after struct {
		Count int `json:"count"`
	}
	q = url.Values{"query": {`name:"PizzaAPI" version:"1.0.0"`}}
	c.restJSON("GET", P+"/search?"+q.Encode(), nil, []int{200}, &after)
	if after.Count != 0 {
		t.Fatal("deleted API still found")
	}
}
