package subscription

import (
	"context"
	"errors"
	"testing"

	"github.com/keyway/keyway/internal/apim/keymanager"
	"github.com/keyway/keyway/internal/db/dbtest"
	"github.com/keyway/keyway/internal/secret"
)

// fakeConnector is an in-memory key manager.
type fakeConnector struct {
	retains bool
	clients map[string]string // id -> secret
	deleted []string
	n       int
}

func (f *fakeConnector) RegisterClient(_ context.Context, req keymanager.ClientRequest) (*keymanager.Client, error) {
	f.n++
	id := req.ClientName
	f.clients[id] = "s3cret"
	return &keymanager.Client{ClientID: id, ClientSecret: "s3cret", GrantTypes: req.GrantTypes, Properties: map[string]any{}}, nil
}
func (f *fakeConnector) GetClient(_ context.Context, id string) (*keymanager.Client, error) {
	s, ok := f.clients[id]
	if !ok {
		return nil, keymanager.ErrClientNotFound
	}
	if !f.retains {
		s = ""
	}
	return &keymanager.Client{ClientID: id, ClientSecret: s}, nil
}
func (f *fakeConnector) UpdateClient(ctx context.Context, req keymanager.ClientRequest) (*keymanager.Client, error) {
	return f.GetClient(ctx, req.ClientID)
}
func (f *fakeConnector) DeleteClient(_ context.Context, id string) error {
	f.deleted = append(f.deleted, id)
	delete(f.clients, id)
	return nil
}
func (f *fakeConnector) RegenerateSecret(context.Context, string) (string, error) {
	return "", keymanager.ErrUnsupported
}
func (f *fakeConnector) MapClient(ctx context.Context, id, _ string) (*keymanager.Client, error) {
	return f.GetClient(ctx, id)
}
func (f *fakeConnector) Token(_ context.Context, id, secret string, scopes []string) (*keymanager.Token, error) {
	if f.clients[id] != secret {
		return nil, errors.New("bad secret")
	}
	return &keymanager.Token{AccessToken: "tok-" + id, Scopes: scopes, ExpiresIn: 60}, nil
}
func (f *fakeConnector) Introspect(context.Context, string) (*keymanager.Introspection, error) {
	return nil, nil
}
func (f *fakeConnector) RegisterScopes(context.Context, []keymanager.Scope) error { return nil }
func (f *fakeConnector) DeleteScopes(context.Context, []string) error             { return nil }
func (f *fakeConnector) RetainsSecret() bool                                      { return f.retains }

type fakeKMs struct{ c *fakeConnector }

func (k fakeKMs) Connector(_ context.Context, name string) (keymanager.Connector, *keymanager.Config, error) {
	if name != "ext" {
		return nil, nil, keymanager.ErrNotFound
	}
	return k.c, &keymanager.Config{ID: "km-1", Name: "ext", Enabled: true, EnableOAuthAppCreation: true, EnableTokenGeneration: true,
		EnableMapOAuthConsumerApps: true, AvailableGrantTypes: []string{"client_credentials", "password"}}, nil
}

func TestManagerSealsSecretsOnlyWhenNeeded(t *testing.T) {
	ctx := context.Background()
	st, err := New(ctx, dbtest.SQLite(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	sealer, _ := secret.NewSealerFromKey(make([]byte, 32))
	conn := &fakeConnector{clients: map[string]string{}}
	m := &Manager{Store: st, KMs: fakeKMs{conn}, Sealer: sealer}
	app := &Application{Name: "A", Owner: "dev", ThrottlingPolicy: "Unlimited"}
	if err := st.CreateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	keys, err := m.GenerateKeys(ctx, app, GenerateRequest{KeyType: Production, KeyManager: "ext", GrantTypes: []string{"client_credentials"}})
	if err != nil {
		t.Fatal(err)
	}
	if keys.Mapping.SealedSecret == "" || keys.Mapping.SealedSecret == "s3cret" || keys.Token == nil {
		t.Fatalf("mapping = %+v token %+v", keys.Mapping, keys.Token)
	}
	if keys.Client.ClientID != "dev_"+app.UUID+"_PRODUCTION" {
		t.Errorf("client name = %s", keys.Client.ClientID)
	}
	// The sealed copy gets tokens although the key manager forgets secrets.
	tok, err := m.Token(ctx, keys.Mapping, "", []string{"s"})
	if err != nil || tok.AccessToken == "" {
		t.Fatalf("token: %v", err)
	}
	if _, err := m.GenerateKeys(ctx, app, GenerateRequest{KeyType: Production, KeyManager: "ext", GrantTypes: []string{"client_credentials"}}); !errors.Is(err, ErrConflict) {
		t.Errorf("second generation: %v", err)
	}
	if _, err := m.GenerateKeys(ctx, app, GenerateRequest{KeyType: Sandbox, KeyManager: "ext", GrantTypes: []string{"implicit"}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("unsupported grant: %v", err)
	}
	if conn.n != 1 {
		t.Errorf("the key manager was called for rejected requests: %d", conn.n)
	}
	// A consumer key already mapped elsewhere: the new client is undone.
	other := &Application{Name: "B", Owner: "dev", ThrottlingPolicy: "Unlimited"}
	_ = st.CreateApplication(ctx, other)
	_ = st.CreateKeyMapping(ctx, &KeyMapping{ApplicationUUID: app.UUID, KeyType: Sandbox, KeyManager: "ext", ConsumerKey: "dev_" + other.UUID + "_SANDBOX"})
	if _, err := m.GenerateKeys(ctx, other, GenerateRequest{KeyType: Sandbox, KeyManager: "ext", GrantTypes: []string{"password"}}); !errors.Is(err, ErrConflict) {
		t.Fatalf("conflicting mapping: %v", err)
	}
	if len(conn.deleted) != 1 || conn.deleted[0] != "dev_"+other.UUID+"_SANDBOX" {
		t.Errorf("undo deleted %v", conn.deleted)
	}
	if err := m.DeleteApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	if _, ok := conn.clients["dev_"+app.UUID+"_PRODUCTION"]; ok {
		t.Error("the application's client survived")
	}
}
