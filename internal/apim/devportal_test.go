package apim

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/keyway/keyway/internal/db/dbtest"
)

func TestDevPortal(t *testing.T) {
	e := newEnv(t, dbtest.SQLite(t))
	apiID := e.publishAPI("Weather")
	e.createUser("dev", "devpass1", "Internal/subscriber")
	e.createUser("eve", "evepass1", "Internal/subscriber")
	dev := bearer(e.login("dev", "devpass1", "rest_api_devportal_dev"))
	eve := bearer(e.login("eve", "evepass1", "rest_api_devportal_eve"))
	const c = "devportal-api.yaml"

	// Catalog: anonymous reads.
	status, apis, raw := e.call(http.MethodGet, D+"/apis?limit=10", "", nil, c)
	if status != http.StatusOK || apis["count"].(float64) != 1 {
		t.Fatalf("apis: %d %s", status, raw)
	}
	admin := basicAuth("admin", "admin")
	status, rev, raw := e.call(http.MethodPost, P+"/apis/"+apiID+"/revisions", admin, map[string]any{"description": "first"}, "")
	if status != http.StatusCreated {
		t.Fatalf("revision: %d %s", status, raw)
	}
	if status, _, raw := e.call(http.MethodPost, P+"/apis/"+apiID+"/deploy-revision?revisionId="+rev["id"].(string), admin,
		[]map[string]any{{"name": "Default", "vhost": "localhost", "displayOnDevportal": true}}, ""); status != http.StatusCreated {
		t.Fatalf("deploy: %d %s", status, raw)
	}
	status, api, raw := e.call(http.MethodGet, D+"/apis/"+apiID, "", nil, c)
	if status != http.StatusOK || api["context"] != "/weather/1.0.0" || api["isSubscriptionAvailable"] != true || len(api["tiers"].([]any)) != 2 {
		t.Errorf("api: %d %s", status, raw)
	}
	if urls := api["endpointURLs"].([]any); len(urls) != 1 || urls[0].(map[string]any)["URLs"].(map[string]any)["https"] != "https://localhost:8243/weather/1.0.0" {
		t.Errorf("endpointURLs = %v", api["endpointURLs"])
	}
	// WSO2 answers the definition itself although the contract types it as
	// a string, so this one response is not schema-checked.
	if status, def, _ := e.call(http.MethodGet, D+"/apis/"+apiID+"/swagger", "", nil, ""); status != http.StatusOK || def["openapi"] == nil {
		t.Errorf("swagger: %d", status)
	}
	if status, _, _ := e.call(http.MethodGet, D+"/apis/no-such-api", "", nil, c); status != http.StatusNotFound {
		t.Errorf("missing api: %d", status)
	}
	status, found, raw := e.call(http.MethodGet, D+"/search?query="+url.QueryEscape(`name:"Weather"`), "", nil, c)
	if status != http.StatusOK || found["count"].(float64) != 1 {
		t.Errorf("search: %d %s", status, raw)
	}
	if status, tiers, _ := e.call(http.MethodGet, D+"/throttling-policies/subscription", "", nil, c); status != http.StatusOK || tiers["count"].(float64) != 5 {
		t.Errorf("subscription tiers: %d", status)
	}
	if status, _, _ := e.call(http.MethodGet, D+"/throttling-policies/application/10PerMin", "", nil, c); status != http.StatusOK {
		t.Errorf("tier: %d", status)
	}

	// Applications: bad input changes nothing.
	for _, bad := range []any{map[string]any{"name": "X", "throttlingPolicy": "NoSuchTier"}, map[string]any{"throttlingPolicy": "Unlimited"},
		map[string]any{"name": "X", "throttlingPolicy": "Unlimited", "tokenType": "SAML"}, "{"} {
		status, body, _ := e.call(http.MethodPost, D+"/applications", dev, bad, c)
		if status != http.StatusBadRequest || body["code"] == nil || body["message"] == nil {
			t.Errorf("bad application %v: %d %v", bad, status, body)
		}
	}
	if _, n, _ := e.apim.Subscriptions().ListApplications(t0(), appQuery("dev")); n != 0 {
		t.Fatalf("rejected applications were stored: %d", n)
	}
	if status, _, _ := e.call(http.MethodPost, D+"/applications", "", map[string]any{"name": "A", "throttlingPolicy": "Unlimited"}, ""); status != http.StatusUnauthorized {
		t.Errorf("anonymous create: %d", status)
	}
	_, app, _ := e.call(http.MethodPost, D+"/applications", dev, map[string]any{"name": "WeatherApp", "throttlingPolicy": "Unlimited",
		"attributes": map[string]string{"team": "blue"}}, c)
	appID := app["applicationId"].(string)
	if status, _, _ := e.call(http.MethodPost, D+"/applications", dev, map[string]any{"name": "WeatherApp", "throttlingPolicy": "Unlimited"}, c); status != http.StatusConflict {
		t.Errorf("duplicate application: %d", status)
	}
	// Another user cannot see or touch it.
	if status, _, _ := e.call(http.MethodGet, D+"/applications/"+appID, eve, nil, c); status != http.StatusNotFound {
		t.Errorf("other user's application: %d", status)
	}
	if status, _, _ := e.call(http.MethodDelete, D+"/applications/"+appID, eve, nil, c); status != http.StatusNotFound {
		t.Errorf("other user's delete: %d", status)
	}
	status, upd, raw := e.call(http.MethodPut, D+"/applications/"+appID, dev, map[string]any{"name": "WeatherApp", "throttlingPolicy": "20PerMin",
		"description": "now described"}, c)
	if status != http.StatusOK || upd["throttlingPolicy"] != "20PerMin" || upd["description"] != "now described" {
		t.Errorf("update application: %d %s", status, raw)
	}

	// Subscriptions.
	bad := []map[string]any{{"applicationId": appID, "apiId": apiID, "throttlingPolicy": "Bronze"},
		{"applicationId": appID, "apiId": "missing", "throttlingPolicy": "Gold"}, {"applicationId": "missing", "apiId": apiID, "throttlingPolicy": "Gold"}}
	for _, b := range bad {
		if status, body, _ := e.call(http.MethodPost, D+"/subscriptions", dev, b, c); status != http.StatusBadRequest || body["code"] == nil {
			t.Errorf("bad subscription %v: %d", b, status)
		}
	}
	if status, _, _ := e.call(http.MethodPost, D+"/subscriptions", eve, map[string]any{"applicationId": appID, "apiId": apiID, "throttlingPolicy": "Gold"}, c); status != http.StatusBadRequest {
		t.Errorf("subscribing another user's application: %d", status)
	}
	status, subs, raw := e.call(http.MethodPost, D+"/subscriptions/multiple", dev, []map[string]any{{"applicationId": appID, "apiId": apiID, "throttlingPolicy": "Gold"}}, c)
	if status != http.StatusOK {
		t.Fatalf("multiple: %d %s", status, raw)
	}
	_ = subs
	status, list, _ := e.call(http.MethodGet, D+"/subscriptions?applicationId="+appID, dev, nil, c)
	if status != http.StatusOK || list["count"].(float64) != 1 {
		t.Fatalf("subscriptions: %d", status)
	}
	subID := list["list"].([]any)[0].(map[string]any)["subscriptionId"].(string)
	if _, others, _ := e.call(http.MethodGet, D+"/subscriptions?apiId="+apiID, eve, nil, c); others["count"].(float64) != 0 {
		t.Error("another user sees the subscription")
	}
	if status, s, raw := e.call(http.MethodPut, D+"/subscriptions/"+subID, dev, map[string]any{"applicationId": appID, "apiId": apiID, "throttlingPolicy": "Unlimited"}, c); status != http.StatusOK || s["throttlingPolicy"] != "Unlimited" {
		t.Errorf("update subscription: %d %s", status, raw)
	}
	// The publisher blocks it; the snapshot carries the state.
	if status, _, raw := e.call(http.MethodPost, P+"/subscriptions/block-subscription?subscriptionId="+subID+"&blockState=BLOCKED", admin, nil, ""); status != http.StatusOK {
		t.Errorf("block: %d %s", status, raw)
	}
	snap, _ := e.apim.Source().Snapshot(t0())
	if len(snap.Subscriptions) != 1 || snap.Subscriptions[0].Status != "BLOCKED" || snap.Subscriptions[0].Policy != "Unlimited" {
		t.Errorf("snapshot subscription = %+v", snap.Subscriptions)
	}
	if len(snap.APIs) != 1 || snap.APIs[0].UUID != apiID || snap.APIs[0].Environment != "Default" {
		t.Errorf("snapshot APIs = %+v", snap.APIs)
	}

	// Keys at the resident key manager.
	status, keys, raw := e.call(http.MethodPost, D+"/applications/"+appID+"/generate-keys", dev, map[string]any{"keyType": "SANDBOX",
		"grantTypesToBeSupported": []string{"client_credentials"}, "scopes": []string{"pizza:order"}}, c)
	if status != http.StatusOK {
		t.Fatalf("generate-keys: %d %s", status, raw)
	}
	mid, ck := keys["keyMappingId"].(string), keys["consumerKey"].(string)
	if status, _, _ := e.call(http.MethodPost, D+"/applications/"+appID+"/generate-keys", dev, map[string]any{"keyType": "SANDBOX",
		"grantTypesToBeSupported": []string{"client_credentials"}}, ""); status != http.StatusConflict {
		t.Errorf("second generate-keys: %d", status)
	}
	for _, b := range []map[string]any{{"keyType": "DEV", "grantTypesToBeSupported": []string{}}, {"keyType": "PRODUCTION"},
		{"keyType": "PRODUCTION", "grantTypesToBeSupported": []string{"client_credentials"}, "keyManager": "Nope"},
		{"keyType": "PRODUCTION", "grantTypesToBeSupported": []string{"authorization_code"}}} {
		if status, body, _ := e.call(http.MethodPost, D+"/applications/"+appID+"/generate-keys", dev, b, c); status != http.StatusBadRequest || body["code"] == nil {
			t.Errorf("bad generate-keys %v: %d", b, status)
		}
	}
	if ks, _ := e.apim.Subscriptions().KeyMappingsOf(t0(), appID); len(ks) != 1 {
		t.Fatalf("key mappings after rejected calls = %d", len(ks))
	}
	status, ok, raw := e.call(http.MethodGet, D+"/applications/"+appID+"/oauth-keys", dev, nil, c)
	if status != http.StatusOK || ok["count"].(float64) != 1 || ok["list"].([]any)[0].(map[string]any)["consumerSecret"] == "" {
		t.Errorf("oauth-keys: %d %s", status, raw)
	}
	status, one, raw := e.call(http.MethodPut, D+"/applications/"+appID+"/oauth-keys/"+mid, dev, map[string]any{
		"supportedGrantTypes": []string{"client_credentials", "authorization_code"}, "callbackUrl": "https://app.example/cb"}, c)
	if status != http.StatusOK || one["callbackUrl"] != "https://app.example/cb" || len(one["supportedGrantTypes"].([]any)) != 2 {
		t.Errorf("update keys: %d %s", status, raw)
	}
	status, sec, raw := e.call(http.MethodPost, D+"/applications/"+appID+"/oauth-keys/"+mid+"/regenerate-secret", dev, nil, c)
	if status != http.StatusOK || sec["consumerKey"] != ck || sec["consumerSecret"] == keys["consumerSecret"] {
		t.Errorf("regenerate: %d %s", status, raw)
	}
	status, tok, raw := e.call(http.MethodPost, D+"/applications/"+appID+"/oauth-keys/"+mid+"/generate-token", dev, map[string]any{"validityPeriod": 3600}, c)
	if status != http.StatusOK || tok["accessToken"] == "" {
		t.Errorf("generate-token: %d %s", status, raw)
	}
	if status, _, _ := e.call(http.MethodGet, D+"/applications/"+appID+"/oauth-keys/"+mid, eve, nil, c); status != http.StatusNotFound {
		t.Errorf("other user's keys: %d", status)
	}
	if status, _, _ := e.call(http.MethodPost, D+"/applications/"+appID+"/oauth-keys/"+mid+"/clean-up", dev, nil, c); status != http.StatusOK {
		t.Errorf("clean-up: %d", status)
	}
	if _, err := e.apim.Resident().Engine().Clients().GetClient(t0(), ck); err == nil {
		t.Error("clean-up left the OAuth client")
	}
	// Map an existing resident client instead.
	_, reg, _ := e.call(http.MethodPost, "/client-registration/v0.17/register", basicAuth("dev", "devpass1"),
		map[string]any{"clientName": "dev-existing", "grantType": "client_credentials", "owner": "dev"}, "")
	status, mapped, raw := e.call(http.MethodPost, D+"/applications/"+appID+"/map-keys", dev, map[string]any{"consumerKey": reg["clientId"],
		"consumerSecret": reg["clientSecret"], "keyType": "PRODUCTION", "keyManager": "Resident Key Manager"}, c)
	if status != http.StatusOK || mapped["mode"] != "MAPPED" {
		t.Errorf("map-keys: %d %s", status, raw)
	}
	if status, _, _ := e.call(http.MethodPost, D+"/applications/"+appID+"/map-keys", dev, map[string]any{"consumerKey": reg["clientId"],
		"consumerSecret": "wrong", "keyType": "SANDBOX"}, c); status != http.StatusBadRequest {
		t.Errorf("map-keys with a wrong secret: %d", status)
	}

	// Delete the subscription, then the application; a mapped client
	// belongs to its owner and survives.
	if status, _, _ := e.call(http.MethodDelete, D+"/subscriptions/"+subID, dev, nil, c); status != http.StatusOK {
		t.Errorf("delete subscription: %d", status)
	}
	if status, _, _ := e.call(http.MethodDelete, D+"/applications/"+appID, dev, nil, c); status != http.StatusOK {
		t.Errorf("delete application: %d", status)
	}
	if _, err := e.apim.Resident().Engine().Clients().GetClient(t0(), reg["clientId"].(string)); err != nil {
		t.Errorf("a mapped client was deleted: %v", err)
	}
	// The cleaned-up client's token was revoked with it.
	status, body, _ := e.call(http.MethodGet, D+"/applications", bearer(tok["accessToken"].(string)), nil, "")
	if status != http.StatusUnauthorized || body["code"] == nil {
		t.Errorf("token of a deleted client: %d %v", status, body)
	}
	// A valid token without apim:subscribe / apim:app_manage is refused.
	_, plain, _ := e.call(http.MethodPost, "/oauth2/token", basicAuth(reg["clientId"].(string), reg["clientSecret"].(string)),
		url.Values{"grant_type": {"client_credentials"}, "scope": {"openid"}}, "")
	status, body, _ = e.call(http.MethodGet, D+"/applications", bearer(plain["access_token"].(string)), nil, "")
	if status != http.StatusForbidden || body["code"] != float64(900910) {
		t.Errorf("token without scopes: %d %v", status, body)
	}
}
