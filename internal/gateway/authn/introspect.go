package authn

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/keyway/keyway/internal/gateway/fault"
	"github.com/keyway/keyway/internal/gateway/revocation"
	"github.com/keyway/keyway/internal/gateway/snapshot"
)

type introspection struct {
	Active    bool        `json:"active"`
	ClientID  string      `json:"client_id"`
	Scope     string      `json:"scope"`
	Exp       json.Number `json:"exp"`
	Iat       json.Number `json:"iat"`
	Aut       string      `json:"aut"`
	Username  string      `json:"username"`
	Sub       string      `json:"sub"`
	TokenType string      `json:"token_type"`
	Iss       string      `json:"iss"`
}

// introspect resolves an opaque token at the API's key managers that have
// an introspection endpoint (RFC 7662), the first active answer winning.
func (a *Authenticator) introspect(ctx context.Context, snap *snapshot.Snapshot, api *snapshot.API, token string, now time.Time) (*Principal, *fault.Fault, bool) {
	hash := revocation.HashOpaque(token)
	if a.cfg.Revoked.Revoked(hash) || a.cfg.Revoked.Revoked(token) {
		return nil, errInvalid, false
	}
	for _, km := range snap.KeyManagers() {
		if km.IntrospectionEndpoint == "" || !api.AllowsKeyManager(km.Name) {
			continue
		}
		res, err := a.callIntrospection(ctx, km, token)
		if err != nil {
			// The key manager is unreachable: fail this request only.
			return nil, fault.New(http.StatusUnauthorized, fault.InvalidCredentials, "Invalid Credentials",
				"Token introspection failed at the key manager"), false
		}
		if !res.Active || strings.EqualFold(res.TokenType, "Refresh") {
			continue
		}
		p := &Principal{Kind: KindOpaque, KeyManager: km.Name, ConsumerKey: res.ClientID, TokenID: hash,
			Scopes: strings.Fields(res.Scope), ApplicationToken: strings.EqualFold(res.Aut, "APPLICATION"),
			Subject: res.Username, Issuer: res.Iss}
		if p.Subject == "" {
			p.Subject = res.Sub
		}
		p.User = QualifiedUser(p.Subject)
		if len(p.Scopes) == 0 {
			p.Scopes = []string{"default"}
		}
		if exp, err := res.Exp.Int64(); err == nil && exp > 0 {
			p.Expiry = time.Unix(exp, 0)
		}
		p.IssuedAt, _ = res.Iat.Int64()
		return p, nil, false
	}
	// No key manager can introspect the token, or none knows it.
	return nil, errInvalid, true
}

func (a *Authenticator) callIntrospection(ctx context.Context, km *snapshot.KeyManager, token string) (*introspection, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, km.IntrospectionEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("introspection request for %s: %w", km.Name, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if km.IntrospectionUsername != "" {
		req.SetBasicAuth(km.IntrospectionUsername, km.IntrospectionPassword)
	}
	resp, err := a.cfg.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("introspect at %s: %w", km.Name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("introspect at %s: status %d", km.Name, resp.StatusCode)
	}
	var res introspection
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&res); err != nil {
		return nil, fmt.Errorf("decode introspection from %s: %w", km.Name, err)
	}
	return &res, nil
}
