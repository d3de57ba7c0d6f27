package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyway/keyway/internal/quickstart"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// seedISBlock is the IS deployment.toml block from the seed, verbatim apart
// from the notify endpoint's host and port.
const seedISBlock = `[oauth]
authorize_all_scopes = true
[[resource.access_control]]
context="(.*)/scim2/Me"
secure=true
http_method="GET"
cross_tenant=true
permissions=[]
scopes=[]
[[event_listener]]
id = "token_revocation"
type = "org.wso2.carbon.identity.core.handler.AbstractIdentityHandler"
name = "org.wso2.is.notification.ApimOauthEventInterceptor"
order = 1
[event_listener.properties]
notification_endpoint = "https://<APIM_HOST>:<APIM_PORT>/internal/data/v1/notify"
username = "${admin.username}"
password = "${admin.password}"
'header.X-WSO2-KEY-MANAGER' = "WSO2-IS"
`

func serverBlock(offset int, keystorePath, truststorePath string) string {
	return fmt.Sprintf(`[server]
hostname = "localhost"
offset = %d

[keystore.primary]
file_name = %q
type = "PEM"

[keystore.tls]
file_name = %q
type = "PEM"

[truststore]
file_name = %q
type = "PEM"

`, offset, keystorePath, keystorePath, truststorePath)
}

