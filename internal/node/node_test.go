package node_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyway/keyway/internal/config"
	"github.com/keyway/keyway/internal/keystore"
	"github.com/keyway/keyway/internal/node"
	"github.com/keyway/keyway/internal/platform"
	"software.sslmate.com/src/go-pkcs12"
)

func newPlatform(t *testing.T, cfg *config.Config, dataDir string) (*platform.Platform, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	p, err := node.NewPlatform(t.Context(), cfg, node.Options{Role: "test", DataDir: dataDir, LogOutput: &syncWriter{w: &logs}})
	if err != nil {
		t.Fatal(err)
	}
	return p, &logs
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

func TestNewPlatformDefaults(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Server.Hostname = "am.example.com"
	p, logs := newPlatform(t, cfg, dir)

	for _, f := range []string{node.PrimaryKeyStoreFile, node.InternalKeyFile, node.TrustStoreFile} {
		if _, err := os.Stat(filepath.Join(dir, "security", f)); err != nil {
			t.Errorf("default file: %v", err)
		}
	}
	if p.TLS != p.Primary {
		t.Error("without [keystore.tls], TLS should use the primary keystore")
	}
	if p.Internal.Certificate.Equal(p.Primary.Certificate) {
		t.Error("the internal key should be its own")
	}
	cert := p.TLS.Certificate
	for _, h := range []string{"am.example.com", "localhost", "127.0.0.1", "::1"} {
		if err := cert.VerifyHostname(h); err != nil {
			t.Errorf("SAN %s: %v", h, err)
		}
	}
	if !trusts(p.Trust, cert.Raw) {
		t.Error("truststore does not hold the node's own certificate")
	}
	saved, err := keystore.LoadTrustStore(keystore.Options{File: filepath.Join(dir, "security", node.TrustStoreFile)})
	if err != nil || !trusts(saved, cert.Raw) {
		t.Errorf("saved truststore lacks own certificate: %v", err)
	}
	sealed, err := p.Sealer.Seal("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := p.Sealer.Open(sealed); err != nil || got != "s3cret" {
		t.Errorf("sealer: %q %v", got, err)
	}
	if p.BaseURL != "https://am.example.com:9443" || p.DataDir != dir {
		t.Errorf("base URL %s, data dir %s", p.BaseURL, p.DataDir)
	}
	if !strings.Contains(logs.String(), "admin/admin") {
		t.Error("no warning about the default super admin")
	}
	if !strings.Contains(logs.String(), `"role":"test"`) {
		t.Errorf("logs are not JSON with the role: %s", logs)
	}

	// A restart reuses the keys, and does not duplicate the truststore entry.
	again, _ := newPlatform(t, cfg, dir)
	if !again.TLS.Certificate.Equal(cert) || !again.Internal.Certificate.Equal(p.Internal.Certificate) {
		t.Error("restart generated new keys")
	}
	if n := len(again.Trust.Entries()); n != 1 {
		t.Errorf("truststore has %d entries after restart", n)
	}
}

func trusts(ts *keystore.TrustStore, raw []byte) bool {
	return slices.ContainsFunc(ts.Entries(), func(e keystore.TrustedCert) bool { return bytes.Equal(e.Cert.Raw, raw) })
}

func TestNewPlatformConfiguredKeystore(t *testing.T) {
	dir := t.TempDir()
	ks, err := keystore.Generate("wso2carbon", []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	data, err := pkcs12.Modern2023.WithRand(rand.Reader).Encode(ks.Key, ks.Certificate, nil, "pw")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "wso2carbon.p12")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Keystore.Primary = config.Keystore{FileName: file, Type: "PKCS12", PasswordFile: pwFile, Alias: "wso2carbon"}
	cfg.Log.Format = "text"
	p, logs := newPlatform(t, cfg, filepath.Join(dir, "data"))
	if !p.Primary.Certificate.Equal(ks.Certificate) || p.TLS != p.Primary {
		t.Error("configured primary keystore not used for signing and TLS")
	}
	if !trusts(p.Trust, ks.Certificate.Raw) {
		t.Error("own certificate not trusted")
	}
	if !strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("text logs expected: %s", logs)
	}

	cfg.Keystore.Primary.PasswordFile = ""
	cfg.Keystore.Primary.Password = "wrong"
	_, err = node.NewPlatform(t.Context(), cfg, node.Options{DataDir: filepath.Join(dir, "data"), LogOutput: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "[keystore.primary]") || !strings.Contains(err.Error(), "wso2carbon.p12") {
		t.Errorf("wrong password: %v", err)
	}
}

// recorder is a component that records its lifecycle.
type recorder struct {
	name   string
	log    *[]string
	mu     *sync.Mutex
	routes string
}

func (r recorder) Name() string { return r.name }
func (r recorder) Mount(mux *http.ServeMux) {
	if r.routes != "" {
		mux.HandleFunc(r.routes, func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, r.name) })
	}
}
func (r recorder) Close(context.Context) error {
	r.mu.Lock()
	*r.log = append(*r.log, "close "+r.name)
	r.mu.Unlock()
	return nil
}

