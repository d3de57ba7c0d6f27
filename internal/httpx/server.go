// Package httpx is Keyway's HTTP plumbing: TLS listeners with sane timeouts and
// graceful shutdown, request ids, panic recovery, access logs, Prometheus
// metrics and the health endpoints. API families keep their own error shapes;
// this package only writes JSON.
package httpx

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Server is one listener.
type Server struct {
	// Name appears in logs ("management", "gateway-https", ...).
	Name string
	// Addr is host:port; port 0 picks a free port (see Addr after Start).
	Addr    string
	Handler http.Handler
	// TLS is nil for a plain HTTP listener.
	TLS    *tls.Config
	Logger *slog.Logger
	// WriteTimeout bounds a response; zero means 60 s. Proxies that stream
	// long responses set it higher.
	WriteTimeout time.Duration

	srv *http.Server
	ln  net.Listener
}

// Start listens and serves in the background. It returns once the port is bound.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("listen %s on %s: %w", s.Name, s.Addr, err)
	}
	if s.TLS != nil {
		cfg := s.TLS.Clone()
		if cfg.MinVersion < tls.VersionTLS12 {
			cfg.MinVersion = tls.VersionTLS12
		}
		if len(cfg.NextProtos) == 0 {
			cfg.NextProtos = []string{"h2", "http/1.1"}
		}
		ln = tls.NewListener(ln, cfg)
	}
	s.ln = ln
	wt := s.WriteTimeout
	if wt == 0 {
		wt = 60 * time.Second
	}
	logger := s.Logger
	if logger == nil {
		logger = slog.Default()
	}
	s.srv = &http.Server{
		Handler:           s.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      wt,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("listener stopped", "listener", s.Name, "err", err)
		}
	}()
	return nil
}

// Address is the bound address (useful with port 0).
func (s *Server) Address() string {
	if s.ln == nil {
		return s.Addr
	}
	return s.ln.Addr().String()
}

// Port is the bound port.
func (s *Server) Port() int {
	if s.ln == nil {
		return 0
	}
	return s.ln.Addr().(*net.TCPAddr).Port
}

// Shutdown stops accepting connections and waits for requests in flight.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	return s.srv.Shutdown(ctx)
}

// WriteJSON writes v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v == nil {
		return
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// DecodeJSON reads a JSON body into v, rejecting unknown trailing data and
// bodies over limit bytes (0 means 10 MiB).
func DecodeJSON(r *http.Request, v any, limit int64) error {
	if limit == 0 {
		limit = 10 << 20
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, limit))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid JSON body: %w", err)
	}
	return nil
}

// ServerTLS returns a server TLS configuration for a certificate.
func ServerTLS(cert tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}
