package doctor

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

const adminAPI = "/api/am/admin/v4"

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// checkAPIMTLS (a): the management endpoint answers over TLS with a
// certificate the configured truststore trusts.
func (d *run) checkAPIMTLS(ctx context.Context) bool {
	c := Check{ID: "apim-tls", Title: "API Manager answers at " + d.o.APIMURL + " with a trusted certificate"}
	u, err := url.Parse(d.o.APIMURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		c.Status, c.Message, c.Fix = Fail, fmt.Sprintf("%q is not an https URL.", d.o.APIMURL), "pass the API Manager's management URL, e.g. --apim https://localhost:9443"
		d.add(c)
		return false
	}
	resp, err := d.client.do(ctx, http.MethodGet, d.o.APIMURL+"/", nil, nil)
	if err != nil {
		p := explain(err, d.o.APIMURL, doctorAPIM)
		c.Status, c.Message, c.Fix, c.Detail = Fail, p.Message, p.Fix, err.Error()
		c.Message += fmt.Sprintf(" (The doctor trusts what %s trusts, %d certificate(s).)", d.o.TrustSource, len(d.o.Trust.Entries()))
		d.add(c)
		return false
	}
	d.apimDate = sampleDate("API Manager", resp, d.o.Now())
	c.Status, c.Message = Pass, fmt.Sprintf("TLS handshake verified against %s.", d.o.TrustSource)
	d.add(c)
	return true
}

// keyManager is the part of the admin API's KeyManager DTO the doctor reads.
type keyManager struct {
	ID                         string         `json:"id"`
	Name                       string         `json:"name"`
	Type                       string         `json:"type"`
	Enabled                    *bool          `json:"enabled"`
	Issuer                     string         `json:"issuer"`
	WellKnownEndpoint          string         `json:"wellKnownEndpoint"`
	ClientRegistrationEndpoint string         `json:"clientRegistrationEndpoint"`
	IntrospectionEndpoint      string         `json:"introspectionEndpoint"`
	TokenEndpoint              string         `json:"tokenEndpoint"`
	RevokeEndpoint             string         `json:"revokeEndpoint"`
	UserInfoEndpoint           string         `json:"userInfoEndpoint"`
	AuthorizeEndpoint          string         `json:"authorizeEndpoint"`
	ScopeManagementEndpoint    string         `json:"scopeManagementEndpoint"`
	Endpoints                  []nameValue    `json:"endpoints"`
	Certificates               *certificates  `json:"certificates"`
	AdditionalProperties       map[string]any `json:"additionalProperties"`
	EnableSelfValidationJWT    *bool          `json:"enableSelfValidationJWT"`
}

type nameValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type certificates struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

func (k *keyManager) prop(name string) string {
	if v, ok := k.AdditionalProperties[name]; ok {
		if s, ok := v.(string); ok {
			return s
		}
	}
	return ""
}

// endpoint returns an endpoint by its field, falling back to the generic
// endpoints list under its stored key.
func (k *keyManager) endpoint(field, storedKey string) string {
	if field != "" {
		return field
	}
	for _, e := range k.Endpoints {
		if e.Name == storedKey {
			return e.Value
		}
	}
	return ""
}

// jwksURL is the JWKS the gateway verifies signatures with.
func (k *keyManager) jwksURL() string {
	if k.Certificates != nil && strings.EqualFold(k.Certificates.Type, "JWKS") {
		return k.Certificates.Value
	}
	return k.endpoint("", "jwks_endpoint")
}

// checkKeyManager (b): the key manager exists in the API Manager and is on.
func (d *run) checkKeyManager(ctx context.Context) *keyManager {
	c := Check{ID: "key-manager", Title: "Key manager " + d.o.KeyManager + " is configured in the API Manager"}
	fail := func(msg, fix, detail string) *keyManager {
		c.Status, c.Message, c.Fix, c.Detail = Fail, msg, fix, detail
		d.add(c)
		return nil
	}
	auth := map[string]string{"Authorization": basic(d.o.Username, d.o.Password), "Accept": "application/json"}
	resp, err := d.client.do(ctx, http.MethodGet, d.o.APIMURL+adminAPI+"/key-managers", nil, auth)
	if err != nil {
		p := explain(err, d.o.APIMURL, doctorAPIM)
		return fail(p.Message, p.Fix, err.Error())
	}
	switch {
	case resp.Status == http.StatusUnauthorized || resp.Status == http.StatusForbidden:
		return fail(fmt.Sprintf("The API Manager rejected the admin credentials of %q (HTTP %d).", d.o.Username, resp.Status),
			"pass an API Manager admin with --username/--password (by default [super_admin] of the --config file)", "")
	case resp.Status != http.StatusOK:
		return fail(fmt.Sprintf("The admin REST API answered HTTP %d at %s.", resp.Status, adminAPI+"/key-managers"),
			"check that --apim points at the API Manager (not the Identity Server) and that it runs the admin API", snippet(resp.Body))
	}
	var list struct {
		List []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"list"`
	}
	if err := json.Unmarshal(resp.Body, &list); err != nil {
		return fail("The admin REST API's key manager list is not JSON.", "check that --apim points at the API Manager", err.Error())
	}
	id := ""
	var names []string
	for _, k := range list.List {
		names = append(names, k.Name)
		if k.Name == d.o.KeyManager {
			id = k.ID
		}
	}
	if id == "" {
		sort.Strings(names)
		return fail(fmt.Sprintf("There is no key manager named %q; the API Manager has: %s.", d.o.KeyManager, strings.Join(names, ", ")),
			"add it in the admin portal (Key Managers → Add Key Manager, type WSO2 Identity Server 7) or with POST "+adminAPI+"/key-managers (docs/pattern-6.md), or pass --key-manager NAME", "")
	}
	resp, err = d.client.do(ctx, http.MethodGet, d.o.APIMURL+adminAPI+"/key-managers/"+url.PathEscape(id), nil, auth)
	if err != nil {
		p := explain(err, d.o.APIMURL, doctorAPIM)
		return fail(p.Message, p.Fix, err.Error())
	}
	if resp.Status != http.StatusOK {
		return fail(fmt.Sprintf("Reading key manager %s answered HTTP %d.", id, resp.Status), "check the API Manager's logs", snippet(resp.Body))
	}
	var km keyManager
	if err := json.Unmarshal(resp.Body, &km); err != nil {
		return fail("The key manager's configuration is not JSON.", "check the API Manager's logs", err.Error())
	}
	if km.Enabled != nil && !*km.Enabled {
		return fail(fmt.Sprintf("Key manager %q is disabled: applications cannot get keys from it and the gateway ignores its tokens.", km.Name),
			"enable it in the admin portal (Key Managers, the Enabled switch) or PUT it with \"enabled\": true", "")
	}
	c.Status = Pass
	c.Message = fmt.Sprintf("Found %q (type %s), enabled.", km.Name, km.Type)
	if km.Type != "WSO2-IS-7" {
		c.Status = Warn
		c.Message = fmt.Sprintf("Found %q, enabled, but its type is %q, not WSO2-IS-7 (WSO2 Identity Server 7).", km.Name, km.Type)
		c.Fix = "Pattern 6 uses the WSO2-IS-7 connector; re-create the key manager with that type"
	}
	d.add(c)
	return &km
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
