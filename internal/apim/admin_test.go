package apim

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/keyway/keyway/internal/contracttest"
	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/db/dbtest"
	"github.com/keyway/keyway/internal/user"
)

func (e *env) discover(auth, wellKnown, typ string) (int, map[string]any) {
	e.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("url", wellKnown)
	_ = mw.WriteField("type", typ)
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+A+"/key-managers/discover", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", auth)
	resp, raw := contracttest.Load(e.t, "admin-api.yaml").Do(e.t, e.client, req)
	out := map[string]any{}
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func (e *env) createUser(name, pass string, roles ...string) {
	e.t.Helper()
	if err := e.apim.Users().CreateUser(t0(), &user.User{Username: name, Roles: roles}, pass); err != nil {
		e.t.Fatal(err)
	}
}

func kmCount(e *env) int {
	list, _ := e.apim.KeyManagers().List(t0())
	return len(list)
}

// TestIS7KeyManager registers a WSO2-IS-7 key manager through the admin
// API (discovery first), then generates keys there from the developer
// portal and publishes an API whose scope lands in IS.
func TestIS7KeyManager(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, d *db.DB) {
		is := newFakeIS(t)
		e := newEnvTrusting(t, d, []*x509.Certificate{is.srv.Certificate()})
		admin := basicAuth("admin", "admin")

		status, disc := e.discover(admin, is.srv.URL+"/oauth2/token/.well-known/openid-configuration", "WSO2-IS-7")
		if status != http.StatusOK || disc["valid"] != true {
			t.Fatalf("discover: %d %v", status, disc)
		}
		km := disc["value"].(map[string]any)
		if km["issuer"] != is.srv.URL+"/oauth2/token" || km["certificates"].(map[string]any)["value"] != is.srv.URL+"/oauth2/jwks" {
			t.Errorf("discovered = %v", km)
		}
		if status, empty := e.discover(admin, is.srv.URL+"/nothing-here", "WSO2-IS-7"); status != http.StatusOK || len(empty) != 0 {
			t.Errorf("failed discovery: %d %v", status, empty)
		}

		// Bad input changes nothing.
		before := kmCount(e)
		for _, bad := range []any{`{"name":"x"}`, `{"name":"x","type":"Nope"}`, `{"name":"x","type":"WSO2-IS-7"}`, `{`} {
			status, body, _ := e.call(http.MethodPost, A+"/key-managers", admin, bad, "admin-api.yaml")
			if status != http.StatusBadRequest || body["code"] == nil || body["message"] == nil {
				t.Errorf("bad key manager %v: %d %v", bad, status, body)
			}
		}
		if kmCount(e) != before {
			t.Fatal("a rejected key manager was stored")
		}

		km["name"], km["displayName"] = "IS7", "WSO2 Identity Server 7"
		km["additionalProperties"] = map[string]any{"Username": "isadmin", "Password": "ispass",
			"api_resource_management_endpoint": is.srv.URL + "/api/server/v1/api-resources", "is7_roles_endpoint": is.srv.URL + "/scim2/v2/Roles",
			"enable_roles_creation": true}
		status, created, raw := e.call(http.MethodPost, A+"/key-managers", admin, km, "admin-api.yaml")
		if status != http.StatusCreated {
			t.Fatalf("create key manager: %d %s", status, raw)
		}
		if created["additionalProperties"].(map[string]any)["Password"] == "ispass" {
			t.Error("the connector password is returned in plaintext")
		}
		kmID := created["id"].(string)
		if status, _, _ := e.call(http.MethodPost, A+"/key-managers", admin, km, ""); status != http.StatusConflict {
			t.Errorf("duplicate key manager: %d", status)
		}
		status, list, _ := e.call(http.MethodGet, A+"/key-managers", admin, nil, "admin-api.yaml")
		if status != http.StatusOK || list["count"].(float64) != 2 {
			t.Errorf("list: %d %v", status, list)
		}
		_, got, _ := e.call(http.MethodGet, A+"/key-managers/"+kmID, admin, nil, "admin-api.yaml")
		got["name"] = "Renamed"
		if status, _, _ := e.call(http.MethodPut, A+"/key-managers/"+kmID, admin, got, "admin-api.yaml"); status != http.StatusBadRequest {
			t.Errorf("rename: %d", status)
		}
		got["name"], got["description"] = "IS7", "the IS"
		if status, upd, raw := e.call(http.MethodPut, A+"/key-managers/"+kmID, admin, got, "admin-api.yaml"); status != http.StatusOK || upd["description"] != "the IS" {
			t.Errorf("update: %d %s", status, raw)
		}

		// The developer portal lists it with the connector's key fields.
		e.createUser("dev", "devpass1", "Internal/subscriber")
		dev := bearer(e.login("dev", "devpass1", "rest_api_devportal_dev"))
		status, kms, raw := e.call(http.MethodGet, D+"/key-managers", dev, nil, "devportal-api.yaml")
		if status != http.StatusOK || kms["count"].(float64) != 2 || strings.Contains(string(raw), "ispass") || strings.Contains(string(raw), "isadmin") {
			t.Errorf("devportal key managers: %d %s", status, raw)
		}

		// Keys at IS by DCR.
		_, app, _ := e.call(http.MethodPost, D+"/applications", dev, map[string]any{"name": "ISApp", "throttlingPolicy": "Unlimited"}, "devportal-api.yaml")
		appID := app["applicationId"].(string)
		status, keys, raw := e.call(http.MethodPost, D+"/applications/"+appID+"/generate-keys", dev, map[string]any{"keyType": "PRODUCTION",
			"keyManager": "IS7", "grantTypesToBeSupported": []string{"client_credentials", "password"},
			"additionalProperties": map[string]any{"ext_pkce_mandatory": "false", "ext_user_token_lifetime": "N/A"}}, "devportal-api.yaml")
		if status != http.StatusOK {
			t.Fatalf("generate-keys at IS: %d %s", status, raw)
		}
		if !strings.HasPrefix(keys["consumerKey"].(string), "is-client-") || keys["consumerSecret"] != "is-secret" ||
			keys["token"].(map[string]any)["accessToken"] != "is-token-"+keys["consumerKey"].(string) {
			t.Errorf("keys = %s", raw)
		}
		if is.dcrBody["client_name"] != "dev_"+appID+"_PRODUCTION" || is.dcrBody["ext_application_display_name"] != "ISApp" ||
			is.dcrBody["token_type_extension"] != "JWT" {
			t.Errorf("DCR body = %v", is.dcrBody)
		}
		// Bad per-key properties are refused before IS is called.
		status, _, _ = e.call(http.MethodPost, D+"/applications/"+appID+"/generate-keys", dev, map[string]any{"keyType": "SANDBOX",
			"keyManager": "IS7", "grantTypesToBeSupported": []string{"client_credentials"},
			"additionalProperties": map[string]any{"ext_public_client": "maybe"}}, "devportal-api.yaml")
		if status != http.StatusBadRequest {
			t.Errorf("invalid properties: %d", status)
		}
		mappingID := keys["keyMappingId"].(string)
		status, tok, raw := e.call(http.MethodPost, D+"/applications/"+appID+"/oauth-keys/"+mappingID+"/generate-token", dev,
			map[string]any{"scopes": []string{"a"}}, "devportal-api.yaml")
		if status != http.StatusOK || tok["accessToken"] == "" {
			t.Errorf("generate-token: %d %s", status, raw)
		}
		if status, _, _ := e.call(http.MethodPost, D+"/applications/"+appID+"/oauth-keys/"+mappingID+"/regenerate-secret", dev, nil, "devportal-api.yaml"); status != http.StatusBadRequest {
			t.Errorf("IS cannot regenerate secrets: %d", status)
		}
		status, usage, raw := e.call(http.MethodGet, A+"/key-managers/"+kmID+"/app-usages", admin, nil, "admin-api.yaml")
		if status != http.StatusOK || usage["applicationCount"].(float64) != 1 {
			t.Errorf("app usages: %d %s", status, raw)
		}
		if status, _, raw := e.call(http.MethodGet, A+"/key-managers/"+kmID+"/api-usages", admin, nil, "admin-api.yaml"); status != http.StatusOK {
			t.Errorf("api usages: %d %s", status, raw)
		}
		// A key manager in use cannot be deleted.
		if status, _, _ := e.call(http.MethodDelete, A+"/key-managers/"+kmID, admin, nil, ""); status != http.StatusBadRequest {
			t.Errorf("delete in use: %d", status)
		}

		// Publishing an API with a scope creates it in IS with its role.
		e.publishAPI("Pizza")
		if !slices.Contains(is.scopes, "pizza:order") || !slices.Contains(is.roles["subscriber"], "pizza:order") {
			t.Errorf("IS scopes %v roles %v", is.scopes, is.roles)
		}

		// Deleting the application deletes the client in IS.
		if status, _, _ := e.call(http.MethodDelete, D+"/applications/"+appID, dev, nil, "devportal-api.yaml"); status != http.StatusOK {
			t.Fatalf("delete application: %d", status)
		}
		if !is.called("DELETE /api/identity/oauth2/dcr/v1.1/register/") || len(is.clients) != 0 {
			t.Errorf("IS clients after delete = %v", is.clients)
		}
		if status, _, _ := e.call(http.MethodDelete, A+"/key-managers/"+kmID, admin, nil, "admin-api.yaml"); status != http.StatusOK {
			t.Errorf("delete unused key manager: %d", status)
		}
	})
}