type gatewayRecorder struct{ recorder }

func (g gatewayRecorder) GatewayHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "gateway "+r.URL.Path) })
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	res, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestServe(t *testing.T) {
	cfg := config.Default()
	cfg.Server.BindAddress = "127.0.0.1"
	p, _ := newPlatform(t, cfg, t.TempDir())
	var events []string
	var mu sync.Mutex
	comps := []platform.Component{
		recorder{name: "first", log: &events, mu: &mu, routes: "GET /first"},
		gatewayRecorder{recorder{name: "gw", log: &events, mu: &mu}},
		recorder{name: "last", log: &events, mu: &mu},
	}
	var out bytes.Buffer
	s, err := node.Start(t.Context(), p, comps, node.WithAnyPorts(), node.WithOutput(&out), node.WithTitle("Keyway Test"))
	if err != nil {
		t.Fatal(err)
	}
	client := p.Trust.HTTPClient(10 * time.Second)
	base := "https://localhost:" + strconv.Itoa(s.ManagementPort())
	tests := []struct {
		url, want string
		code      int
	}{
		{base + "/health/live", `"UP"`, 200},
		{base + "/health/ready", `"status":"UP"`, 200},
		{base + "/metrics", "keyway_management_http_requests_total", 200},
		{base + "/metrics", "go_goroutines", 200},
		{base + "/metrics", "process_resident_memory_bytes", 200},
		{base + "/first", "first", 200},
		{"https://127.0.0.1:" + strconv.Itoa(s.GatewayHTTPSPort()) + "/pizzashack/1.0.0/menu", "gateway /pizzashack/1.0.0/menu", 200},
		{"http://127.0.0.1:" + strconv.Itoa(s.GatewayHTTPPort()) + "/x", "gateway /x", 200},
	}
	for _, tt := range tests {
		code, body := get(t, client, tt.url)
		if code != tt.code || !strings.Contains(body, tt.want) {
			t.Errorf("GET %s = %d %q, want %d containing %q", tt.url, code, body, tt.code, tt.want)
		}
	}
	if !strings.Contains(out.String(), "Keyway Test is ready") || !strings.Contains(out.String(), s.ManagementURL()+"/health/ready") {
		t.Errorf("banner: %s", out.String())
	}

	// A failing readiness check turns ready to 503.
	p.Health.AddCheck("database:test", func(context.Context) error { return io.ErrUnexpectedEOF })
	if code, body := get(t, client, base+"/health/ready"); code != 503 || !strings.Contains(body, "database:test") {
		t.Errorf("failing check: %d %s", code, body)
	}

	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(events, ","); got != "close last,close gw,close first" {
		t.Errorf("close order: %s", got)
	}
	if _, err := client.Get(base + "/health/live"); err == nil {
		t.Error("management listener still answers after shutdown")
	}
}

func TestStartFailsClosesComponents(t *testing.T) {
	cfg := config.Default()
	cfg.Server.BindAddress = "127.0.0.1"
	p, _ := newPlatform(t, cfg, t.TempDir())
	var events []string
	var mu sync.Mutex
	comps := []platform.Component{
		recorder{name: "a", log: &events, mu: &mu, routes: "GET /same"},
		recorder{name: "b", log: &events, mu: &mu, routes: "GET /same"},
	}
	_, err := node.Start(t.Context(), p, comps, node.WithAnyPorts(), node.WithOutput(nil))
	if err == nil || !strings.Contains(err.Error(), "mount b") {
		t.Fatalf("route clash: %v", err)
	}
	if got := strings.Join(events, ","); got != "close b,close a" {
		t.Errorf("components not closed on failure: %s", got)
	}
}

