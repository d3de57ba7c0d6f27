package doctor

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// kmEndpoint is one URL of the key manager's configuration.
type kmEndpoint struct {
	ID       string // check id suffix
	Label    string // the admin form's label
	URL      string
	Required bool // the WSO2-IS-7 connector or the gateway cannot work without it
}

func (k *keyManager) endpoints() []kmEndpoint {
	return []kmEndpoint{
		{"well-known", "Well-known URL", k.endpoint(k.WellKnownEndpoint, "well_known_endpoint"), false},
		{"token", "Token Endpoint", k.endpoint(k.TokenEndpoint, "token_endpoint"), true},
		{"introspection", "Introspection Endpoint", k.endpoint(k.IntrospectionEndpoint, "introspection_endpoint"), true},
		{"dcr", "Client Registration Endpoint", k.endpoint(k.ClientRegistrationEndpoint, "client_registration_endpoint"), true},
		{"jwks", "JWKS URL (Certificates)", k.jwksURL(), true},
		{"revoke", "Revoke Endpoint", k.endpoint(k.RevokeEndpoint, "revoke_endpoint"), false},
		{"userinfo", "UserInfo Endpoint", k.endpoint(k.UserInfoEndpoint, "userinfo_endpoint"), false},
		{"authorize", "Authorize Endpoint", k.endpoint(k.AuthorizeEndpoint, "authorize_endpoint"), false},
		{"scopes", "Scope Management Endpoint", k.endpoint(k.ScopeManagementEndpoint, "scope_endpoint"), false},
		{"api-resources", "WSO2 Identity Server 7 API Resource Management Endpoint", k.prop("api_resource_management_endpoint"), true},
		{"roles", "WSO2 Identity Server 7 Roles Endpoint", k.prop("is7_roles_endpoint"), true},
	}
}

// checkEndpoints (c): every configured endpoint answers over TLS with a
// certificate the API Manager trusts. Any HTTP answer counts (401 and 405
// are normal for a bare GET); what matters is that the connection works.
// It returns the ids of the endpoints that answered.
func (d *run) checkEndpoints(ctx context.Context, km *keyManager) map[string]bool {
	ok := map[string]bool{}
	// A host that fails once fails the same way for every endpoint on it:
	// say how to fix it once.
	seen := map[string]string{}
	for _, e := range km.endpoints() {
		c := Check{ID: "endpoint." + e.ID, Title: fmt.Sprintf("%s is reachable from the API Manager", e.Label)}
		if e.URL == "" {
			c.Status = Warn
			c.Message = fmt.Sprintf("%s is not configured.", e.Label)
			if e.Required {
				c.Status = Fail
				c.Message += " The WSO2-IS-7 connector needs it."
			}
			c.Fix = "fill it in the key manager form (docs/pattern-6.md lists every value)"
			d.add(c)
			continue
		}
		u, err := url.Parse(e.URL)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			c.Status, c.Message, c.Fix = Fail, fmt.Sprintf("%s %q is not a URL.", e.Label, e.URL), "correct it in the key manager form"
			d.add(c)
			continue
		}
		resp, err := d.client.do(ctx, http.MethodGet, e.URL, nil, nil)
		if err != nil {
			p := explain(err, e.URL, apimToIS)
			c.Status, c.Message = Fail, p.Message
			if first, dup := seen[u.Host+p.Message]; dup {
				c.Fix = "see " + first + " above"
			} else {
				seen[u.Host+p.Message] = e.Label
				c.Fix, c.Detail = p.Fix, err.Error()
			}
			d.add(c)
			continue
		}
		ok[e.ID] = true
		if d.isDate.Date.IsZero() {
			d.isDate = sampleDate("Identity Server", resp, d.o.Now())
		}
		c.Status, c.Message = Pass, fmt.Sprintf("%s answered (HTTP %d) over a trusted TLS connection.", e.URL, resp.Status)
		if u.Scheme == "http" {
			c.Status = Warn
			c.Message = fmt.Sprintf("%s answered, but over plain HTTP: tokens and the connector password travel unencrypted.", e.URL)
			c.Fix = "use the https URL"
		}
		if resp.Status == http.StatusNotFound {
			c.Status = Warn
			c.Message = fmt.Sprintf("%s answered 404 Not Found: the host is right but the path looks wrong.", e.URL)
			c.Fix = "compare the path with the table in docs/pattern-6.md"
		}
		d.add(c)
	}
	return ok
}
