package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/keyway/keyway/internal/config"
	"github.com/keyway/keyway/internal/httpx"
	"github.com/keyway/keyway/internal/platform"
)

// ShutdownTimeout bounds the graceful stop of listeners and components.
const ShutdownTimeout = 30 * time.Second

// ServeOption adjusts Start and Serve.
type ServeOption func(*serveConfig)

type serveConfig struct {
	ports *config.Ports
	out   io.Writer
	title string
}

// WithPorts replaces the ports derived from [server] offset; a zero port
// picks a free one (read it back with Server.ManagementPort and friends).
func WithPorts(p config.Ports) ServeOption { return func(c *serveConfig) { c.ports = &p } }

// WithAnyPorts binds every listener to a free port, for tests.
func WithAnyPorts() ServeOption { return WithPorts(config.Ports{}) }

// WithOutput sets where the URLs are printed once the role is ready (default
// standard output); nil prints nothing.
func WithOutput(w io.Writer) ServeOption { return func(c *serveConfig) { c.out = w } }

// WithTitle names the role in the printed banner ("API Manager").
func WithTitle(t string) ServeOption { return func(c *serveConfig) { c.title = t } }

// Server is a running role: its listeners and components.
type Server struct {
	p          *platform.Platform
	components []platform.Component
	mgmt       *httpx.Server
	gwHTTPS    *httpx.Server
	gwHTTP     *httpx.Server
}

// Serve starts the role (see Start), blocks until ctx is cancelled, then
// shuts it down gracefully.
func Serve(ctx context.Context, p *platform.Platform, components []platform.Component, opts ...ServeOption) error {
	s, err := Start(ctx, p, components, opts...)
	if err != nil {
		return err
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	return s.Shutdown(sctx)
}

// Start serves the management listener ([server] bind_address, port
// management+offset) with every component's routes plus /health/live,
// /health/ready and /metrics, and, when a component is a platform.Gateway,
// the gateway listeners (HTTPS 8243+offset, HTTP 8280+offset). Once all
// listen it marks the role ready and prints its URLs. On error, whatever was
// started is stopped and the components are closed.
func Start(ctx context.Context, p *platform.Platform, components []platform.Component, opts ...ServeOption) (_ *Server, err error) {
	sc := serveConfig{out: os.Stdout, title: "Keyway"}
	for _, o := range opts {
		o(&sc)
	}
	ports := p.Config.Ports()
	if sc.ports != nil {
		ports = *sc.ports
	}
	s := &Server{p: p, components: components}
	defer func() {
		if err != nil {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
			defer cancel()
			_ = s.Shutdown(sctx)
		}
	}()

	mux := http.NewServeMux()
	p.Health.Mount(mux)
	mux.Handle("GET /metrics", httpx.MetricsHandler(p.Metrics))
	var gateway platform.Gateway
	for _, c := range components {
		if err := mount(c, mux); err != nil {
			return nil, err
		}
		if g, ok := c.(platform.Gateway); ok {
			if gateway != nil {
				return nil, fmt.Errorf("components %s and %s both serve the gateway", gateway.Name(), c.Name())
			}
			gateway = g
		}
	}

	bind := p.Config.Server.BindAddress
	accessLog := p.Config.Log.AccessLog
	tlsConfig := httpx.ServerTLS(p.TLS.TLSCertificate())
	mgmtMetrics := httpx.NewMetrics(p.Metrics, "management")
	s.mgmt = &httpx.Server{
		Name: "management", Addr: net.JoinHostPort(bind, strconv.Itoa(ports.Management)),
		Handler: httpx.Chain(mux, "management", p.Logger, mgmtMetrics, accessLog),
		TLS:     tlsConfig, Logger: p.Logger,
	}
	if err := s.mgmt.Start(); err != nil {
		return nil, err
	}
	if gateway != nil {
		gwMetrics := httpx.NewMetrics(p.Metrics, "gateway")
		h := gateway.GatewayHandler()
		s.gwHTTPS = &httpx.Server{
			Name: "gateway-https", Addr: net.JoinHostPort(bind, strconv.Itoa(ports.GatewayHTTPS)),
			Handler: httpx.Chain(h, "gateway-https", p.Logger, gwMetrics, accessLog),
			TLS:     tlsConfig, Logger: p.Logger, WriteTimeout: 5 * time.Minute,
		}
		s.gwHTTP = &httpx.Server{
			Name: "gateway-http", Addr: net.JoinHostPort(bind, strconv.Itoa(ports.GatewayHTTP)),
			Handler: httpx.Chain(h, "gateway-http", p.Logger, gwMetrics, accessLog),
			Logger:  p.Logger, WriteTimeout: 5 * time.Minute,
		}
		if err := s.gwHTTPS.Start(); err != nil {
			return nil, err
		}
		if err := s.gwHTTP.Start(); err != nil {
			return nil, err
		}
	}
	p.Health.MarkReady()
	s.announce(sc)
	return s, nil
}

// mount adds a component's routes; a route clash (which makes ServeMux
// panic) becomes an error naming the component.
func mount(c platform.Component, mux *http.ServeMux) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("mount %s: %v", c.Name(), r)
		}
	}()
	c.Mount(mux)
	return nil
}

