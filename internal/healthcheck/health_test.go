package healthcheck

import (
	"bytes"
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health/ready" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"status":"x"}`))
	}))
	defer srv.Close()
	ready := srv.URL + "/health/ready"

	// Loopback without --ca: the self-signed certificate is accepted.
	if err := Check(context.Background(), Options{URL: ready}); err != nil {
		t.Fatalf("healthy server: %v", err)
	}
	// With --ca the certificate is verified.
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Check(context.Background(), Options{URL: ready, CAFile: ca}); err != nil {
		t.Fatalf("with --ca: %v", err)
	}
	status = http.StatusServiceUnavailable
	if err := Check(context.Background(), Options{URL: ready}); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("unready server: err = %v", err)
	}
	if err := Check(context.Background(), Options{URL: srv.URL + "/nope"}); err == nil {
		t.Fatal("404 counted as healthy")
	}
	if err := Check(context.Background(), Options{URL: "ftp://x"}); err == nil {
		t.Fatal("bad URL accepted")
	}
}

func TestCommand(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	cmd := NewHealthCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"--url", srv.URL + "/health/live"})
	if err := cmd.Execute(); err != nil || !strings.Contains(out.String(), "healthy") {
		t.Fatalf("health command: %v %q", err, out.String())
	}
	srv.Close()
	cmd = NewHealthCommand()
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"--url", srv.URL + "/health/live"})
	if err := cmd.Execute(); err == nil {
		t.Fatal("a stopped server is healthy")
	}
}
