package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyway/keyway/test/harness"
)

// TestAPIKeyFlow: on one `keyway apim` process, an API secured with OAuth2
// and API keys is created, deployed and published, an application
// subscribes and generates an API key in the developer portal, the key
// calls the API through the gateway, and once revoked it is refused.
func TestAPIKeyFlow(t *testing.T) {
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
		fmt.Fprint(w, `{"forecast":"sunny"}`)
	}))
	defer backend.Close()

	P, D := apim+"/api/am/publisher/v4", apim+"/api/am/devportal/v3"
	admin := &harness.API{T: t, Client: client, User: "admin", Pass: "admin"}

	var api struct {
		ID string `json:"id"`
	}
	admin.Do("POST", P+"/apis", map[string]any{
		"name": "KeyWeather", "version": "1.0.0", "context": "/keyweather", "policies": []string{"Unlimited"},
		"securityScheme": []string{"oauth2", "api_key"},
		"operations":     []any{map[string]any{"target": "/today", "verb": "GET", "authType": "Application & Application User"}},
		"endpointConfig": map[string]any{"endpoint_type": "http", "production_endpoints": map[string]any{"url": backend.URL}},
	}, 201, &api)
	var rev struct {
		ID string `json:"id"`
	}
	admin.Do("POST", P+"/apis/"+api.ID+"/revisions", map[string]any{"description": "first"}, 201, &rev)
	admin.Do("POST", P+"/apis/"+api.ID+"/deploy-revision?revisionId="+rev.ID,
		[]map[string]any{{"name": "Default", "vhost": "localhost", "displayOnDevportal": true}}, 201, nil)
	admin.Do("POST", P+"/apis/change-lifecycle?action=Publish&apiId="+api.ID, nil, 200, nil)

	var app struct {
		ApplicationID string `json:"applicationId"`
	}
	admin.Do("POST", D+"/applications", map[string]any{"name": "KeyApp", "throttlingPolicy": "Unlimited"}, 201, &app)
	admin.Do("POST", D+"/subscriptions", map[string]any{"applicationId": app.ApplicationID, "apiId": api.ID, "throttlingPolicy": "Unlimited"}, 201, nil)
	var key struct {
		APIKey       string `json:"apikey"`
		ValidityTime int64  `json:"validityTime"`
	}
	admin.Do("POST", D+"/applications/"+app.ApplicationID+"/api-keys/PRODUCTION/generate", map[string]any{"validityPeriod": 3600}, 200, &key)
	if strings.Count(key.APIKey, ".") != 2 || key.ValidityTime != 3600 {
		t.Fatalf("generated key: %+v", key)
	}

	gw := fmt.Sprintf("http://localhost:%d/keyweather/1.0.0/today", 8280+off)
	call := func(apiKey string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", gw, nil)
		req.Header.Set("apikey", apiKey)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("gateway call: %v", err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, data
	}
	// The deployment reaches the gateway through an event; retry 404 while
	// it propagates.
	status, data := call(key.APIKey)
	for deadline := time.Now().Add(10 * time.Second); status == 404 && time.Now().Before(deadline); status, data = call(key.APIKey) {
		time.Sleep(100 * time.Millisecond)
	}
	if status != 200 || !strings.Contains(string(data), "sunny") {
		t.Fatalf("gateway call with API key: %d %s", status, data)
	}

	admin.Do("POST", D+"/applications/"+app.ApplicationID+"/api-keys/PRODUCTION/revoke", map[string]any{"apikey": key.APIKey}, 200, nil)
	status, data = call(key.APIKey)
	var fault struct {
		Fault struct {
			Code int `json:"code"`
		} `json:"fault"`
	}
	_ = json.Unmarshal(data, &fault)
	if status != 401 || fault.Fault.Code != 900901 {
		t.Fatalf("gateway call with revoked API key: %d %s", status, data)
	}
}
