package httpx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type ctxKey int

const requestIDKey ctxKey = 0

// RequestID returns the request's id, set by the Chain middleware.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Metrics are the request metrics of one listener family.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics registers request metrics under the given subsystem
// (management, gateway...). Labels are bounded: listener and status class.
func NewMetrics(reg prometheus.Registerer, subsystem string) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "keyway", Subsystem: subsystem, Name: "http_requests_total", Help: "HTTP requests by listener and status class."}, []string{"listener", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "keyway", Subsystem: subsystem, Name: "http_request_duration_seconds", Help: "HTTP request latency.", Buckets: prometheus.DefBuckets}, []string{"listener"}),
	}
	if reg != nil {
		m.requests = registerOrExisting(reg, m.requests).(*prometheus.CounterVec)
		m.duration = registerOrExisting(reg, m.duration).(*prometheus.HistogramVec)
	}
	return m
}

func registerOrExisting(reg prometheus.Registerer, c prometheus.Collector) prometheus.Collector {
	if err := reg.Register(c); err != nil {
		if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
			return are.ExistingCollector
		}
	}
	return c
}

// Chain wraps a handler with request ids, panic recovery, an access log and
// metrics. listener names the listener in logs and metrics; m may be nil;
// accessLog turns per-request log lines on.
func Chain(h http.Handler, listener string, logger *slog.Logger, m *Metrics, accessLog bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-ID")
		if id == "" || len(id) > 128 {
			id = newRequestID()
		}
		w.Header().Set("X-Request-ID", id)
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey, id))
		sw := NewStatusWriter(w)
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				logger.Error("panic serving request", "listener", listener, "request_id", id, "method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
				if sw.Status() == 0 {
					WriteJSON(sw, http.StatusInternalServerError, map[string]any{"code": 500, "message": "Internal Server Error", "description": "The server failed to process the request (request id " + id + ")."})
				}
			}
			elapsed := time.Since(start)
			if m != nil {
				m.requests.WithLabelValues(listener, strconv.Itoa(sw.Status()/100)+"xx").Inc()
				m.duration.WithLabelValues(listener).Observe(elapsed.Seconds())
			}
			if accessLog {
				logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
					slog.String("listener", listener), slog.String("request_id", id),
					slog.String("method", r.Method), slog.String("path", r.URL.Path),
					slog.Int("status", sw.Status()), slog.Int64("bytes", sw.Size()),
					slog.Duration("duration", elapsed), slog.String("remote", r.RemoteAddr))
			}
		}()
		h.ServeHTTP(sw, r)
	})
}
