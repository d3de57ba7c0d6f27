package httpx_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyway/keyway/internal/httpx"
	"github.com/keyway/keyway/internal/keystore"
	"github.com/prometheus/client_golang/prometheus"
)

func TestChain(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	reg := prometheus.NewRegistry()
	m := httpx.NewMetrics(reg, "test")
	var seenID string
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		seenID = httpx.RequestID(r.Context())
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	h := httpx.Chain(mux, "management", logger, m, true)

	tests := []struct {
		name, path, inID string
		code             int
		body             string
	}{
		{"request id kept", "/ok", "abc-123", 200, "ok"},
		{"request id made", "/ok", "", 200, "ok"},
		{"oversized id replaced", "/ok", strings.Repeat("x", 200), 200, "ok"},
		{"panic recovered", "/panic", "", 500, `"message":"Internal Server Error"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", tt.path, nil)
			if tt.inID != "" {
				req.Header.Set("X-Request-ID", tt.inID)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.code || !strings.Contains(rec.Body.String(), tt.body) {
				t.Fatalf("got %d %q", rec.Code, rec.Body)
			}
			id := rec.Header().Get("X-Request-ID")
			switch {
			case id == "":
				t.Error("no X-Request-ID")
			case tt.inID != "" && len(tt.inID) <= 128 && id != tt.inID:
				t.Errorf("request id %q, want %q", id, tt.inID)
			case len(id) > 128:
				t.Error("oversized request id echoed")
			}
			if tt.code == 200 && seenID != id {
				t.Errorf("handler saw id %q, response has %q", seenID, id)
			}
		})
	}
	if n := requests(t, reg, "2xx"); n != 3 {
		t.Errorf("2xx count = %v", n)
	}
	if n := requests(t, reg, "5xx"); n != 1 {
		t.Errorf("5xx count = %v", n)
	}
	if !strings.Contains(logs.String(), `"msg":"panic serving request"`) || !strings.Contains(logs.String(), `"path":"/ok"`) {
		t.Errorf("logs: %s", logs.String())
	}
	// Registering the same metrics again reuses the collectors.
	h2 := httpx.Chain(mux, "management", logger, httpx.NewMetrics(reg, "test"), false)
	h2.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/ok", nil))
	if n := requests(t, reg, "2xx"); n != 4 {
		t.Errorf("2xx count after re-registration = %v", n)
	}
}

func requests(t *testing.T, reg *prometheus.Registry, class string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "keyway_test_http_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "code" && l.GetValue() == class {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func TestHealth(t *testing.T) {
	h := httpx.NewHealth()
	mux := http.NewServeMux()
	h.Mount(mux)
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Code, rec.Body.String()
	}
	if code, _ := get("/health/live"); code != 200 {
		t.Errorf("live = %d", code)
	}
	if code, body := get("/health/ready"); code != 503 || !strings.Contains(body, "starting") {
		t.Errorf("ready before MarkReady = %d %s", code, body)
	}
	h.MarkReady()
	if code, _ := get("/health/ready"); code != 200 {
		t.Errorf("ready = %d", code)
	}
	h.AddCheck("db", func(context.Context) error { return errors.New("connection refused") })
	if code, body := get("/health/ready"); code != 503 || !strings.Contains(body, "connection refused") {
		t.Errorf("ready with failing check = %d %s", code, body)
	}
}

func TestDecodeJSON(t *testing.T) {
	var v struct{ Name string }
	req := httptest.NewRequest("POST", "/", strings.NewReader(`{"name":"pizza"}`))
	if err := httpx.DecodeJSON(req, &v, 0); err != nil || v.Name != "pizza" {
		t.Errorf("decode: %v %+v", err, v)
	}
	req = httptest.NewRequest("POST", "/", strings.NewReader(`{"name":"`+strings.Repeat("x", 100)+`"}`))
	if err := httpx.DecodeJSON(req, &v, 16); err == nil {
		t.Error("oversized body accepted")
	}
	req = httptest.NewRequest("POST", "/", strings.NewReader(`{`))
	if err := httpx.DecodeJSON(req, &v, 0); err == nil || !strings.Contains(err.Error(), "invalid JSON") {
		t.Errorf("bad JSON: %v", err)
	}
}

func TestServerTLSAndShutdown(t *testing.T) {
	ks, err := keystore.Generate("test", []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	s := &httpx.Server{Name: "test", Addr: "127.0.0.1:0", TLS: httpx.ServerTLS(ks.TLSCertificate()),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			entered <- struct{}{}
			<-release
			io.WriteString(w, "finished")
		})}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	trust := keystore.NewTrustStore("")
	trust.Add("test", ks.Certificate)
	url := "https://127.0.0.1:" + strconv.Itoa(s.Port()) + "/"

	// TLS 1.1 is refused.
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: trust.Pool(), MaxVersion: tls.VersionTLS11}}}
	if _, err := old.Get(url); err == nil {
		t.Error("TLS 1.1 accepted")
	}

	// A request in flight finishes during a graceful shutdown.
	got := make(chan string, 1)
	go func() {
		res, err := trust.HTTPClient(time.Minute).Get(url)
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		got <- string(b)
	}()
	<-entered
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	close(release)
	if body := <-got; body != "finished" {
		t.Errorf("request in flight: %q", body)
	}
	if err := <-done; err != nil {
		t.Errorf("shutdown: %v", err)
	}
}