func TestRunTwoRolesTrustEachOther(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	var events []string
	var mu sync.Mutex
	var ready sync.WaitGroup
	ready.Add(2)
	var platforms sync.Map
	role := func(name string) node.Role {
		cfg := config.Default()
		cfg.Server.BindAddress = "127.0.0.1"
		return node.Role{
			Name: name, Title: name, Config: cfg,
			Options: node.Options{DataDir: filepath.Join(dir, name), LogOutput: io.Discard},
			Components: func(ctx context.Context, p *platform.Platform) ([]platform.Component, error) {
				platforms.Store(name, p)
				ready.Done()
				return []platform.Component{recorder{name: name, log: &events, mu: &mu}}, nil
			},
			Serve: []node.ServeOption{node.WithAnyPorts(), node.WithOutput(nil)},
		}
	}
	done := make(chan error, 1)
	go func() { done <- node.Run(ctx, role("is"), role("apim")) }()
	ready.Wait()
	is, _ := platforms.Load("is")
	apim, _ := platforms.Load("apim")
	isP, apimP := is.(*platform.Platform), apim.(*platform.Platform)
	if !trusts(isP.Trust, apimP.TLS.Certificate.Raw) || !trusts(apimP.Trust, isP.TLS.Certificate.Raw) {
		t.Error("the roles do not trust each other")
	}
	saved, err := keystore.LoadTrustStore(keystore.Options{File: filepath.Join(dir, "apim", "security", node.TrustStoreFile)})
	if err != nil || !trusts(saved, isP.TLS.Certificate.Raw) {
		t.Errorf("apim's saved truststore lacks the IS certificate: %v", err)
	}
	if isP.TLS.Certificate.Equal(apimP.TLS.Certificate) {
		t.Error("each role should have its own generated keystore")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(events, ","); got != "close apim,close is" {
		t.Errorf("stop order: %s", got)
	}
}

func TestDatabaseConfig(t *testing.T) {
	tests := []struct {
		name    string
		in      config.Database
		wantURL string
		wantErr bool
	}{
		{"embedded", config.Database{Type: "h2"}, "", false},
		{"url wins", config.Database{Type: "postgre", URL: "jdbc:postgresql://db:5432/apim", Hostname: "ignored"}, "jdbc:postgresql://db:5432/apim", false},
		{"postgres host", config.Database{Type: "postgre", Hostname: "pg", Name: "am"}, "jdbc:postgresql://pg:5432/am", false},
		{"mysql host port", config.Database{Type: "mysql", Hostname: "my", Port: 3307}, "jdbc:mysql://my:3307/apim_db", false},
		{"ipv6 host", config.Database{Type: "mariadb", Hostname: "::1", Name: "x"}, "jdbc:mysql://[::1]:3306/x", false},
		{"host without server type", config.Database{Type: "h2", Hostname: "x"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.Username, tt.in.Password = "u", "p"
			tt.in.PoolOptions = config.PoolOptions{MaxActive: 7, MaxIdle: 3, MaxLifetime: 60000}
			got, err := node.DatabaseConfig(tt.in, "apim_db", "/data")
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err != nil {
				return
			}
			if got.URL != tt.wantURL || got.Username != "u" || got.Password != "p" || got.Name != "apim_db" || got.DataDir != "/data" {
				t.Errorf("got %+v", got)
			}
			if got.MaxOpen != 7 || got.MaxIdle != 3 || got.MaxLifetime != time.Minute {
				t.Errorf("pool = %d %d %s", got.MaxOpen, got.MaxIdle, got.MaxLifetime)
			}
		})
	}
}

func TestOpenDatabase(t *testing.T) {
	dir := t.TempDir()
	p, _ := newPlatform(t, config.Default(), dir)
	d, err := node.OpenDatabase(t.Context(), p, p.Config.Database.Identity, "identity_db")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "database", "identity_db.db")); err != nil {
		t.Errorf("embedded file: %v", err)
	}
	p.Health.MarkReady()
	s, err := node.Start(t.Context(), p, nil, node.WithAnyPorts(), node.WithOutput(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.WithoutCancel(t.Context()))
	client := p.Trust.HTTPClient(10 * time.Second)
	url := "https://localhost:" + strconv.Itoa(s.ManagementPort()) + "/health/ready"
	if code, body := get(t, client, url); code != 200 || !strings.Contains(body, `"database:identity_db":"UP"`) {
		t.Errorf("ready: %d %s", code, body)
	}
	d.Close()
	if code, _ := get(t, client, url); code != 503 {
		t.Errorf("ready with a closed database: %d", code)
	}
}
