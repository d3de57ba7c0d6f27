package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkGatewayChain runs the whole chain in process (route, cached JWT,
// subscription, scope, throttling, backend JWT, proxy to a loopback backend).
func BenchmarkGatewayChain(b *testing.B) {
	f := newFixture(b, fixtureOpts{})
	tok := f.token("ck1", "default")
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest(http.MethodGet, "/pizzashack/1.0.0/menu", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		for pb.Next() {
			w := httptest.NewRecorder()
			f.gw.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	})
}

// BenchmarkGatewayReject is the cost of a rejected call (no backend).
func BenchmarkGatewayReject(b *testing.B) {
	f := newFixture(b, fixtureOpts{})
	tok := f.token("ck3", "default")
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest(http.MethodGet, "/pizzashack/1.0.0/menu", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		for pb.Next() {
			w := httptest.NewRecorder()
			f.gw.ServeHTTP(w, req)
			if w.Code != http.StatusForbidden {
				b.Fatalf("status %d", w.Code)
			}
		}
	})
}
