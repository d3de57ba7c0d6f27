package httpx

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check is a readiness probe of one dependency.
type Check func(ctx context.Context) error

// Health serves /health/live (the process answers) and /health/ready (every
// registered check passes and MarkReady has been called).
type Health struct {
	mu     sync.RWMutex
	checks map[string]Check
	ready  bool
}

// NewHealth returns a Health that is not ready yet.
func NewHealth() *Health { return &Health{checks: map[string]Check{}} }

// AddCheck registers a readiness check.
func (h *Health) AddCheck(name string, c Check) {
	h.mu.Lock()
	h.checks[name] = c
	h.mu.Unlock()
}

// MarkReady is called by a role once storage and keys are up.
func (h *Health) MarkReady() {
	h.mu.Lock()
	h.ready = true
	h.mu.Unlock()
}

// Mount adds the health endpoints to mux.
func (h *Health) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /health/live", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"status": "UP"})
	})
	mux.HandleFunc("GET /health/ready", h.serveReady)
}

func (h *Health) serveReady(w http.ResponseWriter, r *http.Request) {
	h.mu.RLock()
	ready := h.ready
	checks := make(map[string]Check, len(h.checks))
	for k, v := range h.checks {
		checks[k] = v
	}
	h.mu.RUnlock()
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	status := map[string]string{}
	ok := ready
	if !ready {
		status["startup"] = "starting"
	}
	for name, c := range checks {
		if err := c(ctx); err != nil {
			ok = false
			status[name] = err.Error()
		} else {
			status[name] = "UP"
		}
	}
	code := http.StatusOK
	overall := "UP"
	if !ok {
		code = http.StatusServiceUnavailable
		overall = "DOWN"
	}
	WriteJSON(w, code, map[string]any{"status": overall, "checks": status})
}

// MetricsHandler serves the registry in Prometheus text format.
func MetricsHandler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{})
}
