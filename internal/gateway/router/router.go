// Package router matches a gateway request (host, method, path) to a
// deployed API and one of its resources, the way the WSO2 gateway does:
// /<context>/<version>/<resource>, /<context>/<resource> for the default
// version, a "{version}" placeholder inside the context, URI templates with
// {param} segments and /* wildcards, and per-vhost tables with a fallback.
//
// A Router is built once per snapshot and is immutable; Match allocates
// nothing.
package router

import (
	"sort"
	"strings"
)

// API is the routing view of one deployed API. Ref is opaque to the router
// and is returned by Match (the snapshot's index of the API).
type API struct {
	Ref       int
	VHost     string
	Context   string
	Version   string
	IsDefault bool
	Resources []Resource
}

// Resource is one operation; Ref is returned by Match.
type Resource struct {
	Ref         int
	Verb        string
	URITemplate string
}

// Result says what Match found.
type Result int

const (
	// Matched: API and resource found.
	Matched Result = iota
	// NoAPI: no API context matches the path.
	NoAPI
	// NoResource: the API matched but none of its templates does.
	NoResource
	// NoMethod: a template matches the path but not with this verb.
	NoMethod
)

// Match is the outcome of a lookup.
type Match struct {
	Result   Result
	API      int
	Resource int
	// BasePath is the matched prefix (context and version as requested);
	// Rest is the path after it ("/" when empty), which is what the gateway
	// appends to the backend URL.
	BasePath string
	Rest     string
	// Allowed lists the verbs accepted on the matched path (for 405 and
	// CORS preflight answers); only filled when Result is NoMethod or the
	// caller asks via AllowedVerbs.
}

// Router is the compiled routing table.
type Router struct {
	hosts    map[string]*table
	fallback *table
}

type table struct {
	// bases maps a base path ("/pizzashack/1.0.0" or "/pizzashack") to an API.
	bases map[string]*entry
	// maxDepth is the largest number of segments in a base path.
	maxDepth int
}

type entry struct {
	api       int
	resources []compiled
}

type compiled struct {
	ref      int
	verb     string
	segs     []seg
	wildcard bool // ends with /*
	literal  int  // literal segments, for specificity
}

type segKind uint8

const (
	lit segKind = iota
	param
)

type seg struct {
	kind segKind
	text string
}

// New compiles the routing table. APIs are indexed per vhost; APIs with an
// empty vhost and every API of every vhost also go into the fallback table
// used when the request's host has no table or no match there (first
// deployment wins on a conflicting base path).
func New(apis []API) *Router {
	r := &Router{hosts: map[string]*table{}, fallback: newTable()}
	for _, a := range apis {
		e := &entry{api: a.Ref}
		for _, res := range a.Resources {
			e.resources = append(e.resources, compile(res))
		}
		// More specific templates first, as WSO2 orders URL mappings.
		sort.SliceStable(e.resources, func(i, j int) bool {
			x, y := e.resources[i], e.resources[j]
			if x.wildcard != y.wildcard {
				return !x.wildcard
			}
			if len(x.segs) != len(y.segs) {
				return len(x.segs) > len(y.segs)
			}
			return x.literal > y.literal
		})
		host := strings.ToLower(a.VHost)
		t := r.hosts[host]
		if host != "" && t == nil {
			t = newTable()
			r.hosts[host] = t
		}
		for _, base := range basePaths(a) {
			if t != nil {
				t.add(base, e)
			}
			r.fallback.add(base, e)
		}
	}
	return r
}

func newTable() *table { return &table{bases: map[string]*entry{}} }

func (t *table) add(base string, e *entry) {
	if _, dup := t.bases[base]; dup {
		return
	}
	t.bases[base] = e
	if d := strings.Count(base, "/"); d > t.maxDepth {
		t.maxDepth = d
	}
}

// basePaths returns the paths an API answers on: the versioned one and,
// for the default version, the unversioned one.
func basePaths(a API) []string {
	ctx := "/" + strings.Trim(a.Context, "/")
	var versioned, unversioned string
	if strings.Contains(ctx, "{version}") {
		versioned = strings.ReplaceAll(ctx, "{version}", a.Version)
		unversioned = strings.ReplaceAll(strings.ReplaceAll(ctx, "/{version}", ""), "{version}", "")
	} else {
		versioned = ctx + "/" + a.Version
		unversioned = ctx
	}
	if a.Version == "" {
		versioned = ctx
	}
	out := []string{clean(versioned)}
	if a.IsDefault && clean(unversioned) != out[0] {
		out = append(out, clean(unversioned))
	}
	return out
}

