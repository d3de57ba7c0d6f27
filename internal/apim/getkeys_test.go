package apim

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/db/dbtest"
	"github.com/keyway/keyway/internal/events"
	"github.com/keyway/keyway/internal/oauth"
)

const (
	P = "/api/am/publisher/v4"
	D = "/api/am/devportal/v3"
	A = "/api/am/admin/v4"
)

var apictlScopes = []string{"apim:app_import_export", "apim:api_import_export", "apim:api_product_import_export", "apim:app_manage",
	"apim:sub_manage", "apim:api_view", "apim:api_delete", "apim:app_owner_change", "apim:subscribe", "apim:api_publish", "apim:admin",
	"apim:policies_import_export", "apim:mcp_server_view", "apim:mcp_server_list_view", "apim:mcp_server_create",
	"apim:mcp_server_delete", "apim:mcp_server_publish", "apim:mcp_server_manage", "apim:mcp_server_import_export"}

// publishAPI creates and publishes an API through the publisher API as the
// super admin (Basic credentials carry every scope of the admin role).
func (e *env) publishAPI(name string) string {
	e.t.Helper()
	admin := basicAuth("admin", "admin")
	status, api, raw := e.call(http.MethodPost, P+"/apis", admin, map[string]any{
		"name": name, "version": "1.0.0", "context": "/" + strings.ToLower(name), "policies": []string{"Gold", "Unlimited"},
		"scopes": []any{map[string]any{"scope": map[string]any{"name": "pizza:order", "displayName": "Order",
			"description": "Order pizza", "bindings": []string{"Internal/subscriber"}}, "shared": false}},
		"operations": []any{map[string]any{"target": "/menu", "verb": "GET", "authType": "Application & Application User",
			"scopes": []string{"pizza:order"}}},
		"endpointConfig": map[string]any{"endpoint_type": "http", "production_endpoints": map[string]any{"url": "https://backend.example/v1"}},
	}, "")
	if status != http.StatusCreated {
		e.t.Fatalf("create API: %d %s", status, raw)
	}
	id := api["id"].(string)
	status, _, raw = e.call(http.MethodPost, P+"/apis/change-lifecycle?action=Publish&apiId="+id, admin, nil, "")
	if status != http.StatusOK {
		e.t.Fatalf("publish: %d %s", status, raw)
	}
	return id
}

// login is apictl's DCR call and password grant (steps 1 and 2).
func (e *env) login(user, pass, clientName string) string {
	e.t.Helper()
	status, reg, raw := e.call(http.MethodPost, "/client-registration/v0.17/register", basicAuth(user, pass),
		"{\n\t\"clientName\": \""+clientName+"\",\n\t\"callbackUrl\": \"www.google.lk\",\n\t\"grantType\": \"password refresh_token\",\n\t\"saasApp\": true,\n\t\"owner\": \""+user+"\"\n}", "")
	if status != http.StatusOK && status != http.StatusCreated {
		e.t.Fatalf("register: %d %s", status, raw)
	}
	form := "grant_type=password&username=" + user + "&password=" + url.QueryEscape(pass) + "&scope=" + strings.Join(apictlScopes, "+")
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/oauth2/token", strings.NewReader(form))
	req.SetBasicAuth(reg["clientId"].(string), reg["clientSecret"].(string))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("password grant: %d", resp.StatusCode)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := jsonDecode(resp.Body, &tok); err != nil || tok.AccessToken == "" {
		e.t.Fatalf("token: %v", err)
	}
	return tok.AccessToken
}

