package proxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
)

// forward is the proxy's fast path for ordinary (non-upgrade) requests. It
// does what httputil.ReverseProxy with our Rewrite does, header for header,
// but builds the outgoing request in one pass: one request+URL allocation,
// one header map and one backing array for its values, instead of cloning
// the request and its headers and then deleting, setting and re-wrapping
// the context (state is passed directly, not through context.WithValue, and
// no httptrace hooks are installed). Response headers are moved, not copied
// value by value. Upgrade requests still go through ReverseProxy. Unlike
// ReverseProxy, interim 1xx responses (e.g. 103 Early Hints) are not relayed
// to the caller; the transport consumes them.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, st *state) {
	o := new(outbound)
	out := &o.req
	// A shallow copy keeps the incoming context (unexported) without the
	// allocation of WithContext; every field the transport reads is then
	// set for a client request below.
	*out = *r
	o.url = *r.URL
	o.url.RawQuery = cleanQueryParams(o.url.RawQuery)
	target(&o.url, st.req.Upstream.Endpoints[st.endpoint].URL, st.restPath, st.restRaw)
	out.URL = &o.url
	out.Host = ""
	out.RequestURI = ""
	out.Close = false
	out.Proto, out.ProtoMajor, out.ProtoMinor = "HTTP/1.1", 1, 1
	out.Response = nil
	out.Form, out.PostForm, out.MultipartForm = nil, nil, nil
	out.Header = outHeader(r, st.req)
	if r.ContentLength == 0 {
		out.Body = nil // as ReverseProxy: a nil body lets the transport retry
	}
	if out.Body != nil {
		// The transport closes the body it is given; the server owns r.Body
		// and closes it after the handler (as with ReverseProxy).
		out.Body = noopCloser{out.Body}
	}

	res, err := p.send(out, st)
	if err != nil {
		p.errorHandler(w, r, err)
		return
	}
	if res.StatusCode == http.StatusSwitchingProtocols {
		// Nothing asked to switch protocols (upgrades take the other path).
		res.Body.Close()
		p.errorHandler(w, r, errUnexpectedSwitch)
		return
	}
	removeHopByHop(res.Header)
	if st.req.CORS != nil && st.origin != "" {
		SetCORS(res.Header, st.req.CORS, st.origin)
	}
	h := w.Header()
	for k, vv := range res.Header {
		if cur, ok := h[k]; ok {
			h[k] = append(cur, vv...)
		} else {
			h[k] = vv
		}
	}
	announced := len(res.Trailer)
	if announced > 0 {
		keys := make([]string, 0, announced)
		for k := range res.Trailer {
			keys = append(keys, k)
		}
		h.Add("Trailer", strings.Join(keys, ", "))
	}
	w.WriteHeader(res.StatusCode)
	if err := p.copyBody(w, res, streaming(res)); err != nil {
		res.Body.Close()
		// Headers are gone: all that is left is aborting the response.
		if r.Context().Value(http.ServerContextKey) != nil {
			panic(http.ErrAbortHandler)
		}
		return
	}
	res.Body.Close() // now, to populate res.Trailer
	if len(res.Trailer) > 0 {
		// Force chunking so that the trailers can follow the body.
		_ = http.NewResponseController(w).Flush()
	}
	if len(res.Trailer) == announced {
		for k, vv := range res.Trailer {
			h[k] = append(h[k], vv...)
		}
		return
	}
	for k, vv := range res.Trailer {
		k = http.TrailerPrefix + k
		h[k] = append(h[k], vv...)
	}
}

// outbound holds the outgoing request and its URL in one allocation.
type outbound struct {
	req http.Request
	url url.URL
}

type unexpectedSwitch struct{}

func (unexpectedSwitch) Error() string {
	return "backend switched protocols on a request that asked for no upgrade"
}

var errUnexpectedSwitch error = unexpectedSwitch{}

type noopCloser struct{ io.Reader }

func (noopCloser) Close() error { return nil }

// hopHeaders are removed in both directions (RFC 9110 §7.6.1, as
// ReverseProxy).
var hopHeaders = [...]string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// dropped says whether a caller header (canonical) never reaches the
// backend: hop-by-hop headers, the credentials (WSO2 removes them before
// the backend call) and client-sent forwarding headers, which the gateway
// replaces with its own. A switch, not a map: no hashing per header.
func dropped(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade",
		"Authorization", "Apikey", "Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto":
		return true
	}
	return false
}