func TestAdminPolicies(t *testing.T) {
	e := newEnv(t, dbtest.SQLite(t))
	admin := basicAuth("admin", "admin")
	for _, level := range []string{"subscription", "application", "advanced"} {
		status, list, raw := e.call(http.MethodGet, A+"/throttling/policies/"+level, admin, nil, "admin-api.yaml")
		if status != http.StatusOK || list["count"].(float64) < 4 {
			t.Errorf("%s list: %d %s", level, status, raw)
		}
	}
	body := map[string]any{"policyName": "Platinum", "description": "Allows 9000 requests per minute", "rateLimitCount": 10,
		"rateLimitTimeUnit": "sec", "stopOnQuotaReach": true, "billingPlan": "FREE",
		"defaultLimit": map[string]any{"type": "REQUESTCOUNTLIMIT", "requestCount": map[string]any{"requestCount": 9000, "timeUnit": "min", "unitTime": 1}}}
	status, p, raw := e.call(http.MethodPost, A+"/throttling/policies/subscription", admin, body, "admin-api.yaml")
	if status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, raw)
	}
	id := p["policyId"].(string)
	if status, _, _ := e.call(http.MethodPost, A+"/throttling/policies/subscription", admin, body, ""); status != http.StatusConflict {
		t.Errorf("duplicate: %d", status)
	}
	for _, bad := range []map[string]any{
		{"policyName": "NoLimit"},
		{"policyName": "Zero", "defaultLimit": map[string]any{"type": "REQUESTCOUNTLIMIT", "requestCount": map[string]any{"requestCount": 0, "timeUnit": "min", "unitTime": 1}}},
		{"policyName": "BadUnit", "defaultLimit": map[string]any{"type": "REQUESTCOUNTLIMIT", "requestCount": map[string]any{"requestCount": 5, "timeUnit": "lightyear", "unitTime": 1}}},
	} {
		status, errBody, _ := e.call(http.MethodPost, A+"/throttling/policies/subscription", admin, bad, "admin-api.yaml")
		if status != http.StatusBadRequest || errBody["code"] == nil {
			t.Errorf("bad policy %v: %d", bad["policyName"], status)
		}
	}
	if ps, _ := e.apim.Policies().List(t0(), "subscription"); len(ps) != 6 {
		t.Errorf("stored subscription policies = %d, want 6", len(ps))
	}
	body["description"] = "changed"
	if status, upd, raw := e.call(http.MethodPut, A+"/throttling/policies/subscription/"+id, admin, body, "admin-api.yaml"); status != http.StatusOK || upd["description"] != "changed" {
		t.Errorf("update: %d %s", status, raw)
	}
	app := map[string]any{"policyName": "5PerMin", "burstLimit": map[string]any{"rateLimitCount": 0},
		"defaultLimit": map[string]any{"type": "REQUESTCOUNTLIMIT", "requestCount": map[string]any{"requestCount": 5, "timeUnit": "min", "unitTime": 1}}}
	if status, _, raw := e.call(http.MethodPost, A+"/throttling/policies/application", admin, app, "admin-api.yaml"); status != http.StatusCreated {
		t.Errorf("application policy: %d %s", status, raw)
	}
	adv := map[string]any{"policyName": "1KPerMin",
		"defaultLimit": map[string]any{"type": "BANDWIDTHLIMIT", "bandwidth": map[string]any{"dataAmount": 1, "dataUnit": "MB", "timeUnit": "min", "unitTime": 1}}}
	if status, _, raw := e.call(http.MethodPost, A+"/throttling/policies/advanced", admin, adv, "admin-api.yaml"); status != http.StatusCreated {
		t.Errorf("advanced policy: %d %s", status, raw)
	}
	if status, _, _ := e.call(http.MethodGet, A+"/throttling/policies/subscription/"+id, admin, nil, "admin-api.yaml"); status != http.StatusOK {
		t.Errorf("get: %d", status)
	}
	if status, _, _ := e.call(http.MethodDelete, A+"/throttling/policies/subscription/"+id, admin, nil, "admin-api.yaml"); status != http.StatusOK {
		t.Errorf("delete: %d", status)
	}
	if status, _, _ := e.call(http.MethodGet, A+"/throttling/policies/subscription/"+id, admin, nil, "admin-api.yaml"); status != http.StatusNotFound {
		t.Errorf("get deleted: %d", status)
	}
	// An application tier in use cannot be deleted.
	e.createUser("dev", "devpass1", "Internal/subscriber")
	dev := bearer(e.login("dev", "devpass1", "rest_api_devportal_dev"))
	e.call(http.MethodPost, D+"/applications", dev, map[string]any{"name": "A1", "throttlingPolicy": "10PerMin"}, "devportal-api.yaml")
	tier, _ := e.apim.Policies().GetByName(t0(), "application", "10PerMin")
	if status, _, _ := e.call(http.MethodDelete, A+"/throttling/policies/application/"+tier.ID, admin, nil, ""); status != http.StatusBadRequest {
		t.Errorf("delete tier in use: %d", status)
	}
	// A subscriber has no admin scope.
	if status, body, _ := e.call(http.MethodGet, A+"/throttling/policies/subscription", dev, nil, ""); status != http.StatusForbidden || body["code"] == nil {
		t.Errorf("subscriber on admin API: %d", status)
	}
}

