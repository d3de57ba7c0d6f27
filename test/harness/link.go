package harness

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"

	"github.com/keyway/keyway/internal/keystore"
)

// Link is an HTTPS hop between two processes that a test can cut: it
// presents the target's own certificate (so the caller's truststore needs
// nothing more) and forwards to the target until Cut, answering 503 after
// it. Failed counts the requests it could not deliver, cut or not, so a
// test can wait until a caller has really tried while its peer was away.
type Link struct {
	URL string

	mu     sync.Mutex
	cut    bool
	failed int
}

// NewLink forwards https://localhost:<port> to target, presenting ks's
// certificate; client must trust target.
func NewLink(t testing.TB, ks *keystore.KeyStore, target string, client *http.Client) *Link {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	l := &Link{}
	rp := &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(u); r.Out.Host = u.Host },
		Transport: client.Transport,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) {
			l.fail()
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		cut := l.cut
		l.mu.Unlock()
		if cut {
			l.fail()
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ks.TLSCertificate()}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	l.URL = "https://localhost:" + portOf(srv.URL)
	return l
}

func portOf(raw string) string {
	u, _ := url.Parse(raw)
	return u.Port()
}

func (l *Link) fail() {
	l.mu.Lock()
	l.failed++
	l.mu.Unlock()
}

// Cut makes every further request fail with 503 until Restore.
func (l *Link) Cut() { l.mu.Lock(); l.cut = true; l.mu.Unlock() }

// Restore forwards requests again.
func (l *Link) Restore() { l.mu.Lock(); l.cut = false; l.mu.Unlock() }

// Failed is the number of requests the link could not deliver so far.
func (l *Link) Failed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failed
}
