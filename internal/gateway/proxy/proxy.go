// Package proxy forwards an authorized gateway request to its backend: a
// lean single-pass forwarder (forward.go; httputil.ReverseProxy with Rewrite
// for protocol upgrades only), one tuned shared HTTP/1.1 keep-alive
// transport verifying backend TLS against the truststore, pooled copy
// buffers, round-robin and failover endpoint lists, per-endpoint timeouts,
// and WSO2's backend fault codes (101503 connection failure, 101504 timeout,
// 499 when the client went away).
package proxy

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/keyway/keyway/internal/gateway/fault"
	"github.com/keyway/keyway/internal/gateway/snapshot"
	"github.com/keyway/keyway/internal/keystore"
)

// Request is what the gateway chain hands to the proxy.
type Request struct {
	Upstream *snapshot.Upstream
	// Rest is the escaped request path after the matched context/version
	// prefix; it is appended to the endpoint URL.
	Rest string
	// Header/Value set one extra request header (the backend JWT); empty
	// Header sets nothing.
	Header, Value string
	// CORS adds the API's CORS headers to the response when the request
	// carries an allowed Origin.
	CORS *snapshot.CORS
}

// Proxy is safe for concurrent use; one serves every API.
type Proxy struct {
	rp *httputil.ReverseProxy
	// base is the transport template; transports holds one clone per
	// endpoint timeout (ResponseHeaderTimeout), so a timeout costs no
	// per-request context or timer and endpoints with the same timeout share
	// one connection pool.
	base *http.Transport
	// transports is copied on write (timeouts are few); a read is a plain
	// map lookup with no boxing of the key.
	transports atomic.Pointer[map[time.Duration]*http.Transport]
	transMu    sync.Mutex
	states     sync.Pool
	bufs       *bufferPool
	logger     *slog.Logger
}

type ctxKey struct{}

// state travels in the outgoing request's context from Serve to Rewrite,
// the failover transport and the error handler; it is pooled.
type state struct {
	req      *Request
	endpoint int
	restPath string
	restRaw  string
	origin   string
}

var (
	errTimeout     = fault.New(http.StatusGatewayTimeout, fault.BackendTimeout, "Runtime Error", "Connection timed out")
	errUnavailable = fault.New(http.StatusServiceUnavailable, fault.BackendUnavailable, "Runtime Error", "Error connecting to the back end")
)

// Options tune the shared transport.
type Options struct {
	// MaxIdleConnsPerHost keeps this many idle backend connections per host
	// (default 1024; the stdlib's 2 forces reconnects under load).
	MaxIdleConnsPerHost int
	DialTimeout         time.Duration
	Logger              *slog.Logger
}

// New builds the proxy. trust may be nil (system roots only, for tests of
// plain-HTTP backends).
func New(trust *keystore.TrustStore, o Options) *Proxy {
	if o.MaxIdleConnsPerHost <= 0 {
		o.MaxIdleConnsPerHost = 1024
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: o.DialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          0,
		MaxIdleConnsPerHost:   o.MaxIdleConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		// A proxy passes Accept-Encoding and bodies through untouched.
		DisableCompression: true,
		ForceAttemptHTTP2:  false,
		WriteBufferSize:    16 << 10,
		ReadBufferSize:     16 << 10,
	}
	if trust != nil {
		tr.TLSClientConfig = trust.ClientTLSConfig()
	}
	p := &Proxy{base: tr, bufs: newBufferPool(), logger: o.Logger}
	p.states.New = func() any { return new(state) }
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      &failover{p: p},
		BufferPool:     p.bufs,
		ErrorHandler:   p.errorHandler,
		ModifyResponse: p.modifyResponse,
		ErrorLog:       slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug),
	}
	return p
}

// Close drops idle backend connections.
func (p *Proxy) Close() {
	if m := p.transports.Load(); m != nil {
		for _, t := range *m {
			t.CloseIdleConnections()
		}
	}
}

// transport returns the shared transport for an endpoint timeout.
func (p *Proxy) transport(timeout time.Duration) *http.Transport {
	if m := p.transports.Load(); m != nil {
		if t, ok := (*m)[timeout]; ok {
			return t
		}
	}
	p.transMu.Lock()
	defer p.transMu.Unlock()
	old := p.transports.Load()
	if old != nil {
		if t, ok := (*old)[timeout]; ok {
			return t
		}
	}
	next := map[time.Duration]*http.Transport{}
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	t := p.base.Clone()
	t.ResponseHeaderTimeout = timeout
	next[timeout] = t
	p.transports.Store(&next)
	return t
}

// Serve forwards r according to pr.
func (p *Proxy) Serve(w http.ResponseWriter, r *http.Request, pr *Request) {
	up := pr.Upstream
	if up == nil || len(up.Endpoints) == 0 {
		fault.Write(w, errUnavailable)
		return
	}
	st := p.states.Get().(*state)
	st.req, st.endpoint, st.origin = pr, up.Pick(), r.Header.Get("Origin")
	st.restPath, st.restRaw = split(pr.Rest)
	if upgrade(r.Header) {
		// Protocol upgrades (WebSocket, h2c) need ReverseProxy's
		// connection hijacking; everything else takes the lean path.
		p.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, st)))
	} else {
		p.forward(w, r, st)
	}
	*st = state{}
	p.states.Put(st)
}

