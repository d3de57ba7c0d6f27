package harness

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

	"github.com/keyway/keyway/internal/quickstart"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// SeedISBlock is the IS deployment.toml block from the seed, verbatim; only
// <APIM_HOST>:<APIM_PORT> is replaced when it is used.
const SeedISBlock = `[oauth]
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

// ServerBlock is the [server], keystore and truststore part of a
// deployment.toml for one role.
func ServerBlock(offset int, keystorePath, truststorePath string) string {
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

// Pattern6 is an Identity Server and an API Manager running as two processes,
// each trusting the other's certificate, with IS registered as key manager
// WSO2IS7, an API with scoped resources deployed and published, and an
// application subscribed with keys from IS.
type Pattern6 struct {
	t       testing.TB
	Dir     string
	IS      *Process
	APIM    *Process
	ISURL   string
	APIMURL string
	GWURL   string
	Client  *http.Client
	Admin   *API
	APIID   string
	AppID   string
	Key     string
	Secret  string
	Backend *httptest.Server
	// ISConfig and APIMConfig are the two servers' deployment.toml files.
	ISConfig, APIMConfig string
}

// WriteFile writes a test file.
func WriteFile(t testing.TB, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// NewPattern6 sets the deployment up as the seed describes.
func NewPattern6(t testing.TB) *Pattern6 {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	isKS, isKSPath := WriteKeystore(t, dir, "is")
	apimKS, apimKSPath := WriteKeystore(t, dir, "apim")

	// The seed's certificate exchange, with keyway's own truststore tool.
	isTrust := filepath.Join(dir, "is-truststore.pem")
	apimTrust := filepath.Join(dir, "apim-truststore.pem")
	for _, step := range []struct {
		alias, cert, store string
		pem                []byte
	}{
		{"apim", filepath.Join(dir, "apim.crt"), isTrust, apimKS.CertificatePEM()},
		{"wso2is", filepath.Join(dir, "is.crt"), apimTrust, isKS.CertificatePEM()},
	} {
		WriteFile(t, step.cert, string(step.pem))
		out, err := exec.Command(bin, "truststore", "import", "--alias", step.alias, "--cert", step.cert, "--truststore", step.store).CombinedOutput()
		if err != nil {
			t.Fatalf("truststore import: %v\n%s", err, out)
		}
	}

	isOff, apimOff := FreeOffset(t), FreeOffset(t)
	p := &Pattern6{t: t, Dir: dir,
		ISURL:   fmt.Sprintf("https://localhost:%d", 9443+isOff),
		APIMURL: fmt.Sprintf("https://localhost:%d", 9443+apimOff),
		GWURL:   fmt.Sprintf("https://localhost:%d", 8243+apimOff),
	}
	isBlock := strings.ReplaceAll(SeedISBlock, "<APIM_HOST>:<APIM_PORT>", fmt.Sprintf("localhost:%d", 9443+apimOff))
	isConf := filepath.Join(dir, "is.toml")
	apimConf := filepath.Join(dir, "apim.toml")
	WriteFile(t, isConf, ServerBlock(isOff, isKSPath, isTrust)+isBlock)
	WriteFile(t, apimConf, ServerBlock(apimOff, apimKSPath, apimTrust))
	p.ISConfig, p.APIMConfig = isConf, apimConf

	p.IS = Start(t, "keyway is", "is", "--config", isConf, "--data-dir", filepath.Join(dir, "is-data"))
	p.APIM = Start(t, "keyway apim", "apim", "--config", apimConf, "--data-dir", filepath.Join(dir, "apim-data"))
	p.Client = ClientTrusting(isKS, apimKS)
	WaitReady(t, p.Client, p.ISURL+"/health/ready", p.IS)
	WaitReady(t, p.Client, p.APIMURL+"/health/ready", p.APIM)

	p.Backend = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"path":%q}`, r.URL.Path)
	}))
	t.Cleanup(p.Backend.Close)
	p.Admin = &API{T: t, Client: p.Client, User: "admin", Pass: "admin"}

	// The key manager, through the admin REST API, with the seed's table values.
	p.Admin.Do("POST", p.APIMURL+"/api/am/admin/v4/key-managers", quickstart.KeyManagerBody(p.ISURL, "admin", "admin"), 201, nil)

	// An API with scoped resources, deployed and published.
	pub := p.APIMURL + "/api/am/publisher/v4"
	apiBody := map[string]any{
		"name": "PizzaE2E", "version": "1.0.0", "context": "/pizzae2e",
		"policies":       []string{"Unlimited"},
		"securityScheme": []string{"oauth2"},
		"keyManagers":    []string{"all"},
		"endpointConfig": map[string]any{
			"endpoint_type":        "http",
			"production_endpoints": map[string]any{"url": p.Backend.URL},
			"sandbox_endpoints":    map[string]any{"url": p.Backend.URL},
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
	p.Admin.Do("POST", pub+"/apis", apiBody, 201, &created)
	p.APIID = created.ID
	var rev struct{ ID string }
	p.Admin.Do("POST", pub+"/apis/"+created.ID+"/revisions", map[string]any{"description": "e2e"}, 201, &rev)
	p.Admin.Do("POST", pub+"/apis/"+created.ID+"/deploy-revision?revisionId="+rev.ID,
		[]map[string]any{{"name": "Default", "vhost": "localhost", "displayOnDevportal": true}}, 201, nil)
	p.Admin.Do("POST", pub+"/apis/change-lifecycle?action=Publish&apiId="+created.ID, nil, 200, nil)

	// An application, subscribed, with keys from WSO2IS7.
	dev := p.APIMURL + "/api/am/devportal/v3"
	var app struct {
		ApplicationID string `json:"applicationId"`
	}
	p.Admin.Do("POST", dev+"/applications", map[string]any{"name": "E2EApp", "throttlingPolicy": "Unlimited", "tokenType": "JWT"}, 201, &app)
	p.AppID = app.ApplicationID
	p.Admin.Do("POST", dev+"/subscriptions", map[string]any{"applicationId": app.ApplicationID, "apiId": created.ID, "throttlingPolicy": "Unlimited"}, 201, nil)
	var keys struct {
		ConsumerKey    string `json:"consumerKey"`
		ConsumerSecret string `json:"consumerSecret"`
	}
	p.Admin.Do("POST", dev+"/applications/"+app.ApplicationID+"/generate-keys", map[string]any{
		"keyType": "PRODUCTION", "keyManager": "WSO2IS7",
		"grantTypesToBeSupported": []string{"client_credentials", "refresh_token", "password"},
		"callbackUrl":             "", "scopes": []string{"default"}, "validityTime": 3600,
	}, 200, &keys)
	p.Key, p.Secret = keys.ConsumerKey, keys.ConsumerSecret
	return p
}

// Token gets a client_credentials token from the Identity Server.
func (p *Pattern6) Token(scope string) string {
	p.t.Helper()
	cc := clientcredentials.Config{ClientID: p.Key, ClientSecret: p.Secret, TokenURL: p.ISURL + "/oauth2/token", Scopes: []string{scope}}
	tok, err := cc.Token(context.WithValue(context.Background(), oauth2.HTTPClient, p.Client))
	if err != nil {
		p.t.Fatalf("token from IS: %v", err)
	}
	return tok.AccessToken
}

// Call sends GET /pizzae2e/1.0.0<path> through the gateway with a token.
func (p *Pattern6) Call(token, path string) (int, string) {
	c := &API{T: p.t, Client: p.Client, Bearer: token}
	status, body := c.Raw("GET", p.GWURL+"/pizzae2e/1.0.0"+path, nil)
	return status, string(body)
}

// Revoke revokes a token at the Identity Server as the client that owns it.
func (p *Pattern6) Revoke(token string) {
	p.t.Helper()
	form := url.Values{"token": {token}}
	req, _ := http.NewRequest("POST", p.ISURL+"/oauth2/revoke", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(p.Key, p.Secret)
	resp, err := p.Client.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		p.t.Fatalf("revoke at IS: %d", resp.StatusCode)
	}
}
