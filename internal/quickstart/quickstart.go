// Package quickstart makes `keyway up` a working Pattern 6 deployment in one
// command: it registers the Identity Server as the WSO2IS7 key manager with
// the seed's table of endpoints, publishes and deploys a sample API served by
// a built-in backend, creates a subscribed application with keys from the
// Identity Server, and prints two commands that get a token and call the API.
//
// It drives the same public REST APIs an operator would (admin v4, publisher
// v4, devportal v3) so that the quick start exercises the product as used,
// and every step is idempotent: a restart finds what is already there.
package quickstart

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

//go:embed pizzashack.yaml
var pizzaShackOpenAPI []byte

// Names of what the quick start creates.
const (
	KeyManagerName = "WSO2IS7"
	APIName        = "PizzaShackAPI"
	APIVersion     = "1.0.0"
	APIContext     = "/pizzashack"
	AppName        = "KeywaySampleApp"
)

// Options say where the servers are.
type Options struct {
	// APIMURL is the API Manager's management URL (https://localhost:9443).
	APIMURL string
	// GatewayURL is the gateway's HTTPS URL (https://localhost:8243).
	GatewayURL string
	// ISURL is the Identity Server's URL (https://localhost:9444).
	ISURL string
	// Username and Password are the super admin's, on both servers.
	Username, Password string
	// Client trusts both servers' certificates.
	Client *http.Client
	// BackendURL is the sample backend's base URL (http://127.0.0.1:8290/pizzashack).
	BackendURL string
	// StateFile keeps the sample application's keys across restarts (0600).
	StateFile string
	// ISCACert and APIMCACert are the PEM files curl should trust, for the
	// printed commands.
	ISCACert, APIMCACert string
	Logger               *slog.Logger
}

// Result is what the quick start set up.
type Result struct {
	KeyManagerID   string `json:"keyManagerId"`
	APIID          string `json:"apiId"`
	ApplicationID  string `json:"applicationId"`
	ConsumerKey    string `json:"consumerKey"`
	ConsumerSecret string `json:"consumerSecret"`
}

// TokenCommand is a shell command that gets a token from the Identity Server
// into $TOKEN.
func (r *Result) TokenCommand(o Options) string {
	return fmt.Sprintf(`TOKEN=$(curl -s --cacert %s -u '%s:%s' -d 'grant_type=client_credentials' %s/oauth2/token | sed -E 's/.*"access_token":"([^"]+)".*/\1/')`,
		shellQuote(o.ISCACert), r.ConsumerKey, r.ConsumerSecret, o.ISURL)
}

// CallCommand is a shell command that calls the sample API through the gateway.
func (r *Result) CallCommand(o Options) string {
	return fmt.Sprintf(`curl -s --cacert %s -H "Authorization: Bearer $TOKEN" %s%s/%s/menu`,
		shellQuote(o.APIMCACert), o.GatewayURL, APIContext, APIVersion)
}

