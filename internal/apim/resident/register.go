package resident

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"encoding/json"

	"github.com/keyway/keyway/internal/apim/restapi"
	"github.com/keyway/keyway/internal/oauth"
	"github.com/keyway/keyway/internal/user"
)

// RegistrationPath is APIM's own client registration API, which apictl
// calls at login (APICTL-FLOW.md §3.2).
const RegistrationPath = "/client-registration/v0.17/register"

type registrationRequest struct {
	CallbackURL string `json:"callbackUrl"`
	ClientName  string `json:"clientName"`
	Owner       string `json:"owner"`
	// GrantType is space separated ("password refresh_token").
	GrantType  string `json:"grantType"`
	SaaSApp    bool   `json:"saasApp"`
	TokenScope string `json:"tokenScope"`
	TokenType  string `json:"tokenType"`
}

type registrationResponse struct {
	ClientID          string `json:"clientId"`
	ClientName        string `json:"clientName"`
	CallBackURL       string `json:"callBackURL"`
	ClientSecret      string `json:"clientSecret"`
	IsSaasApplication bool   `json:"isSaasApplication"`
	AppOwner          string `json:"appOwner"`
	JSONString        string `json:"jsonString"`
	JSONAppAttribute  string `json:"jsonAppAttribute"`
	TokenType         string `json:"tokenType"`
}

// registrar serves RegistrationPath.
type registrar struct {
	clients oauth.ClientStore
	users   user.Directory
	log     *slog.Logger
}

func (g *registrar) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	username, password, ok := r.BasicAuth()
	if !ok || username == "" {
		restapi.Unauthorized(w, "")
		return
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	caller, err := g.users.Authenticate(r.Context(), username, password, host)
	if err != nil {
		if errors.Is(err, user.ErrInvalidCredentials) || errors.Is(err, user.ErrThrottled) || errors.Is(err, user.ErrNotFound) {
			restapi.Unauthorized(w, "Authentication failed for the client registration request")
			return
		}
		restapi.Internal(w, g.log, err)
		return
	}
	var req registrationRequest
	if !restapi.DecodeJSON(w, r, &req, 64<<10) {
		return
	}
	req.ClientName = strings.TrimSpace(req.ClientName)
	if req.ClientName == "" {
		restapi.BadRequest(w, "clientName is required")
		return
	}
	owner := strings.TrimSpace(req.Owner)
	if owner == "" {
		owner = caller.Username
	}
	// A user registers clients for themselves; only the caller's own name
	// is accepted as owner (WSO2 checks the same).
	if !strings.EqualFold(owner, caller.Username) {
		restapi.Forbidden(w, "the owner must be the authenticated user")
		return
	}
	grants := strings.FieldsFunc(req.GrantType, func(r rune) bool { return r == ' ' || r == ',' })
	if len(grants) == 0 {
		grants = []string{"password", "refresh_token", "client_credentials"}
	}
	ctx := r.Context()
	c, err := g.clients.GetClientByName(ctx, req.ClientName)
	switch {
	case err == nil:
		// Re-registering the same name returns the existing client, as
		// APIM does, so apictl login can be repeated.
		if !strings.EqualFold(c.Owner, caller.Username) {
			restapi.Conflict(w, "an OAuth application named "+req.ClientName+" is registered by another user")
			return
		}
	case errors.Is(err, oauth.ErrClientNotFound):
		c = &oauth.Client{Name: req.ClientName, Owner: caller.Username, GrantTypes: grants, TokenType: "JWT",
			AuthMethod: "client_secret_basic", FirstParty: true, DisplayName: req.ClientName,
			Extra: map[string]any{"saasApp": req.SaaSApp, "tokenScope": req.TokenScope}}
		if cb := strings.TrimSpace(req.CallbackURL); cb != "" {
			c.RedirectURIs = []string{cb}
		}
		if strings.EqualFold(req.TokenType, "Default") || strings.EqualFold(req.TokenType, "OAUTH") {
			c.TokenType = "Default"
		}
		if err := g.clients.CreateClient(ctx, c); err != nil {
			if errors.Is(err, oauth.ErrClientConflict) {
				restapi.Conflict(w, "an OAuth application named "+req.ClientName+" already exists")
				return
			}
			restapi.Internal(w, g.log, err)
			return
		}
	default:
		restapi.Internal(w, g.log, err)
		return
	}
	cb := strings.Join(c.RedirectURIs, ",")
	saas, _ := c.Extra["saasApp"].(bool)
	js, _ := json.Marshal(map[string]string{"grant_types": strings.Join(c.GrantTypes, " "), "redirect_uris": cb, "client_name": c.Name})
	restapi.WriteJSON(w, http.StatusOK, registrationResponse{ClientID: c.ID, ClientName: c.Name, CallBackURL: cb,
		ClientSecret: c.Secret, IsSaasApplication: saas, AppOwner: c.Owner, JSONString: string(js), JSONAppAttribute: "{}",
		TokenType: tokenType(c.TokenType)})
}

func tokenType(t string) string {
	if t == "Default" {
		return "DEFAULT"
	}
	return "JWT"
}