// outHeader builds the backend request's header in one pass: the caller's
// headers minus hop-by-hop, credential and forwarding headers, then
// X-Forwarded-For/Host/Proto, the backend JWT header and an empty
// User-Agent when the caller sent none (so Go's default is not sent).
func outHeader(r *http.Request, pr *Request) http.Header {
	in := r.Header
	var conn []string
	if c := in["Connection"]; len(c) > 0 {
		conn = connectionTokens(c)
	}
	extra := pr.Header
	if extra != "" {
		extra = http.CanonicalHeaderKey(extra)
	}
	n := 4 // X-Forwarded-*, User-Agent
	if extra != "" {
		n++
	}
	for _, vv := range in {
		n += len(vv)
	}
	vals := make([]string, 0, n)
	h := make(http.Header, len(in)+6)
	put := func(k string, v ...string) {
		start := len(vals)
		vals = append(vals, v...)
		// Capacity is capped so a later append by anyone copies instead of
		// overwriting the next header's values.
		h[k] = vals[start:len(vals):len(vals)]
	}
	for k, vv := range in {
		if dropped(k) || k == extra || (conn != nil && slices.Contains(conn, k)) {
			continue
		}
		put(k, vv...)
	}
	if teTrailers(in["Te"]) {
		put("Te", "trailers")
	}
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		put("X-Forwarded-For", ip)
	}
	put("X-Forwarded-Host", r.Host)
	if r.TLS == nil {
		put("X-Forwarded-Proto", "http")
	} else {
		put("X-Forwarded-Proto", "https")
	}
	if extra != "" {
		put(extra, pr.Value)
	}
	if _, ok := h["User-Agent"]; !ok {
		put("User-Agent", "")
	}
	return h
}

// connectionTokens lists, canonicalized, the headers a Connection header
// names (hop-by-hop for this connection only).
func connectionTokens(conn []string) []string {
	toks := []string{}
	for _, f := range conn {
		for sf := range strings.SplitSeq(f, ",") {
			if sf = textproto.TrimString(sf); sf != "" {
				toks = append(toks, http.CanonicalHeaderKey(sf))
			}
		}
	}
	return toks
}

// teTrailers reports whether TE lists "trailers" (as httpguts'
// HeaderValuesContainsToken, which ReverseProxy uses).
func teTrailers(te []string) bool {
	for _, f := range te {
		for sf := range strings.SplitSeq(f, ",") {
			if strings.EqualFold(textproto.TrimString(sf), "trailers") {
				return true
			}
		}
	}
	return false
}

// removeHopByHop deletes hop-by-hop response headers (no allocation).
func removeHopByHop(h http.Header) {
	for _, f := range h["Connection"] {
		for sf := range strings.SplitSeq(f, ",") {
			if sf = textproto.TrimString(sf); sf != "" {
				h.Del(sf)
			}
		}
	}
	for _, k := range hopHeaders {
		delete(h, k)
	}
}

// streaming says whether each chunk must be flushed at once, as
// ReverseProxy does: server-sent events and bodies of unknown length.
func streaming(res *http.Response) bool {
	if res.ContentLength == -1 {
		return true
	}
	ct := res.Header["Content-Type"]
	if len(ct) == 0 {
		return false
	}
	base, _, _ := strings.Cut(ct[0], ";")
	return strings.EqualFold(strings.TrimSpace(base), "text/event-stream")
}

// copyBody copies the response body with a pooled 32 KiB buffer.
func (p *Proxy) copyBody(w http.ResponseWriter, res *http.Response, flush bool) error {
	buf := p.bufs.Get()
	defer p.bufs.Put(buf)
	var rc *http.ResponseController
	if flush {
		rc = http.NewResponseController(w)
	}
	for {
		nr, rerr := res.Body.Read(buf)
		if nr > 0 {
			nw, werr := w.Write(buf[:nr])
			if werr != nil {
				return werr
			}
			if nw != nr {
				return io.ErrShortWrite
			}
			if rc != nil {
				_ = rc.Flush()
			}
		}
		if rerr != nil {
			if rerr == io.EOF {
				return nil
			}
			if rerr != context.Canceled {
				p.logger.Debug("backend read error during body copy", "error", rerr)
			}
			return rerr
		}
	}
}

// cleanQueryParams is ReverseProxy's: a query that url.ParseQuery would
// reject (semicolons, bad escapes) is re-encoded without the bad parts, so
// the backend and the gateway agree on the parameters.
func cleanQueryParams(s string) string {
	reencode := func(s string) string {
		v, _ := url.ParseQuery(s)
		return v.Encode()
	}
	for i := 0; i < len(s); {
		switch s[i] {
		case ';':
			return reencode(s)
		case '%':
			if i+2 >= len(s) || !ishex(s[i+1]) || !ishex(s[i+2]) {
				return reencode(s)
			}
			i += 3
		default:
			i++
		}
	}
	return s
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
