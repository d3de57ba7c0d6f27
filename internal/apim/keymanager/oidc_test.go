package keymanager

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestOIDCConnector(t *testing.T) {
	clients := map[string]map[string]any{}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		write := func(status int, v any) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(v)
		}
		switch {
		case r.URL.Path == "/register" && r.Method == http.MethodPost:
			if r.Header.Get("Authorization") != "Bearer iat-1" {
				write(http.StatusUnauthorized, map[string]any{"error": "invalid_token"})
				return
			}
			var body map[string]any
			_ = json.NewDecoder(r.Body).Decode(&body)
			if body["token_endpoint_auth_method"] != "client_secret_basic" {
				t.Errorf("registration body = %v", body)
			}
			body["client_id"], body["client_secret"] = "oidc-1", "oidc-secret"
			clients["oidc-1"] = body
			write(http.StatusCreated, body)
		case strings.HasPrefix(r.URL.Path, "/register/") && r.Method == http.MethodDelete:
			delete(clients, strings.TrimPrefix(r.URL.Path, "/register/"))
			w.WriteHeader(http.StatusNoContent)
		case r.URL.Path == "/token":
			u, p, _ := r.BasicAuth()
			if u != "oidc-1" || p != "oidc-secret" || r.FormValue("grant_type") != "client_credentials" {
				write(http.StatusUnauthorized, map[string]any{"error": "invalid_client", "error_description": "Bad client"})
				return
			}
			write(http.StatusOK, map[string]any{"access_token": "t", "expires_in": 300, "token_type": "Bearer", "scope": r.FormValue("scope")})
		case r.URL.Path == "/introspect":
			if u, _, _ := r.BasicAuth(); u != "rs" {
				write(http.StatusUnauthorized, map[string]any{})
				return
			}
			write(http.StatusOK, map[string]any{"active": true, "client_id": "oidc-1", "scope": "x", "exp": 10, "iat": 5})
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	cfg := &Config{Name: "okta", Type: TypeOIDC, ClientRegistrationEndpoint: srv.URL + "/register", TokenEndpoint: srv.URL + "/token",
		IntrospectionEndpoint: srv.URL + "/introspect", AdditionalProperties: map[string]any{"initial_access_token": "iat-1", "Username": "rs", "Password": "pw"}}
	o, err := NewOIDC(cfg, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := o.RegisterClient(ctx, ClientRequest{ClientName: "a_b_PRODUCTION", GrantTypes: []string{"client_credentials"}})
	if err != nil || c.ClientID != "oidc-1" || c.ClientSecret != "oidc-secret" {
		t.Fatalf("register = %+v %v", c, err)
	}
	if o.RetainsSecret() {
		t.Error("a generic provider does not give the secret back")
	}
	tok, err := o.Token(ctx, c.ClientID, c.ClientSecret, []string{"x", "y"})
	if err != nil || tok.AccessToken != "t" || len(tok.Scopes) != 2 {
		t.Fatalf("token = %+v %v", tok, err)
	}
	var remote *RemoteError
	if _, err := o.Token(ctx, c.ClientID, "wrong", nil); !errors.As(err, &remote) || remote.Status != 401 || remote.Message != "Bad client" {
		t.Errorf("bad secret: %v", err)
	}
	if _, err := o.MapClient(ctx, c.ClientID, "wrong"); !errors.Is(err, ErrInvalid) {
		t.Errorf("map with a bad secret: %v", err)
	}
	in, err := o.Introspect(ctx, "t")
	if err != nil || !in.Active || in.ClientID != "oidc-1" {
		t.Errorf("introspect = %+v %v", in, err)
	}
	if err := o.DeleteClient(ctx, c.ClientID); err != nil || len(clients) != 0 {
		t.Errorf("delete: %v", err)
	}
	if _, err := o.RegenerateSecret(ctx, "x"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("regenerate: %v", err)
	}
}