func (s *Server) announce(sc serveConfig) {
	names := make([]string, 0, len(s.components))
	for _, c := range s.components {
		names = append(names, c.Name())
	}
	attrs := []any{"management", s.ManagementURL(), "components", names}
	if s.gwHTTPS != nil {
		attrs = append(attrs, "gateway_https", s.GatewayHTTPSPort(), "gateway_http", s.GatewayHTTPPort())
	}
	s.p.Logger.Info("ready", attrs...)
	if sc.out == nil {
		return
	}
	var b strings.Builder
	host := s.p.Config.Server.Hostname
	fmt.Fprintf(&b, "%s is ready\n", sc.title)
	fmt.Fprintf(&b, "  management  %s\n", s.ManagementURL())
	if s.gwHTTPS != nil {
		fmt.Fprintf(&b, "  gateway     https://%s  http://%s\n", net.JoinHostPort(host, strconv.Itoa(s.GatewayHTTPSPort())), net.JoinHostPort(host, strconv.Itoa(s.GatewayHTTPPort())))
	}
	fmt.Fprintf(&b, "  health      %s/health/ready\n", s.ManagementURL())
	fmt.Fprintf(&b, "  metrics     %s/metrics\n", s.ManagementURL())
	io.WriteString(sc.out, b.String())
}

// ManagementPort is the bound management port.
func (s *Server) ManagementPort() int { return s.mgmt.Port() }

// GatewayHTTPSPort is the bound gateway HTTPS port, 0 without a gateway.
func (s *Server) GatewayHTTPSPort() int {
	if s.gwHTTPS == nil {
		return 0
	}
	return s.gwHTTPS.Port()
}

// GatewayHTTPPort is the bound gateway HTTP port, 0 without a gateway.
func (s *Server) GatewayHTTPPort() int {
	if s.gwHTTP == nil {
		return 0
	}
	return s.gwHTTP.Port()
}

// ManagementURL is the management listener's URL with the bound port.
func (s *Server) ManagementURL() string {
	return "https://" + net.JoinHostPort(s.p.Config.Server.Hostname, strconv.Itoa(s.ManagementPort())) + strings.TrimSuffix(s.p.Config.Server.BasePath, "/")
}

// Shutdown stops the listeners (waiting for requests in flight), then closes
// the components in reverse order and the event bus.
func (s *Server) Shutdown(ctx context.Context) error {
	var errs []error
	for _, l := range []*httpx.Server{s.gwHTTP, s.gwHTTPS, s.mgmt} {
		if l == nil {
			continue
		}
		if err := l.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop %s listener: %w", l.Name, err))
		}
	}
	for i := len(s.components) - 1; i >= 0; i-- {
		c := s.components[i]
		if err := c.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", c.Name(), err))
		}
	}
	s.components = nil
	if s.p.Bus != nil {
		if err := s.p.Bus.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close event bus: %w", err))
		}
	}
	err := errors.Join(errs...)
	if err != nil {
		s.p.Logger.Error("stopped with errors", "err", err)
	} else {
		s.p.Logger.Info("stopped")
	}
	return err
}
