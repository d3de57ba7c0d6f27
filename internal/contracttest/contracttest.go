// Package contracttest checks Keyway's HTTP responses against WSO2's own
// OpenAPI files (copied unchanged into wso2/, see wso2/SOURCES.md), so that
// compatibility is tested against the contract rather than memory.
package contracttest

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/keyway/keyway/internal/yamlx"
	"gopkg.in/yaml.v3"
)

//go:embed wso2/*.yaml
var files embed.FS

// Contract is one loaded OpenAPI document.
type Contract struct {
	Name     string
	Doc      *openapi3.T
	BasePath string
}

var (
	mu    sync.Mutex
	cache = map[string]*Contract{}
)

// Known base paths of the contract files as Keyway serves them.
var basePaths = map[string]string{
	"publisher-api.yaml":    "/api/am/publisher/v4",
	"devportal-api.yaml":    "/api/am/devportal/v3",
	"admin-api.yaml":        "/api/am/admin/v4",
	"internal-api.yaml":     "/internal/data/v1",
	"is-dcr.yaml":           "/api/identity/oauth2/dcr/v1.1",
	"is-api-resource.yaml":  "/api/server/v1",
	"is-oauth2-scopes.yaml": "/api/identity/oauth2/v1.0",
}

// Load returns the named contract (e.g. "publisher-api.yaml"), converting
// Swagger 2 files to OpenAPI 3.
func Load(t testing.TB, name string) *Contract {
	t.Helper()
	c, err := load(name)
	if err != nil {
		t.Fatalf("load contract %s: %v", name, err)
	}
	return c
}

func load(name string) (*Contract, error) {
	mu.Lock()
	defer mu.Unlock()
	if c, ok := cache[name]; ok {
		return c, nil
	}
	data, err := files.ReadFile("wso2/" + name)
	if err != nil {
		return nil, err
	}
	var doc *openapi3.T
	if bytes.Contains(data[:min(len(data), 200)], []byte("swagger:")) {
		// Decode through yaml.Node: is-dcr.yaml repeats keys, which a map
		// decode rejects; the last value wins, as in the Java parsers.
		var node yaml.Node
		if err := yaml.Unmarshal(data, &node); err != nil {
			return nil, fmt.Errorf("parse swagger 2: %w", err)
		}
		raw, err := nodeValue(&node)
		if err != nil {
			return nil, fmt.Errorf("parse swagger 2: %w", err)
		}
		js, err := json.Marshal(fixResponseRefs(yamlx.StringKeys(raw)))
		if err != nil {
			return nil, fmt.Errorf("parse swagger 2: %w", err)
		}
		var v2 openapi2.T
		if err := json.Unmarshal(js, &v2); err != nil {
			return nil, fmt.Errorf("parse swagger 2: %w", err)
		}
		doc, err = openapi2conv.ToV3(&v2)
		if err != nil {
			return nil, fmt.Errorf("convert swagger 2: %w", err)
		}
	} else {
		loader := openapi3.NewLoader()
		loader.IsExternalRefsAllowed = false
		doc, err = loader.LoadFromData(data)
		if err != nil {
			return nil, fmt.Errorf("parse openapi 3: %w", err)
		}
	}
	c := &Contract{Name: name, Doc: doc, BasePath: basePaths[name]}
	cache[name] = c
	return c, nil
}

// Operation finds the operation for a method and a concrete request path
// (with or without the base path), returning its path template and params.
func (c *Contract) Operation(method, path string) (tmpl string, op *openapi3.Operation, params map[string]string, ok bool) {
	path = strings.TrimPrefix(path, c.BasePath)
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	best := -1
	for p, item := range c.Doc.Paths.Map() {
		o := item.GetOperation(strings.ToUpper(method))
		if o == nil {
			continue
		}
		tsegs := strings.Split(strings.Trim(p, "/"), "/")
		if len(tsegs) != len(segs) {
			continue
		}
		ps := map[string]string{}
		literal := 0
		match := true
		for i, ts := range tsegs {
			if strings.HasPrefix(ts, "{") && strings.HasSuffix(ts, "}") {
				ps[ts[1:len(ts)-1]] = segs[i]
				continue
			}
			if ts != segs[i] {
				match = false
				break
			}
			literal++
		}
		// Prefer the template with the most literal segments (/apis/import over /apis/{apiId}).
		if match && literal > best {
			best, tmpl, op, params, ok = literal, p, o, ps, true
		}
	}
	return
}

// CheckResponse validates a recorded response against the contract: the
// status must be declared (or a default exist) and a JSON body must match
// the declared schema. body is the raw response body.
func (c *Contract) CheckResponse(t testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	if err := c.Validate(req, status, header, body); err != nil {
		t.Errorf("contract %s: %s %s -> %d: %v\nbody: %s", c.Name, req.Method, req.URL.Path, status, err, truncate(body))
	}
}

// Validate is CheckResponse returning the error.
func (c *Contract) Validate(req *http.Request, status int, header http.Header, body []byte) error {
	tmpl, op, params, ok := c.Operation(req.Method, req.URL.Path)
	if !ok {
		return fmt.Errorf("no operation %s %s in the contract", req.Method, req.URL.Path)
	}
	if op.Responses.Status(status) == nil && op.Responses.Default() == nil {
		return fmt.Errorf("status %d is not declared for %s %s", status, req.Method, tmpl)
	}
	if header == nil {
		header = http.Header{}
	}
	if header.Get("Content-Type") == "" && len(body) > 0 {
		header = header.Clone()
		header.Set("Content-Type", "application/json")
	}
	route := &routers.Route{Spec: c.Doc, Path: tmpl, PathItem: c.Doc.Paths.Find(tmpl), Method: req.Method, Operation: op}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status: status,
		Header: header,
		Body:   io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			MultiError:            true,
			AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
		},
	}
	return openapi3filter.ValidateResponse(context.Background(), in)
}

// Do sends req with client, validates the response against the contract and
// returns it with its body read.
func (c *Contract) Do(t testing.TB, client *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	c.CheckResponse(t, req, resp.StatusCode, resp.Header, body)
	return resp, body
}

func truncate(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "..."
	}
	return string(b)
}

// fixResponseRefs wraps a response written as a bare schema $ref (which
// internal-api.yaml does twice, and Swagger 2 does not allow) in a schema.
func fixResponseRefs(v any) any {
	root, ok := v.(map[string]any)
	if !ok {
		return v
	}
	paths, _ := root["paths"].(map[string]any)
	for _, item := range paths {
		ops, _ := item.(map[string]any)
		for _, op := range ops {
			o, _ := op.(map[string]any)
			resps, _ := o["responses"].(map[string]any)
			for code, r := range resps {
				rm, _ := r.(map[string]any)
				if ref, ok := rm["$ref"].(string); ok && strings.HasPrefix(ref, "#/definitions/") {
					resps[code] = map[string]any{"description": code, "schema": map[string]any{"$ref": ref}}
				}
			}
		}
	}
	return root
}

func nodeValue(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return nodeValue(n.Content[0])
	case yaml.AliasNode:
		return nodeValue(n.Alias)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := nodeValue(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := nodeValue(c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	default:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, err
		}
		return v, nil
	}
}
