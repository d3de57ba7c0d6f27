package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"
)

// checkIssuer (d, first half): the discovery document's issuer is exactly
// the key manager's Issuer, and the JWKS publishes keys with kids.
func (d *run) checkIssuer(ctx context.Context, km *keyManager, reachable map[string]bool) {
	c := Check{ID: "issuer", Title: "Issuer in the key manager matches IS's discovery document"}
	wk := km.endpoint(km.WellKnownEndpoint, "well_known_endpoint")
	switch {
	case km.Issuer == "":
		c.Status, c.Message = Fail, "The key manager has no Issuer: the gateway finds the key manager of a JWT by its iss claim, so every IS token would be rejected."
		c.Fix = "set Issuer to IS's issuer, e.g. https://<is-host>:9444/oauth2/token (the issuer field of the well-known document)"
	case wk == "":
		c.Status, c.Message = Warn, "No Well-known URL is configured, so the issuer cannot be compared with IS's discovery document."
		c.Fix = "set the Well-known URL (issuer + /.well-known/openid-configuration)"
	case !reachable["well-known"]:
		c.Status, c.Message = Skip, "Skipped: the Well-known URL is not reachable (see above)."
	default:
		resp, err := d.client.do(ctx, http.MethodGet, wk, nil, map[string]string{"Accept": "application/json"})
		if err != nil {
			p := explain(err, wk, apimToIS)
			c.Status, c.Message, c.Fix, c.Detail = Fail, p.Message, p.Fix, err.Error()
			break
		}
		var doc struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if resp.Status != http.StatusOK {
			c.Status, c.Message = Fail, fmt.Sprintf("The Well-known URL answered HTTP %d instead of 200 with the discovery document.", resp.Status)
			c.Fix = "the Well-known URL is the issuer followed by /.well-known/openid-configuration, e.g. https://<is-host>:9444/oauth2/token/.well-known/openid-configuration"
			c.Detail = snippet(resp.Body)
			break
		}
		if err := json.Unmarshal(resp.Body, &doc); err != nil || doc.Issuer == "" {
			c.Status, c.Message, c.Fix = Fail, "The Well-known URL does not return a discovery document with an issuer.", "point the Well-known URL at IS's /oauth2/token/.well-known/openid-configuration"
			break
		}
		if doc.Issuer != km.Issuer {
			c.Status = Fail
			c.Message = fmt.Sprintf("The key manager's Issuer is %q but IS says its issuer is %q. The gateway matches a token's iss exactly (a trailing slash, a different host name or localhost versus 127.0.0.1 all count), so IS tokens would be rejected with 401.", km.Issuer, doc.Issuer)
			c.Fix = fmt.Sprintf("set the key manager's Issuer to %q (or change IS's [server] hostname so its issuer is the one you configured)", doc.Issuer)
			break
		}
		c.Status, c.Message = Pass, fmt.Sprintf("Both say %q.", doc.Issuer)
		if doc.JWKSURI != "" && km.jwksURL() != "" && doc.JWKSURI != km.jwksURL() {
			c.Status = Warn
			c.Message += fmt.Sprintf(" But IS publishes its keys at %q while the key manager's JWKS URL is %q.", doc.JWKSURI, km.jwksURL())
			c.Fix = "use IS's jwks_uri as the key manager's JWKS URL"
		}
	}
	d.add(c)
}