func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " '\"$`\\") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Ensure makes the quick-start deployment exist, creating only what is missing.
func Ensure(ctx context.Context, o Options) (*Result, error) {
	c := &client{o: o}
	res := &Result{}
	if data, err := os.ReadFile(o.StateFile); err == nil {
		_ = json.Unmarshal(data, res)
	}
	var err error
	if res.KeyManagerID, err = c.ensureKeyManager(ctx); err != nil {
		return nil, fmt.Errorf("register the Identity Server as key manager %s: %w", KeyManagerName, err)
	}
	if res.APIID, err = c.ensureAPI(ctx); err != nil {
		return nil, fmt.Errorf("publish the sample API: %w", err)
	}
	if res.ApplicationID, err = c.ensureApplication(ctx); err != nil {
		return nil, fmt.Errorf("create the sample application: %w", err)
	}
	if err := c.ensureSubscription(ctx, res.ApplicationID, res.APIID); err != nil {
		return nil, fmt.Errorf("subscribe the sample application: %w", err)
	}
	if res.ConsumerKey == "" || res.ConsumerSecret == "" || !c.hasKeys(ctx, res.ApplicationID, res.ConsumerKey) {
		if res.ConsumerKey, res.ConsumerSecret, err = c.generateKeys(ctx, res.ApplicationID); err != nil {
			return nil, fmt.Errorf("generate keys for the sample application at %s: %w", KeyManagerName, err)
		}
	}
	data, _ := json.MarshalIndent(res, "", "  ")
	if err := os.MkdirAll(filepath.Dir(o.StateFile), 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(o.StateFile, data, 0o600); err != nil {
		return nil, fmt.Errorf("save quick-start state: %w", err)
	}
	return res, nil
}

// KeyManagerBody is the admin v4 KeyManager DTO with the seed's table of
// values for an Identity Server at isURL.
func KeyManagerBody(isURL, username, password string) map[string]any {
	return map[string]any{
		"name":                       KeyManagerName,
		"displayName":                "WSO2 Identity Server 7",
		"type":                       "WSO2-IS-7",
		"description":                "Keyway Identity Server registered by keyway up",
		"wellKnownEndpoint":          isURL + "/oauth2/token/.well-known/openid-configuration",
		"issuer":                     isURL + "/oauth2/token",
		"clientRegistrationEndpoint": isURL + "/api/identity/oauth2/dcr/v1.1/register",
		"introspectionEndpoint":      isURL + "/oauth2/introspect",
		"tokenEndpoint":              isURL + "/oauth2/token",
		"displayTokenEndpoint":       isURL + "/oauth2/token",
		"revokeEndpoint":             isURL + "/oauth2/revoke",
		"displayRevokeEndpoint":      isURL + "/oauth2/revoke",
		"userInfoEndpoint":           isURL + "/scim2/Me",
		"authorizeEndpoint":          isURL + "/oauth2/authorize",
		"scopeManagementEndpoint":    isURL + "/api/identity/oauth2/v1.0/scopes",
		"certificates":               map[string]any{"type": "JWKS", "value": isURL + "/oauth2/jwks"},
		"availableGrantTypes":        []string{"refresh_token", "password", "client_credentials", "authorization_code", "device_code", "urn:ietf:params:oauth:grant-type:token-exchange", "urn:ietf:params:oauth:grant-type:jwt-bearer"},
		"enableTokenGeneration":      true,
		"enableMapOAuthConsumerApps": true,
		"enableOAuthAppCreation":     true,
		"enableSelfValidationJWT":    true,
		"consumerKeyClaim":           "azp",
		"scopesClaim":                "scope",
		"enabled":                    true,
		"tokenType":                  "DIRECT",
		"additionalProperties": map[string]any{
			"Username":                         username,
			"Password":                         password,
			"api_resource_management_endpoint": isURL + "/api/server/v1/api-resources",
			"is7_roles_endpoint":               isURL + "/scim2/v2/Roles",
			"enable_roles_creation":            false,
		},
	}
}

type client struct{ o Options }

// call sends a JSON (or prepared) request with Basic admin credentials and
// decodes a JSON answer into out. It fails on any status outside want.
func (c *client) call(ctx context.Context, method, rawURL string, body any, contentType string, out any, want ...int) error {
	var rdr io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rdr = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return err
		}
		rdr = bytes.NewReader(data)
		contentType = "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, rdr)
	if err != nil {
		return err
	}
	req.SetBasicAuth(c.o.Username, c.o.Password)
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.o.Client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, rawURL, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	ok := false
	for _, w := range want {
		ok = ok || resp.StatusCode == w
	}
	if !ok {
		return fmt.Errorf("%s %s: status %d: %s", method, rawURL, resp.StatusCode, strings.TrimSpace(string(data)))
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, rawURL, err)
		}
	}
	return nil
}

type listOf[T any] struct {
	Count int `json:"count"`
	List  []T `json:"list"`
}

func (c *client) ensureKeyManager(ctx context.Context) (string, error) {
	base := c.o.APIMURL + "/api/am/admin/v4/key-managers"
	var list listOf[struct{ ID, Name string }]
	if err := c.call(ctx, "GET", base, nil, "", &list, 200); err != nil {
		return "", err
	}
	for _, km := range list.List {
		if km.Name == KeyManagerName {
			return km.ID, nil
		}
	}
	var created struct{ ID string }
	if err := c.call(ctx, "POST", base, KeyManagerBody(c.o.ISURL, c.o.Username, c.o.Password), "", &created, 201); err != nil {
		return "", err
	}
	return created.ID, nil
}

type apiInfo struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	Version         string `json:"version"`
	LifeCycleStatus string `json:"lifeCycleStatus"`
}

func (c *client) ensureAPI(ctx context.Context) (string, error) {
	pub := c.o.APIMURL + "/api/am/publisher/v4"
	var list listOf[apiInfo]
	q := url.Values{"query": {fmt.Sprintf(`name:"%s" version:"%s"`, APIName, APIVersion)}}
	if err := c.call(ctx, "GET", pub+"/search?"+q.Encode(), nil, "", &list, 200); err != nil {
		return "", err
	}
	var api *apiInfo
	for i := range list.List {
		if list.List[i].Name == APIName && list.List[i].Version == APIVersion {
			api = &list.List[i]
		}
	}
	if api == nil {
		created, err := c.importOpenAPI(ctx, pub)
		if err != nil {
			return "", err
		}
		api = created
	}
	var deployments listOf[struct {
		Name string `json:"name"`
	}]
	if err := c.call(ctx, "GET", pub+"/apis/"+api.ID+"/deployments", nil, "", &deployments, 200); err != nil {
		return "", err
	}
	if len(deployments.List) == 0 {
		var rev struct{ ID string }
		if err := c.call(ctx, "POST", pub+"/apis/"+api.ID+"/revisions", map[string]any{"description": "Deployed by keyway up"}, "", &rev, 201); err != nil {
			return "", err
		}
		body := []map[string]any{{"name": "Default", "vhost": "localhost", "displayOnDevportal": true}}
		if err := c.call(ctx, "POST", pub+"/apis/"+api.ID+"/deploy-revision?revisionId="+url.QueryEscape(rev.ID), body, "", nil, 200, 201); err != nil {
			return "", err
		}
	}
	if !strings.EqualFold(api.LifeCycleStatus, "PUBLISHED") {
		q := url.Values{"action": {"Publish"}, "apiId": {api.ID}}
		if err := c.call(ctx, "POST", pub+"/apis/change-lifecycle?"+q.Encode(), nil, "", nil, 200); err != nil {
			return "", err
		}
	}
	return api.ID, nil
}

