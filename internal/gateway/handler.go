package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keyway/keyway/internal/gateway/authn"
	"github.com/keyway/keyway/internal/gateway/authz"
	"github.com/keyway/keyway/internal/gateway/fault"
	"github.com/keyway/keyway/internal/gateway/proxy"
	"github.com/keyway/keyway/internal/gateway/router"
	"github.com/keyway/keyway/internal/gateway/snapshot"
	"github.com/keyway/keyway/internal/httpx"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// exchange is the per-request scratch space, pooled so the chain itself
// allocates nothing on the success path.
type exchange struct {
	sw  httpx.StatusWriter
	req proxy.Request
	dec authz.Decision
}

// ServeHTTP runs the chain: route → lifecycle → CORS preflight →
// authenticate → authorize → throttle → proxy.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	st := g.state.Load()
	ex := g.pool.Get().(*exchange)
	ex.sw.Reset(w)
	var span trace.Span
	if g.tracer != nil {
		var ctx context.Context
		ctx, span = g.tracer.Start(r.Context(), "gateway.request", trace.WithSpanKind(trace.SpanKindServer))
		r = r.WithContext(ctx)
	}
	api := g.serve(st, &ex.sw, r, ex)
	status := ex.sw.Status()
	if status == 0 {
		status = http.StatusOK
	}
	elapsed := time.Since(start)
	stats := g.metrics.unmatched
	if api != nil {
		stats = st.stats[api.Index]
	}
	stats.observe(status, elapsed)
	if span != nil {
		if span.IsRecording() {
			if api != nil {
				span.SetAttributes(attribute.String("keyway.api", api.Name), attribute.String("keyway.api_version", api.Version))
			}
			span.SetAttributes(attribute.Int("http.response.status_code", status))
			if status >= 500 {
				span.SetStatus(codes.Error, http.StatusText(status))
			}
		}
		span.End()
	}
	if ctx := r.Context(); g.logger.Enabled(ctx, slog.LevelInfo) {
		attrs := []slog.Attr{slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", status), slog.Int64("bytes", ex.sw.Size()), slog.Duration("duration", elapsed),
			slog.String("remote", r.RemoteAddr)}
		if api != nil {
			attrs = append(attrs, slog.String("api", api.Name), slog.String("api_version", api.Version))
		}
		g.logger.LogAttrs(ctx, slog.LevelInfo, "gateway request", attrs...)
	}
	*ex = exchange{}
	g.pool.Put(ex)
}

func (g *Gateway) serve(st *state, w http.ResponseWriter, r *http.Request, ex *exchange) *snapshot.API {
	snap := st.snap
	m := snap.Router.Match(hostOf(r.Host), r.Method, escapedPath(r))
	if m.Result == router.NoAPI {
		fault.Write(w, fault.ErrNoResource)
		return nil
	}
	api := snap.APIs[m.API]
	if api.Blocked() {
		g.fail(w, r, api, fault.ErrAPIBlocked)
		return api
	}
	if !api.Serving() {
		fault.Write(w, fault.ErrNoResource)
		return nil
	}
	switch m.Result {
	case router.NoResource:
		if r.Method == http.MethodOptions {
			g.options(w, r, snap, api)
			return api
		}
		g.fail(w, r, api, fault.ErrNoResource)
		return api
	case router.NoMethod:
		if r.Method == http.MethodOptions {
			g.options(w, r, snap, api)
			return api
		}
		g.fail(w, r, api, fault.ErrNoMethod)
		return api
	}
	res := api.Resources[m.Resource]
	pr := &ex.req
	pr.Rest, pr.CORS = m.Rest, api.CORS
	if res.Open {
		pr.Upstream = api.Production
		if f := g.throttleAPI(r, api, res); f != nil {
			g.fail(w, r, api, f)
			return api
		}
		g.proxy.Serve(w, r, pr)
		return api
	}
	p, f := g.authn.Authenticate(r.Context(), snap, api, r.Header)
	if f != nil {
		g.fail(w, r, api, f)
		return api
	}
	ex.dec, f = authz.Authorize(snap, api, res, p)
	if f != nil {
		g.fail(w, r, api, f)
		return api
	}
	d := &ex.dec
	if f := g.throttleAPI(r, api, res); f != nil {
		g.fail(w, r, api, f)
		return api
	}
	if f := g.throttleConsumer(r, api, d); f != nil {
		g.fail(w, r, api, f)
		return api
	}
	pr.Upstream = d.Upstream
	if snap.BackendJWT.Enabled && g.backend != nil {
		if err := g.setBackendJWT(pr, st, p, api, d); err != nil {
			g.logger.Error("backend jwt", "api", api.Name, "error", err)
			g.fail(w, r, api, fault.New(http.StatusInternalServerError, 900900, "Unclassified Authentication Failure", "Could not build the backend JWT"))
			return api
		}
	}
	g.proxy.Serve(w, r, pr)
	return api
}

func (g *Gateway) setBackendJWT(pr *proxy.Request, st *state, p *authn.Principal, api *snapshot.API, d *authz.Decision) error {
	tok, err := g.backend.Token(p, api, d)
	if err != nil {
		return err
	}
	pr.Header, pr.Value = st.jwtHeader, tok
	return nil
}

// fail writes a fault, with the API's CORS headers so browsers can read it.
func (g *Gateway) fail(w http.ResponseWriter, r *http.Request, api *snapshot.API, f *fault.Fault) {
	if api != nil && api.CORS != nil {
		if o := r.Header.Get("Origin"); o != "" {
			proxy.SetCORS(w.Header(), api.CORS, o)
		}
	}
	fault.Write(w, f)
}

// options answers OPTIONS when the API has no OPTIONS resource: a CORS
// preflight when CORS is on, otherwise the Allow list.
func (g *Gateway) options(w http.ResponseWriter, r *http.Request, snap *snapshot.Snapshot, api *snapshot.API) {
	verbs := snap.Router.AllowedVerbs(hostOf(r.Host), escapedPath(r))
	if len(verbs) == 0 {
		g.fail(w, r, api, fault.ErrNoResource)
		return
	}
	allow := strings.Join(append(verbs, http.MethodOptions), ",")
	h := w.Header()
	origin := r.Header.Get("Origin")
	if c := api.CORS; c != nil && origin != "" && proxy.SetCORS(h, c, origin) {
		methods := c.AllowMethods
		if methods == "" {
			methods = allow
		}
		h.Set("Access-Control-Allow-Methods", methods)
		if c.AllowHeaders != "" {
			h.Set("Access-Control-Allow-Headers", c.AllowHeaders)
		}
	}
	h.Set("Allow", allow)
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// escapedPath is the path as sent, so that an encoded slash stays inside
// its segment (EscapedPath allocates only when re-escaping is needed).
func escapedPath(r *http.Request) string {
	if r.URL.RawPath != "" {
		return r.URL.RawPath
	}
	return r.URL.EscapedPath()
}

// hostOf strips the port and lower-cases, allocating only when the host
// has upper-case letters.
func hostOf(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	for i := 0; i < len(h); i++ {
		if c := h[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(h)
		}
	}
	return h
}

func retryAfter(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}