func clean(p string) string {
	p = strings.TrimRight(p, "/")
	if p == "" {
		return "/"
	}
	return p
}

func compile(res Resource) compiled {
	t := res.URITemplate
	if i := strings.IndexByte(t, '?'); i >= 0 {
		t = t[:i]
	}
	c := compiled{ref: res.Ref, verb: strings.ToUpper(res.Verb)}
	t = strings.Trim(t, "/")
	if t == "*" {
		c.wildcard = true
		return c
	}
	if strings.HasSuffix(t, "/*") {
		c.wildcard = true
		t = strings.TrimSuffix(t, "/*")
	}
	if t == "" {
		return c
	}
	for _, s := range strings.Split(t, "/") {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			c.segs = append(c.segs, seg{kind: param, text: s[1 : len(s)-1]})
			continue
		}
		c.segs = append(c.segs, seg{kind: lit, text: s})
		c.literal++
	}
	return c
}

// Match finds the API and resource for a request. host must already be
// lower-case without a port.
func (r *Router) Match(host, method, path string) Match {
	if t, ok := r.hosts[host]; ok {
		if m := t.match(method, path); m.Result != NoAPI {
			return m
		}
	}
	return r.fallback.match(method, path)
}

func (t *table) match(method, path string) Match {
	if path == "" {
		path = "/"
	}
	// Try the longest prefix first: cut the path at each '/' boundary from
	// the right, limited to the deepest base path.
	end := len(path)
	depth := strings.Count(path, "/")
	for {
		prefix := path[:end]
		if depth <= t.maxDepth {
			if e, ok := t.bases[clean(prefix)]; ok {
				rest := path[end:]
				if rest == "" {
					rest = "/"
				}
				m := e.match(method, rest)
				m.BasePath = prefix
				m.Rest = rest
				return m
			}
		}
		i := strings.LastIndexByte(prefix, '/')
		if i <= 0 {
			if e, ok := t.bases["/"]; ok {
				m := e.match(method, path)
				m.BasePath, m.Rest = "", path
				return m
			}
			return Match{Result: NoAPI}
		}
		end = i
		depth--
	}
}

func (e *entry) match(method, rest string) Match {
	pathMatched := false
	for i := range e.resources {
		c := &e.resources[i]
		if !c.matchPath(rest) {
			continue
		}
		if c.verb == method {
			return Match{Result: Matched, API: e.api, Resource: c.ref}
		}
		pathMatched = true
	}
	if pathMatched {
		return Match{Result: NoMethod, API: e.api}
	}
	return Match{Result: NoResource, API: e.api}
}

// AllowedVerbs lists the verbs of the API's resources matching rest, for
// Allow and CORS preflight headers.
func (r *Router) AllowedVerbs(host, path string) []string {
	m := r.Match(host, "\x00", path)
	if m.Result == NoAPI {
		return nil
	}
	t := r.fallback
	if h, ok := r.hosts[host]; ok {
		if e, ok := h.bases[clean(m.BasePath)]; ok && e.api == m.API {
			t = h
		}
	}
	e := t.bases[clean(m.BasePath)]
	if e == nil {
		return nil
	}
	var out []string
	for i := range e.resources {
		if e.resources[i].matchPath(m.Rest) {
			out = append(out, e.resources[i].verb)
		}
	}
	return out
}

// matchPath walks rest segment by segment without splitting (no allocation).
func (c *compiled) matchPath(rest string) bool {
	p := strings.TrimPrefix(rest, "/")
	if q := strings.IndexByte(p, '?'); q >= 0 {
		p = p[:q]
	}
	for _, s := range c.segs {
		if p == "" {
			return false
		}
		var part string
		if i := strings.IndexByte(p, '/'); i >= 0 {
			part, p = p[:i], p[i+1:]
		} else {
			part, p = p, ""
		}
		if s.kind == lit && s.text != part {
			return false
		}
		if s.kind == param && part == "" {
			return false
		}
	}
	if c.wildcard {
		return true
	}
	return p == "" || p == "/"
}