func TestAdminApplicationsAndEnvironments(t *testing.T) {
	e := newEnv(t, dbtest.SQLite(t))
	admin := basicAuth("admin", "admin")
	e.createUser("dev", "devpass1", "Internal/subscriber")
	dev := bearer(e.login("dev", "devpass1", "rest_api_devportal_dev"))
	_, app, _ := e.call(http.MethodPost, D+"/applications", dev, map[string]any{"name": "DevApp", "throttlingPolicy": "Unlimited"}, "devportal-api.yaml")
	appID := app["applicationId"].(string)

	status, list, raw := e.call(http.MethodGet, A+"/applications?user=dev&limit=10", admin, nil, "admin-api.yaml")
	if status != http.StatusOK || list["count"].(float64) != 1 || list["list"].([]any)[0].(map[string]any)["owner"] != "dev" {
		t.Fatalf("admin applications: %d %s", status, raw)
	}
	if status, _, _ := e.call(http.MethodGet, A+"/applications/"+appID, admin, nil, "admin-api.yaml"); status != http.StatusOK {
		t.Errorf("admin application: %d", status)
	}
	if status, _, _ := e.call(http.MethodPost, A+"/applications/"+appID+"/change-owner?owner=ghost", admin, nil, "admin-api.yaml"); status != http.StatusBadRequest {
		t.Errorf("change owner to a missing user: %d", status)
	}
	if status, _, _ := e.call(http.MethodPost, A+"/applications/"+appID+"/change-owner?owner=admin", admin, nil, "admin-api.yaml"); status != http.StatusOK {
		t.Errorf("change owner: %d", status)
	}
	if status, _, _ := e.call(http.MethodGet, D+"/applications/"+appID, dev, nil, "devportal-api.yaml"); status != http.StatusNotFound {
		t.Errorf("the old owner still sees the application: %d", status)
	}
	status, envs, raw := e.call(http.MethodGet, A+"/environments", admin, nil, "admin-api.yaml")
	if status != http.StatusOK || envs["list"].([]any)[0].(map[string]any)["name"] != "Default" {
		t.Errorf("environments: %d %s", status, raw)
	}
	if status, _, _ := e.call(http.MethodDelete, A+"/applications/"+appID, admin, nil, "admin-api.yaml"); status != http.StatusOK {
		t.Errorf("admin delete application: %d", status)
	}
}