// split returns the decoded form of an escaped path and, when decoding
// changed it, the escaped form to keep (e.g. %2F inside a segment).
func split(escaped string) (string, string) {
	if strings.IndexByte(escaped, '%') < 0 {
		return escaped, ""
	}
	dec, err := url.PathUnescape(escaped)
	if err != nil {
		return escaped, ""
	}
	return dec, escaped
}

func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	st := pr.In.Context().Value(ctxKey{}).(*state)
	target(pr.Out.URL, st.req.Upstream.Endpoints[st.endpoint].URL, st.restPath, st.restRaw)
	pr.Out.Host = ""
	pr.SetXForwarded()
	h := pr.Out.Header
	// WSO2 removes the caller's credentials before the backend call.
	h.Del("Authorization")
	h.Del("apikey")
	if st.req.Header != "" {
		h.Set(st.req.Header, st.req.Value)
	}
}

func target(out, ep *url.URL, restPath, restRaw string) {
	out.Scheme, out.Host = ep.Scheme, ep.Host
	if restPath == "/" && ep.Path != "" {
		restPath, restRaw = "", ""
	}
	out.Path = ep.Path + restPath
	if restRaw != "" {
		out.RawPath = ep.EscapedPath() + restRaw
	} else {
		out.RawPath = ""
	}
}

func (p *Proxy) modifyResponse(resp *http.Response) error {
	st, _ := resp.Request.Context().Value(ctxKey{}).(*state)
	if st == nil || st.req.CORS == nil || st.origin == "" {
		return nil
	}
	SetCORS(resp.Header, st.req.CORS, st.origin)
	return nil
}

// SetCORS adds the actual-request CORS headers for an allowed origin.
func SetCORS(h http.Header, c *snapshot.CORS, origin string) bool {
	if !c.AnyOrigin && !c.AllowOrigins[origin] {
		return false
	}
	if c.AnyOrigin && !c.AllowCredentials {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
	}
	if c.AllowCredentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	return true
}

func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	ctx := r.Context()
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		// The client went away; nobody reads this status but the logs.
		w.WriteHeader(499)
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || isTimeout(err):
		fault.Write(w, errTimeout)
	default:
		p.logger.Debug("backend call failed", "error", err)
		fault.Write(w, errUnavailable)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// failover retries the next endpoints of a failover list when the
// connection could not be made (nothing was sent, so any method is safe),
// and also rewinds a replayable body.
// Each attempt uses the transport of its endpoint's timeout.
type failover struct{ p *Proxy }

func (f *failover) RoundTrip(req *http.Request) (*http.Response, error) {
	st, _ := req.Context().Value(ctxKey{}).(*state)
	if st == nil {
		return f.p.transport(60 * time.Second).RoundTrip(req)
	}
	return f.p.send(req, st)
}

// send makes the backend call for st's endpoint, retrying the next
// endpoints of a failover list on connection failure.
func (p *Proxy) send(req *http.Request, st *state) (*http.Response, error) {
	eps := st.req.Upstream.Endpoints
	resp, err := p.transport(eps[st.endpoint].Timeout).RoundTrip(req)
	if err == nil {
		return resp, nil
	}
	if !st.req.Upstream.Failover || !connectFailure(err) {
		return nil, err
	}
	for i := st.endpoint + 1; i < len(eps) && req.Context().Err() == nil; i++ {
		next := req.Clone(req.Context())
		target(next.URL, eps[i].URL, st.restPath, st.restRaw)
		if req.Body != nil && req.Body != http.NoBody {
			if req.GetBody == nil {
				return nil, err
			}
			body, gerr := req.GetBody()
			if gerr != nil {
				return nil, err
			}
			next.Body = body
		}
		resp, err = p.transport(eps[i].Timeout).RoundTrip(next)
		if err == nil || !connectFailure(err) {
			return resp, err
		}
	}
	return nil, err
}

// upgrade reports whether the request asks to switch protocols
// (Connection: Upgrade), as ReverseProxy's upgradeType.
func upgrade(h http.Header) bool {
	for _, f := range h["Connection"] {
		for sf := range strings.SplitSeq(f, ",") {
			if strings.EqualFold(textproto.TrimString(sf), "upgrade") {
				return true
			}
		}
	}
	return false
}

func connectFailure(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// bufferPool lends 32 KiB copy buffers to ReverseProxy. Buffers are pooled
// as array pointers so that neither Get nor Put allocates.
type bufferPool struct{ p sync.Pool }

const bufSize = 32 << 10

func newBufferPool() *bufferPool {
	return &bufferPool{p: sync.Pool{New: func() any { return new([bufSize]byte) }}}
}

func (b *bufferPool) Get() []byte { return b.p.Get().(*[bufSize]byte)[:] }

func (b *bufferPool) Put(buf []byte) {
	if cap(buf) != bufSize {
		return
	}
	b.p.Put((*[bufSize]byte)(buf[:bufSize]))
}