// TestPattern6TwoProcesses is the seed's deployment: an Identity Server and an
// API Manager as two processes, each trusting the other's certificate, the
// Identity Server registered as key manager WSO2IS7 with the seed's values.
func TestPattern6TwoProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	bin := keywayBinary(t)
	dir := t.TempDir()
	isKS, isKSPath := writeKeystore(t, dir, "is")
	apimKS, apimKSPath := writeKeystore(t, dir, "apim")

	// The seed's certificate exchange, with keyway's own truststore tool.
	isTrust := filepath.Join(dir, "is-truststore.pem")
	apimTrust := filepath.Join(dir, "apim-truststore.pem")
	for _, step := range []struct {
		alias, cert, store string
		ks                 interface{ CertificatePEM() []byte }
	}{
		{"apim", filepath.Join(dir, "apim.crt"), isTrust, apimKS},
		{"wso2is", filepath.Join(dir, "is.crt"), apimTrust, isKS},
	} {
		if err := os.WriteFile(step.cert, step.ks.CertificatePEM(), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "truststore", "import", "--alias", step.alias, "--cert", step.cert, "--truststore", step.store).CombinedOutput()
		if err != nil {
			t.Fatalf("truststore import: %v\n%s", err, out)
		}
	}

	isOff, apimOff := freeOffset(t), freeOffset(t)
	isURL := fmt.Sprintf("https://localhost:%d", 9443+isOff)
	apimURL := fmt.Sprintf("https://localhost:%d", 9443+apimOff)
	gwURL := fmt.Sprintf("https://localhost:%d", 8243+apimOff)

	isBlock := strings.ReplaceAll(seedISBlock, "<APIM_HOST>:<APIM_PORT>", fmt.Sprintf("localhost:%d", 9443+apimOff))
	isConf := filepath.Join(dir, "is.toml")
	apimConf := filepath.Join(dir, "apim.toml")
	writeFile(t, isConf, serverBlock(isOff, isKSPath, isTrust)+isBlock)
	writeFile(t, apimConf, serverBlock(apimOff, apimKSPath, apimTrust))

	isProc := startKeyway(t, "keyway is", "is", "--config", isConf, "--data-dir", filepath.Join(dir, "is-data"))
	apimArgs := []string{"apim", "--config", apimConf, "--data-dir", filepath.Join(dir, "apim-data")}
	apimProc := startKeyway(t, "keyway apim", apimArgs...)

	client := clientTrusting(isKS, apimKS)
	waitReady(t, client, isURL+"/health/ready", isProc)
	waitReady(t, client, apimURL+"/health/ready", apimProc)

	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"path":%q}`, r.URL.Path)
	}))
	defer backend.Close()

	admin := &api{t: t, client: client, user: "admin", pass: "admin"}

	// The key manager, through the admin REST API, with the seed's table values.
	var km struct{ ID string }
	admin.do("POST", apimURL+"/api/am/admin/v4/key-managers", quickstart.KeyManagerBody(isURL, "admin", "admin"), 201, &km)

	// An API with a scoped resource, deployed and published.
	pub := apimURL + "/api/am/publisher/v4"
	apiBody := map[string]any{
		"name": "PizzaE2E", "version": "1.0.0", "context": "/pizzae2e",
		"policies":       []string{"Unlimited"},
		"securityScheme": []string{"oauth2"},
		"keyManagers":    []string{"all"},
		"endpointConfig": map[string]any{
			"endpoint_type":        "http",
			"production_endpoints": map[string]any{"url": backend.URL},
			"sandbox_endpoints":    map[string]any{"url": backend.URL},
		},
		"scopes": []map[string]any{
			{"scope": map[string]any{"name": "pizza_read", "displayName": "pizza_read", "description": "Read the menu", "bindings": []string{}}, "shared": false},
			{"scope": map[string]any{"name": "pizza_admin", "displayName": "pizza_admin", "description": "Run the shop", "bindings": []string{}}, "shared": false},
		},
		"operations": []map[string]any{
			{"target": "/menu", "verb": "GET", "authType": "Application & Application User", "throttlingPolicy": "Unlimited", "scopes": []string{"pizza_read"}},
			{"target": "/admin", "verb": "GET", "authType": "Application & Application User", "throttlingPolicy": "Unlimited", "scopes": []string{"pizza_admin"}},
		},
	}
	var created struct{ ID string }
	admin.do("POST", pub+"/apis", apiBody, 201, &created)
	var rev struct{ ID string }
	admin.do("POST", pub+"/apis/"+created.ID+"/revisions", map[string]any{"description": "e2e"}, 201, &rev)
	admin.do("POST", pub+"/apis/"+created.ID+"/deploy-revision?revisionId="+rev.ID,
		[]map[string]any{{"name": "Default", "vhost": "localhost", "displayOnDevportal": true}}, 201, nil)
	admin.do("POST", pub+"/apis/change-lifecycle?action=Publish&apiId="+created.ID, nil, 200, nil)

	// Publishing created the API's scopes in the Identity Server's API resource.
	var resources struct {
		APIResources []struct{ ID string } `json:"apiResources"`
	}
	admin.do("GET", isURL+"/api/server/v1/api-resources?filter="+url.QueryEscape("identifier eq User-defined-oauth2-resource"), nil, 200, &resources)
	if len(resources.APIResources) != 1 {
		t.Fatalf("IS API resource for APIM scopes: %+v", resources)
	}
	scopesJSON := string(admin.do("GET", isURL+"/api/server/v1/api-resources/"+resources.APIResources[0].ID+"/scopes", nil, 200, nil))
	for _, s := range []string{"pizza_read", "pizza_admin"} {
		if !strings.Contains(scopesJSON, `"`+s+`"`) {
			t.Errorf("scope %s not in IS: %s", s, scopesJSON)
		}
	}

	// An application, subscribed, with keys from WSO2IS7.
	dev := apimURL + "/api/am/devportal/v3"
	var app struct {
		ApplicationID string `json:"applicationId"`
	}
	admin.do("POST", dev+"/applications", map[string]any{"name": "E2EApp", "throttlingPolicy": "Unlimited", "tokenType": "JWT"}, 201, &app)
	admin.do("POST", dev+"/subscriptions", map[string]any{"applicationId": app.ApplicationID, "apiId": created.ID, "throttlingPolicy": "Unlimited"}, 201, nil)
	var keys struct {
		ConsumerKey    string `json:"consumerKey"`
		ConsumerSecret string `json:"consumerSecret"`
	}
	admin.do("POST", dev+"/applications/"+app.ApplicationID+"/generate-keys", map[string]any{
		"keyType": "PRODUCTION", "keyManager": "WSO2IS7",
		"grantTypesToBeSupported": []string{"client_credentials", "refresh_token", "password"},
		"callbackUrl":             "", "scopes": []string{"default"}, "validityTime": 3600,
	}, 200, &keys)
	// The OAuth client now exists in the Identity Server.
	admin.do("GET", isURL+"/api/identity/oauth2/dcr/v1.1/register/"+keys.ConsumerKey, nil, 200, nil)

	token := func(scope string) string {
		t.Helper()
		cc := clientcredentials.Config{ClientID: keys.ConsumerKey, ClientSecret: keys.ConsumerSecret, TokenURL: isURL + "/oauth2/token", Scopes: []string{scope}}
		tok, err := cc.Token(context.WithValue(context.Background(), oauth2.HTTPClient, client))
		if err != nil {
			t.Fatalf("token from IS: %v", err)
		}
		return tok.AccessToken
	}
	call := func(tok, path string) (int, string) {
		c := &api{t: t, client: client, bearer: tok}
		status, body := c.raw("GET", gwURL+"/pizzae2e/1.0.0"+path, nil)
		return status, string(body)
	}

	tok := token("pizza_read")
	if status, body := call(tok, "/menu"); status != 200 || !strings.Contains(body, "/menu") {
		t.Fatalf("gateway call with scope: %d %s", status, body)
	}
	if status, body := call(tok, "/admin"); status != 403 || !strings.Contains(body, "900910") {
		t.Fatalf("gateway call without scope: %d %s, want 403 900910", status, body)
	}

	revoke := func(tok string) {
		t.Helper()
		form := url.Values{"token": {tok}}
		req, _ := http.NewRequest("POST", isURL+"/oauth2/revoke", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(keys.ConsumerKey, keys.ConsumerSecret)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("revoke at IS: %d", resp.StatusCode)
		}
	}
	waitRejected := func(tok string, within time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		for time.Since(start) < within {
			if status, _ := call(tok, "/menu"); status == 401 {
				return time.Since(start)
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("revoked token still accepted after %v", within)
		return 0
	}

	revoke(tok)
	took := waitRejected(tok, 15*time.Second)
	t.Logf("revocation reached the gateway in %v", took)

	// A revocation while the API Manager is down is retried, not lost.
	tok2 := token("pizza_read")
	if status, body := call(tok2, "/menu"); status != 200 {
		t.Fatalf("second token: %d %s", status, body)
	}
	apimProc.stop()
	revoke(tok2)
	apimProc.start()
	waitReady(t, client, apimURL+"/health/ready", apimProc)
	took = waitRejected(tok2, 90*time.Second)
	t.Logf("revocation made while the API Manager was down arrived %v after it came back", took)
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}
