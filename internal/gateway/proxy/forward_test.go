package proxy

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keyway/keyway/internal/gateway/snapshot"
)

// seen is what the backend received.
type seen struct {
	Method, URI, Host, Body string
	Header                  http.Header
}

// TestForwardMatchesReverseProxy sends the same requests through the fast
// path and through httputil.ReverseProxy (the path it replaces, still used
// for upgrades) and requires the backend and the caller to see the same
// thing: headers dropped, replaced and added, path, query, body, response
// headers, trailers and CORS.
func TestForwardMatchesReverseProxy(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h := w.Header()
		h.Set("Connection", "X-Hop")
		h.Set("X-Hop", "1")
		h.Set("Keep-Alive", "timeout=5")
		h.Set("X-Multi", "a")
		h.Add("X-Multi", "b")
		if r.URL.Query().Get("trailer") != "" {
			h.Set("Trailer", "X-Sum")
		}
		h.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(seen{Method: r.Method, URI: r.RequestURI, Host: r.Host, Body: string(body), Header: r.Header})
		if r.URL.Query().Get("trailer") != "" {
			h.Set("X-Sum", "42")
		}
	}))
	defer backend.Close()
	ep, _ := url.Parse(backend.URL + "/base")
	up := &snapshot.Upstream{Endpoints: []snapshot.Endpoint{{URL: ep, Timeout: 5 * time.Second}}}
	cors := &snapshot.CORS{AllowOrigins: map[string]bool{"https://app.example": true}, AllowCredentials: true}
	p := New(nil, Options{})
	defer p.Close()

	cases := []struct {
		name, method, target, body string
		header                     map[string][]string
		jwt                        bool
	}{
		{name: "plain", method: "GET", target: "/ctx/v1/menu?a=1&b=2", header: map[string][]string{
			"Authorization": {"Bearer secret"}, "Apikey": {"k"}, "Accept": {"*/*"}, "X-Custom": {"1", "2"}}},
		{name: "forwarding headers replaced", method: "GET", target: "/ctx/v1/menu", header: map[string][]string{
			"X-Forwarded-For": {"10.0.0.1"}, "Forwarded": {"for=x"}, "X-Forwarded-Host": {"evil"}, "X-Forwarded-Proto": {"https"}}},
		{name: "hop by hop", method: "GET", target: "/ctx/v1/menu", header: map[string][]string{
			"Connection": {"keep-alive, x-private"}, "X-Private": {"p"}, "Keep-Alive": {"300"}, "Te": {"gzip, trailers"},
			"Proxy-Authorization": {"Basic x"}, "User-Agent": {"curl/8"}}},
		{name: "backend jwt replaces caller's", method: "POST", target: "/ctx/v1/order/a%2Fb", body: `{"x":1}`, jwt: true,
			header: map[string][]string{"X-Jwt-Assertion": {"forged"}, "Content-Type": {"application/json"}}},
		{name: "bad query cleaned", method: "GET", target: "/ctx/v1/menu?a=1;b=2&c=%zz", header: map[string][]string{}},
		{name: "cors and trailers", method: "GET", target: "/ctx/v1/menu?trailer=1", header: map[string][]string{
			"Origin": {"https://app.example"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			run := func(viaReverseProxy bool) (*httptest.ResponseRecorder, seen) {
				var body io.Reader
				if c.body != "" {
					body = strings.NewReader(c.body)
				}
				r := httptest.NewRequest(c.method, "http://gw.example:8280"+c.target, body)
				for k, v := range c.header {
					r.Header[k] = v
				}
				pr := &Request{Upstream: up, Rest: strings.TrimPrefix(r.URL.EscapedPath(), "/ctx/v1"), CORS: cors}
				if c.jwt {
					pr.Header, pr.Value = "x-jwt-assertion", "signed"
				}
				w := httptest.NewRecorder()
				if viaReverseProxy {
					st := &state{req: pr, endpoint: 0, origin: r.Header.Get("Origin")}
					st.restPath, st.restRaw = split(pr.Rest)
					p.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, st)))
				} else {
					p.Serve(w, r, pr)
				}
				var s seen
				if err := json.Unmarshal(w.Body.Bytes(), &s); err != nil {
					t.Fatalf("reverseproxy=%v: status %d body %q: %v", viaReverseProxy, w.Code, w.Body, err)
				}
				return w, s
			}
			wantW, want := run(true)
			gotW, got := run(false)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("backend saw\n%+v\nwant (ReverseProxy)\n%+v", got, want)
			}
			if gotW.Code != wantW.Code || !reflect.DeepEqual(gotW.Header(), wantW.Header()) {
				t.Errorf("caller got %d %v\nwant (ReverseProxy) %d %v", gotW.Code, gotW.Header(), wantW.Code, wantW.Header())
			}
			for _, k := range []string{"Authorization", "Apikey", "X-Private", "Keep-Alive", "Proxy-Authorization", "Forwarded"} {
				if _, ok := got.Header[k]; ok {
					t.Errorf("backend received %s", k)
				}
			}
			if got.Header.Get("X-Forwarded-For") != "192.0.2.1" || got.Header.Get("X-Forwarded-Host") != "gw.example:8280" {
				t.Errorf("forwarding headers %v", got.Header)
			}
			if _, ok := gotW.Header()["X-Hop"]; ok {
				t.Error("hop-by-hop response header passed to the caller")
			}
		})
	}
}

// TestServeUpgradeUsesReverseProxy checks that a protocol upgrade still
// switches end to end (the fast path does not hijack connections).
func TestServeUpgradeUsesReverseProxy(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" || r.Header.Get("Authorization") != "" {
			http.Error(w, "bad upgrade request", http.StatusBadRequest)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		_ = brw.Flush()
		line, _ := brw.ReadString('\n')
		_, _ = brw.WriteString("echo:" + line)
		_ = brw.Flush()
	}))
	defer backend.Close()
	ep, _ := url.Parse(backend.URL)
	up := &snapshot.Upstream{Endpoints: []snapshot.Endpoint{{URL: ep, Timeout: 5 * time.Second}}}
	p := New(nil, Options{})
	defer p.Close()
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.Serve(w, r, &Request{Upstream: up, Rest: "/ws"})
	}))
	defer gw.Close()

	req, _ := http.NewRequest(http.MethodGet, gw.URL+"/ws", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	req.Header.Set("Authorization", "Bearer secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	rw, ok := resp.Body.(io.ReadWriter)
	if !ok {
		t.Fatal("upgraded body is not writable")
	}
	if _, err := io.WriteString(rw, "hi\n"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len("echo:hi\n"))
	if _, err := io.ReadFull(rw, buf); err != nil || string(buf) != "echo:hi\n" {
		t.Fatalf("echo %q %v", buf, err)
	}
}