// getKeys replays apictl's get keys (APICTL-FLOW.md §6) and returns the
// printed token and the application id.
func (e *env) getKeys(name string) (string, string) {
	t := e.t
	t.Helper()
	tok := bearer(e.login("admin", "admin", "rest_api_devportal_admin"))
	// 3. name lookup.
	_, found, raw := e.call(http.MethodGet, P+"/search?query="+url.QueryEscape(`name:"`+name+`" version:"1.0.0"`), tok, nil, "")
	if n, _ := found["count"].(float64); n == 0 {
		t.Fatalf("search: %s", raw)
	}
	apiID := found["list"].([]any)[0].(map[string]any)["id"].(string)
	// 4. the API's first policy is the subscription tier.
	_, api, _ := e.call(http.MethodGet, P+"/apis/"+apiID, tok, nil, "")
	tier := api["policies"].([]any)[0].(string)
	// 5. application tier.
	status, tiers, raw := e.call(http.MethodGet, D+"/throttling-policies/application", tok, nil, "devportal-api.yaml")
	if status != http.StatusOK || tiers["count"].(float64) == 0 {
		t.Fatalf("application tiers: %d %s", status, raw)
	}
	appTier := tiers["list"].([]any)[0].(map[string]any)["name"].(string)
	// 6. application lookup.
	status, apps, raw := e.call(http.MethodGet, D+"/applications?query=default-apictl-app", tok, nil, "devportal-api.yaml")
	if status != http.StatusOK {
		t.Fatalf("applications: %d %s", status, raw)
	}
	appID, existing := "", apps["count"].(float64) != 0
	if existing {
		appID = apps["list"].([]any)[0].(map[string]any)["applicationId"].(string)
	} else {
		// 7.
		status, app, raw := e.call(http.MethodPost, D+"/applications", tok, map[string]any{"name": "default-apictl-app",
			"throttlingPolicy": appTier, "description": "Default application for apictl testing purposes", "tokenType": "JWT"}, "devportal-api.yaml")
		if status != http.StatusCreated {
			t.Fatalf("create application: %d %s", status, raw)
		}
		appID = app["applicationId"].(string)
	}
	// 8. subscription lookup.
	status, subs, raw := e.call(http.MethodGet, D+"/subscriptions?apiId="+apiID, tok, nil, "devportal-api.yaml")
	if status != http.StatusOK {
		t.Fatalf("subscriptions: %d %s", status, raw)
	}
	subscribed := slices.ContainsFunc(subs["list"].([]any), func(s any) bool { return s.(map[string]any)["applicationId"] == appID })
	if !subscribed {
		// 9.
		status, sub, raw := e.call(http.MethodPost, D+"/subscriptions", tok, map[string]any{"applicationId": appID, "apiId": apiID,
			"throttlingPolicy": tier}, "devportal-api.yaml")
		if status != http.StatusCreated || sub["subscriptionId"] == "" {
			t.Fatalf("subscribe: %d %s", status, raw)
		}
	}
	// 10. subscription scopes.
	status, app, raw := e.call(http.MethodGet, D+"/applications/"+appID, tok, nil, "devportal-api.yaml")
	if status != http.StatusOK {
		t.Fatalf("application: %d %s", status, raw)
	}
	var scopes []string
	for _, s := range app["subscriptionScopes"].([]any) {
		scopes = append(scopes, s.(map[string]any)["key"].(string))
	}
	if !slices.Contains(scopes, "pizza:order") {
		t.Errorf("subscriptionScopes = %v", scopes)
	}
	// 11. keys.
	var ck, cs string
	if existing {
		status, keys, raw := e.call(http.MethodGet, D+"/applications/"+appID+"/keys", tok, nil, "devportal-api.yaml")
		if status != http.StatusOK || keys["count"].(float64) == 0 {
			t.Fatalf("keys: %d %s", status, raw)
		}
		k := keys["list"].([]any)[0].(map[string]any)
		ck, cs = k["consumerKey"].(string), k["consumerSecret"].(string)
	} else {
		status, k, raw := e.call(http.MethodPost, D+"/applications/"+appID+"/generate-keys", tok,
			`{"keyType":"PRODUCTION","grantTypesToBeSupported":["refresh_token","password","client_credentials"],"validityTime":3600}`,
			"devportal-api.yaml")
		if status != http.StatusOK {
			t.Fatalf("generate-keys: %d %s", status, raw)
		}
		ck, cs = k["consumerKey"].(string), k["consumerSecret"].(string)
		if tk, _ := k["token"].(map[string]any); tk == nil || tk["accessToken"] == "" {
			t.Errorf("generate-keys gave no token: %s", raw)
		}
	}
	// 12. client credentials at the token endpoint.
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/oauth2/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {strings.Join(scopes, " ")}}.Encode()))
	req.SetBasicAuth(ck, cs)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if resp.StatusCode != http.StatusOK || jsonDecode(resp.Body, &out) != nil || out.AccessToken == "" {
		t.Fatalf("client credentials: %d", resp.StatusCode)
	}
	return out.AccessToken, appID
}