func (c *client) importOpenAPI(ctx context.Context, pub string) (*apiInfo, error) {
	props := map[string]any{
		"name":        APIName,
		"version":     APIVersion,
		"context":     APIContext,
		"description": "Sample API published by keyway up: a pizza shop served by Keyway's built-in backend.",
		"policies":    []string{"Unlimited", "Gold", "Bronze"},
		"keyManagers": []string{"all"},
		"endpointConfig": map[string]any{
			"endpoint_type":        "http",
			"production_endpoints": map[string]any{"url": c.o.BackendURL},
			"sandbox_endpoints":    map[string]any{"url": c.o.BackendURL},
		},
		"securityScheme":   []string{"oauth2"},
		"isDefaultVersion": true,
	}
	propsJSON, _ := json.Marshal(props)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("file", "pizzashack.yaml")
	if err != nil {
		return nil, err
	}
	_, _ = fw.Write(pizzaShackOpenAPI)
	_ = mw.WriteField("additionalProperties", string(propsJSON))
	_ = mw.Close()
	var api apiInfo
	if err := c.call(ctx, "POST", pub+"/apis/import-openapi", buf.Bytes(), mw.FormDataContentType(), &api, 201); err != nil {
		return nil, err
	}
	return &api, nil
}

func (c *client) ensureApplication(ctx context.Context) (string, error) {
	dev := c.o.APIMURL + "/api/am/devportal/v3/applications"
	var list listOf[struct {
		ApplicationID string `json:"applicationId"`
		Name          string `json:"name"`
	}]
	if err := c.call(ctx, "GET", dev+"?query="+url.QueryEscape(AppName), nil, "", &list, 200); err != nil {
		return "", err
	}
	for _, a := range list.List {
		if a.Name == AppName {
			return a.ApplicationID, nil
		}
	}
	var created struct {
		ApplicationID string `json:"applicationId"`
	}
	body := map[string]any{"name": AppName, "throttlingPolicy": "Unlimited", "description": "Sample application created by keyway up", "tokenType": "JWT"}
	if err := c.call(ctx, "POST", dev, body, "", &created, 201); err != nil {
		return "", err
	}
	return created.ApplicationID, nil
}

func (c *client) ensureSubscription(ctx context.Context, appID, apiID string) error {
	dev := c.o.APIMURL + "/api/am/devportal/v3/subscriptions"
	var list listOf[struct {
		APIID string `json:"apiId"`
	}]
	if err := c.call(ctx, "GET", dev+"?applicationId="+url.QueryEscape(appID), nil, "", &list, 200); err != nil {
		return err
	}
	for _, s := range list.List {
		if s.APIID == apiID {
			return nil
		}
	}
	body := map[string]any{"applicationId": appID, "apiId": apiID, "throttlingPolicy": "Gold"}
	return c.call(ctx, "POST", dev, body, "", nil, 201)
}

func (c *client) hasKeys(ctx context.Context, appID, consumerKey string) bool {
	var list listOf[struct {
		ConsumerKey string `json:"consumerKey"`
	}]
	if err := c.call(ctx, "GET", c.o.APIMURL+"/api/am/devportal/v3/applications/"+appID+"/oauth-keys", nil, "", &list, 200); err != nil {
		return false
	}
	for _, k := range list.List {
		if k.ConsumerKey == consumerKey {
			return true
		}
	}
	return false
}

func (c *client) generateKeys(ctx context.Context, appID string) (string, string, error) {
	body := map[string]any{
		"keyType":                 "PRODUCTION",
		"keyManager":              KeyManagerName,
		"grantTypesToBeSupported": []string{"client_credentials", "password", "refresh_token"},
		"callbackUrl":             "",
		"scopes":                  []string{"default"},
		"validityTime":            3600,
		"additionalProperties":    map[string]any{},
	}
	var key struct {
		ConsumerKey    string `json:"consumerKey"`
		ConsumerSecret string `json:"consumerSecret"`
	}
	if err := c.call(ctx, "POST", c.o.APIMURL+"/api/am/devportal/v3/applications/"+appID+"/generate-keys", body, "", &key, 200); err != nil {
		return "", "", err
	}
	if key.ConsumerKey == "" || key.ConsumerSecret == "" {
		return "", "", errors.New("the key manager returned no consumer key or secret")
	}
	return key.ConsumerKey, key.ConsumerSecret, nil
}

// WaitReady polls url until it answers 200 or ctx ends.
func WaitReady(ctx context.Context, client *http.Client, url string) error {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not become ready: %w", url, ctx.Err())
		case <-t.C:
		}
	}
}
