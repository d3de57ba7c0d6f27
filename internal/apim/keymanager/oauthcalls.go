package keymanager

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// clientCredentials gets an application token with Basic client
// credentials (PATTERN6-WIRE §2.5, RFC 6749 §4.4).
func clientCredentials(ctx context.Context, c *caller, endpoint, clientID, clientSecret string, scopes []string) (*Token, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {strings.Join(scopes, " ")}}
	var out struct {
		AccessToken string      `json:"access_token"`
		ExpiresIn   json.Number `json:"expires_in"`
		Scope       string      `json:"scope"`
		TokenType   string      `json:"token_type"`
	}
	if _, err := c.do(ctx, request{op: "token", method: http.MethodPost, url: endpoint, header: basic(clientID, clientSecret), form: form, out: &out}); err != nil {
		return nil, err
	}
	exp, _ := out.ExpiresIn.Int64()
	return &Token{AccessToken: out.AccessToken, ExpiresIn: exp, Scopes: strings.Fields(out.Scope), TokenType: out.TokenType}, nil
}

// introspect calls an RFC 7662 endpoint and applies WSO2's rules (§2.6): a
// refresh token is never valid for API calls.
func introspect(ctx context.Context, c *caller, endpoint string, h http.Header, token string) (*Introspection, error) {
	var out struct {
		Active    bool        `json:"active"`
		TokenType string      `json:"token_type"`
		IAT       json.Number `json:"iat"`
		EXP       json.Number `json:"exp"`
		Scope     string      `json:"scope"`
		ClientID  string      `json:"client_id"`
		Username  string      `json:"username"`
		AUT       string      `json:"aut"`
	}
	if _, err := c.do(ctx, request{op: "introspect", method: http.MethodPost, url: endpoint, header: h, form: url.Values{"token": {token}}, out: &out}); err != nil {
		return nil, err
	}
	iat, _ := out.IAT.Int64()
	exp, _ := out.EXP.Int64()
	in := &Introspection{Active: out.Active && !strings.EqualFold(out.TokenType, "Refresh"), TokenType: out.TokenType,
		IssuedAt: iat, ExpiresAt: exp, Scopes: strings.Fields(out.Scope), ClientID: out.ClientID, Username: out.Username,
		Application: strings.EqualFold(out.AUT, "APPLICATION")}
	return in, nil
}

// ClientCredentials gets an application token from endpoint with Basic
// client credentials, for connectors outside this package.
func ClientCredentials(ctx context.Context, client *http.Client, endpoint, clientID, clientSecret string, scopes []string) (*Token, error) {
	return clientCredentials(ctx, &caller{http: client}, endpoint, clientID, clientSecret, scopes)
}

// SplitCallback splits an API Manager callback URL list on commas.
func SplitCallback(cb string) []string {
	cb = strings.TrimSpace(cb)
	if cb == "" {
		return nil
	}
	return callbackSplit.Split(cb, -1)
}

// PropString reads a developer-portal key property as a string; "N/A" and
// absent mean "".
func PropString(props map[string]any, name string) string { return propString(props, name) }