func TestApictlGetKeys(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		apiID := e.publishAPI("PizzaShack")
		token, appID := e.getKeys("PizzaShack")
		ctx := context.Background()
		ti, err := e.apim.Resident().Engine().ValidateAccessToken(ctx, token)
		if err != nil || !ti.Active {
			t.Fatalf("printed token invalid: %v", err)
		}
		// A second run reuses the application, the subscription and the keys.
		token2, appID2 := e.getKeys("PizzaShack")
		if appID2 != appID || token2 == "" {
			t.Errorf("second run: app %s vs %s", appID2, appID)
		}
		subs, n, _ := e.apim.Subscriptions().ListSubscriptions(ctx, subscriptionQuery(appID))
		if n != 1 || subs[0].APIUUID != apiID || subs[0].Policy != "Gold" {
			t.Errorf("subscriptions = %+v", subs)
		}

		snap, err := e.apim.Source().Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(snap.Applications) != 1 || snap.Applications[0].UUID != appID || snap.Applications[0].Owner != "admin" {
			t.Errorf("snapshot applications = %+v", snap.Applications)
		}
		if len(snap.KeyMappings) != 1 || snap.KeyMappings[0].KeyManager != "Resident Key Manager" || snap.KeyMappings[0].ApplicationID != snap.Applications[0].ID {
			t.Errorf("snapshot key mappings = %+v", snap.KeyMappings)
		}
		if len(snap.Subscriptions) != 1 || snap.Subscriptions[0].Status != "UNBLOCKED" {
			t.Errorf("snapshot subscriptions = %+v", snap.Subscriptions)
		}
		if len(snap.KeyManagers) != 1 || snap.KeyManagers[0].Issuer != e.srv.URL+"/oauth2/token" || snap.KeyManagers[0].JWKSURL != e.srv.URL+"/oauth2/jwks" {
			t.Errorf("snapshot key managers = %+v", snap.KeyManagers)
		}
		if len(snap.SubscriptionPolicies) != 5 || len(snap.ApplicationPolicies) != 4 || len(snap.APIPolicies) != 4 {
			t.Errorf("snapshot policies = %d %d %d", len(snap.SubscriptionPolicies), len(snap.ApplicationPolicies), len(snap.APIPolicies))
		}
		var types []string
		for _, ev := range e.events {
			types = append(types, ev.Type)
		}
		for _, want := range []string{events.ApplicationChanged, events.SubscriptionChanged, events.KeyMappingChanged} {
			if !slices.Contains(types, want) {
				t.Errorf("no %s event in %v", want, types)
			}
		}

		// Deleting the application deletes its OAuth client at the key manager.
		ck := snap.KeyMappings[0].ConsumerKey
		tok := bearer(e.login("admin", "admin", "rest_api_devportal_admin"))
		if status, _, raw := e.call(http.MethodDelete, D+"/applications/"+appID, tok, nil, "devportal-api.yaml"); status != http.StatusOK {
			t.Fatalf("delete application: %d %s", status, raw)
		}
		if _, err := e.apim.Resident().Engine().Clients().GetClient(ctx, ck); err != oauth.ErrClientNotFound {
			t.Errorf("OAuth client survived its application: %v", err)
		}
		snap, _ = e.apim.Source().Snapshot(ctx)
		if len(snap.Applications)+len(snap.KeyMappings)+len(snap.Subscriptions) != 0 {
			t.Errorf("snapshot after delete = %+v", snap)
		}
	})
}