// fetchJWKS returns the key set at the key manager's JWKS URL.
func (d *run) fetchJWKS(ctx context.Context, km *keyManager) (*jose.JSONWebKeySet, error) {
	resp, err := d.client.do(ctx, http.MethodGet, km.jwksURL(), nil, map[string]string{"Accept": "application/json"})
	if err != nil {
		return nil, err
	}
	if resp.Status != http.StatusOK {
		return nil, fmt.Errorf("JWKS URL answered HTTP %d", resp.Status)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(resp.Body, &set); err != nil {
		return nil, fmt.Errorf("JWKS is not a JSON Web Key Set: %w", err)
	}
	return &set, nil
}

// checkTokenFlow covers (e) and the second half of (d): it registers a
// throw-away client through DCR with the connector's credentials (exactly as
// the API Manager does when a developer generates keys), gets a
// client_credentials token, checks its iss and kid, and deletes the client.
func (d *run) checkTokenFlow(ctx context.Context, km *keyManager, reachable map[string]bool) {
	dcrCheck := Check{ID: "dcr", Title: "Connector credentials are accepted by IS's client registration (DCR)"}
	tokCheck := Check{ID: "token", Title: "A token issued by IS has the configured issuer and a kid present in the JWKS"}
	defer func() { d.add(dcrCheck); d.add(tokCheck) }()

	user, pass := km.prop("Username"), km.prop("Password")
	if d.o.ConnectorUsername != "" {
		user = d.o.ConnectorUsername
	}
	if d.o.ConnectorPassword != "" {
		pass = d.o.ConnectorPassword
	}
	dcr := km.endpoint(km.ClientRegistrationEndpoint, "client_registration_endpoint")
	switch {
	case !reachable["dcr"]:
		dcrCheck.Status, dcrCheck.Message = Skip, "Skipped: the Client Registration Endpoint is not reachable (see above)."
		tokCheck.Status, tokCheck.Message = Skip, "Skipped: no client can be registered."
		return
	case user == "" || pass == "" || isMasked(pass):
		dcrCheck.Status = Warn
		dcrCheck.Message = "The API Manager did not return the connector's Username/Password, so the doctor cannot try them."
		dcrCheck.Fix = "pass them with --km-username/--km-password to test them"
		tokCheck.Status, tokCheck.Message = Skip, "Skipped: no client can be registered."
		return
	}
	body, _ := json.Marshal(map[string]any{
		"client_name":                  "keyway_doctor_" + strings.ReplaceAll(uuid.NewString(), "-", ""),
		"grant_types":                  []string{"client_credentials"},
		"ext_application_display_name": "keyway doctor (temporary)",
		"token_type_extension":         "JWT",
		"ext_allowed_audience":         "organization",
	})
	resp, err := d.client.do(ctx, http.MethodPost, dcr, bytes.NewReader(body), map[string]string{
		"Authorization": basic(user, pass), "Content-Type": "application/json", "Accept": "application/json"})
	if err != nil {
		p := explain(err, dcr, apimToIS)
		dcrCheck.Status, dcrCheck.Message, dcrCheck.Fix, dcrCheck.Detail = Fail, p.Message, p.Fix, err.Error()
		tokCheck.Status, tokCheck.Message = Skip, "Skipped: no client can be registered."
		return
	}
	switch {
	case resp.Status == http.StatusUnauthorized:
		dcrCheck.Status = Fail
		dcrCheck.Message = fmt.Sprintf("IS rejected the connector's credentials (user %q): the key manager's connector username/password are wrong. Generating keys in the developer portal would fail.", user)
		dcrCheck.Fix = "set Username and Password in the key manager form (connector configuration) to an IS administrator's, e.g. admin / admin"
	case resp.Status == http.StatusForbidden:
		dcrCheck.Status = Fail
		dcrCheck.Message = fmt.Sprintf("IS knows the connector user %q but does not let it register clients (HTTP 403).", user)
		dcrCheck.Fix = "use an IS administrator as the connector user, or give the user the application management permission"
	case resp.Status != http.StatusCreated:
		dcrCheck.Status = Fail
		dcrCheck.Message = fmt.Sprintf("IS's client registration answered HTTP %d instead of 201.", resp.Status)
		dcrCheck.Fix = "check the Client Registration Endpoint path (/api/identity/oauth2/dcr/v1.1/register) and IS's logs"
		dcrCheck.Detail = snippet(resp.Body)
	}
	if dcrCheck.Status == Fail {
		tokCheck.Status, tokCheck.Message = Skip, "Skipped: no client can be registered."
		return
	}
	var client struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal(resp.Body, &client); err != nil || client.ClientID == "" {
		dcrCheck.Status, dcrCheck.Message = Fail, "IS's client registration answered 201 without a client_id."
		dcrCheck.Fix, dcrCheck.Detail = "check IS's logs", snippet(resp.Body)
		tokCheck.Status, tokCheck.Message = Skip, "Skipped: no client was registered."
		return
	}
	defer d.deleteClient(context.WithoutCancel(ctx), dcr, user, pass, client.ClientID, &dcrCheck)
	dcrCheck.Status, dcrCheck.Message = Pass, "Registered a temporary client with the connector's credentials."

	d.tokenCheck(ctx, km, reachable, client.ClientID, client.ClientSecret, &tokCheck)
}

func (d *run) deleteClient(ctx context.Context, dcr, user, pass, clientID string, c *Check) {
	u := strings.TrimRight(dcr, "/") + "/" + url.PathEscape(clientID)
	resp, err := d.client.do(ctx, http.MethodDelete, u, nil, map[string]string{"Authorization": basic(user, pass)})
	if err == nil && resp.Status/100 == 2 {
		c.Message += " It was deleted again."
		return
	}
	detail := ""
	if err != nil {
		detail = err.Error()
	} else {
		detail = fmt.Sprintf("HTTP %d", resp.Status)
	}
	if c.Status == Pass {
		c.Status = Warn
	}
	c.Message += fmt.Sprintf(" Deleting it failed (%s).", detail)
	c.Fix = fmt.Sprintf("delete the OAuth application with client id %s in IS's console", clientID)
}

func (d *run) tokenCheck(ctx context.Context, km *keyManager, reachable map[string]bool, id, secret string, c *Check) {
	if !reachable["token"] {
		c.Status, c.Message = Skip, "Skipped: the Token Endpoint is not reachable (see above)."
		return
	}
	tokenURL := km.endpoint(km.TokenEndpoint, "token_endpoint")
	form := url.Values{"grant_type": {"client_credentials"}}
	resp, err := d.client.do(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()), map[string]string{
		"Authorization": basic(url.QueryEscape(id), url.QueryEscape(secret)), "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
	if err != nil {
		p := explain(err, tokenURL, apimToIS)
		c.Status, c.Message, c.Fix, c.Detail = Fail, p.Message, p.Fix, err.Error()
		return
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(resp.Body, &tok)
	if resp.Status != http.StatusOK || tok.AccessToken == "" {
		c.Status = Fail
		c.Message = fmt.Sprintf("IS did not issue a client_credentials token to the new client (HTTP %d %s %s).", resp.Status, tok.Error, tok.Description)
		c.Fix = "check the Token Endpoint in the key manager form and IS's logs"
		return
	}
	if strings.Count(tok.AccessToken, ".") != 2 {
		c.Status = Warn
		c.Message = "IS issued an opaque token although the client asked for JWT tokens; the gateway will introspect every such token at IS instead of validating it locally."
		c.Fix = "check IS's token type for applications registered through DCR (token_type_extension JWT)"
		return
	}
	parsed, err := jwt.ParseSigned(tok.AccessToken, []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512, jose.ES256, jose.ES384, jose.ES512})
	if err != nil || len(parsed.Headers) == 0 {
		c.Status, c.Message, c.Fix = Fail, "IS's access token is not a signed JWT the gateway accepts.", "IS must sign access tokens with RS256 (the gateway accepts RS256, RS384, RS512)"
		if err != nil {
			c.Detail = err.Error()
		}
		return
	}
	kid := parsed.Headers[0].KeyID
	if kid == "" {
		c.Status, c.Message = Fail, "IS's access token has no kid header; the gateway cannot choose a key to verify it."
		c.Fix = "IS must put the signing key's kid in the JWT header"
		return
	}
	if !reachable["jwks"] {
		c.Status, c.Message = Skip, "Skipped: the JWKS URL is not reachable (see above)."
		return
	}
	set, err := d.fetchJWKS(ctx, km)
	if err != nil {
		c.Status, c.Message, c.Fix, c.Detail = Fail, "The JWKS URL does not return a key set.", "set the key manager's JWKS URL to IS's /oauth2/jwks", err.Error()
		return
	}
	keys := set.Key(kid)
	if len(keys) == 0 {
		var kids []string
		for _, k := range set.Keys {
			kids = append(kids, k.KeyID)
		}
		c.Status = Fail
		c.Message = fmt.Sprintf("IS signed the token with kid %q, which the JWKS URL does not publish (it has %s). The gateway would reject every IS token.", kid, strings.Join(kids, ", "))
		c.Fix = "point the key manager's JWKS URL at this IS's /oauth2/jwks (a JWKS of another IS instance, or a stale copy, has other keys)"
		return
	}
	var claims jwt.Claims
	if err := parsed.Claims(keys[0].Key, &claims); err != nil {
		c.Status, c.Message, c.Fix, c.Detail = Fail, fmt.Sprintf("The token's signature does not verify with the JWKS key %q.", kid), "IS's JWKS must publish the key that signs its tokens", err.Error()
		return
	}
	if claims.Issuer != km.Issuer {
		c.Status = Fail
		c.Message = fmt.Sprintf("IS issues tokens with iss %q but the key manager's Issuer is %q; the gateway matches them exactly and would reject every IS token with 401.", claims.Issuer, km.Issuer)
		c.Fix = fmt.Sprintf("set the key manager's Issuer to %q", claims.Issuer)
		return
	}
	c.Status, c.Message = Pass, fmt.Sprintf("Token iss %q matches, kid %q is in the JWKS and the signature verifies.", claims.Issuer, kid)
	if km.EnableSelfValidationJWT != nil && !*km.EnableSelfValidationJWT {
		c.Status = Warn
		c.Message += " But self-validation of JWTs is off, so the gateway will not map IS's JWTs to this key manager."
		c.Fix = "turn on \"Self validate JWT\" in the key manager form"
	}
}

// isMasked recognises a password the admin API hides.
func isMasked(s string) bool {
	return s != "" && strings.Trim(s, "*") == ""
}
