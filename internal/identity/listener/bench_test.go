package listener

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/keyway/keyway/internal/db/dbtest"
)

// BenchmarkRevocationDelivery measures the IS half of the revocation path:
// AccessTokenRevoked (outbox insert) until the API Manager's notify endpoint
// has the event, over TLS, on embedded SQLite.
func BenchmarkRevocationDelivery(b *testing.B) {
	got := make(chan struct{}, 1)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		got <- struct{}{}
	}))
	defer srv.Close()
	s, err := New(context.Background(), dbtest.SQLite(b), listenerConfig(srv.URL+"/internal/data/v1/notify", "admin", "admin"), srv.Client(), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ResetTimer()
	for b.Loop() {
		s.AccessTokenRevoked(context.Background(), jwtToken)
		<-got
	}
}
