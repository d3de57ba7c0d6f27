package apim

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyway/keyway/internal/config"
	"github.com/keyway/keyway/internal/contracttest"
	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/events"
	"github.com/keyway/keyway/internal/httpx"
	"github.com/keyway/keyway/internal/keystore"
	"github.com/keyway/keyway/internal/platform"
	"github.com/keyway/keyway/internal/secret"
	"github.com/keyway/keyway/internal/user"
)

// env is a running API Manager on an httptest TLS server.
type env struct {
	t      *testing.T
	srv    *httptest.Server
	apim   *Server
	client *http.Client
	bus    *events.Local
	events []events.Event
	trust  *keystore.TrustStore
}

func newEnv(t *testing.T, d *db.DB, opts ...Option) *env {
	t.Helper()
	return newEnvTrusting(t, d, nil, opts...)
}

// newEnvTrusting also trusts extra certificates (fake key managers): the
// truststore client is built once, at start, as in production.
func newEnvTrusting(t *testing.T, d *db.DB, extra []*x509.Certificate, opts ...Option) *env {
	t.Helper()
	ks, err := keystore.Generate("wso2carbon", []string{"localhost", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := secret.NewSealerFromKey(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	trust := keystore.NewTrustStore(filepath.Join(t.TempDir(), "trust.pem"))
	trust.Add("apim", srv.Certificate())
	for i, c := range extra {
		trust.Add(fmt.Sprintf("extra-%d", i), c)
	}
	e := &env{t: t, srv: srv, client: trust.HTTPClient(0), bus: events.NewLocal(), trust: trust}
	e.bus.Subscribe(func(ev events.Event) { e.events = append(e.events, ev) })
	p := &platform.Platform{Config: config.Default(), Logger: nil, DataDir: t.TempDir(), Primary: ks, TLS: ks, Internal: ks,
		Sealer: sealer, Trust: trust, Health: httpx.NewHealth(), Bus: e.bus, BaseURL: srv.URL}
	opts = append([]Option{WithPasswordHashing(user.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1})}, opts...)
	s, err := New(context.Background(), p, d, d, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	s.Mount(mux)
	e.apim = s
	return e
}

// call sends a request and decodes a JSON answer; contract, when not
// empty, names the contract file the response must match.
func (e *env) call(method, path, auth string, body any, contract string) (int, map[string]any, []byte) {
	e.t.Helper()
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, ctype = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	case string:
		rd, ctype = strings.NewReader(b), "application/json"
	default:
		raw, _ := json.Marshal(b)
		rd, ctype = bytes.NewReader(raw), "application/json"
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Accept", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	var raw []byte
	var resp *http.Response
	if contract != "" {
		resp, raw = contracttest.Load(e.t, contract).Do(e.t, e.client, req)
	} else {
		resp, err = e.client.Do(req)
		if err != nil {
			e.t.Fatal(err)
		}
		raw, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	out := map[string]any{}
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out, raw
}

func basicAuth(u, p string) string {
	r := http.Request{Header: http.Header{}}
	r.SetBasicAuth(u, p)
	return r.Header.Get("Authorization")
}

func bearer(tok string) string { return "Bearer " + tok }
