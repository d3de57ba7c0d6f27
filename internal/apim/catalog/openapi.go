package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/keyway/keyway/internal/yamlx"
	"gopkg.in/yaml.v3"
)

// Definition is a parsed OpenAPI 3 or Swagger 2 document. The catalog keeps
// it as a generic JSON tree so that a definition survives in the version
// and with the extensions its author wrote; kin-openapi validates it.
type Definition struct {
	doc map[string]any
	// Swagger2 is true for a "swagger: 2.0" document.
	Swagger2 bool
}

// DefinitionError lists why a definition is invalid.
type DefinitionError struct{ Problems []string }

func (e *DefinitionError) Error() string {
	return "invalid OpenAPI definition: " + strings.Join(e.Problems, "; ")
}

// DefinitionInfo is what the publisher's validate-openapi reports.
type DefinitionInfo struct {
	Name           string   `json:"name"`
	Version        string   `json:"version"`
	Context        string   `json:"context"`
	Description    string   `json:"description"`
	OpenAPIVersion string   `json:"openAPIVersion"`
	Endpoints      []string `json:"endpoints"`
}

var httpVerbs = []string{"get", "put", "post", "delete", "patch", "head", "options"}

// ParseDefinition parses and validates a JSON or YAML definition.
func ParseDefinition(ctx context.Context, data []byte) (*Definition, error) {
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil, &DefinitionError{Problems: []string{"the definition is empty"}}
	}
	var raw any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, &DefinitionError{Problems: []string{"cannot parse the definition as JSON or YAML: " + err.Error()}}
	}
	doc, ok := yamlx.StringKeys(raw).(map[string]any)
	if !ok {
		return nil, &DefinitionError{Problems: []string{"the definition is not an object"}}
	}
	// YAML reads an unquoted "swagger: 2.0" or "version: 1.0" as a number;
	// the text as written is what the author meant.
	var node yaml.Node
	if yaml.Unmarshal(data, &node) == nil {
		if v, ok := scalarAt(&node, "swagger"); ok {
			doc["swagger"] = v
		}
		if v, ok := scalarAt(&node, "info", "version"); ok {
			if info, ok := doc["info"].(map[string]any); ok {
				info["version"] = v
			}
		}
	}
	d := &Definition{doc: doc}
	if err := d.validate(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Definition) validate(ctx context.Context) error {
	js, err := json.Marshal(d.doc)
	if err != nil {
		return &DefinitionError{Problems: []string{err.Error()}}
	}
	var doc3 *openapi3.T
	switch {
	case str(d.doc["swagger"]) != "":
		if str(d.doc["swagger"]) != "2.0" {
			return &DefinitionError{Problems: []string{fmt.Sprintf("unsupported swagger version %q", str(d.doc["swagger"]))}}
		}
		d.Swagger2 = true
		var v2 openapi2.T
		if err := json.Unmarshal(js, &v2); err != nil {
			return &DefinitionError{Problems: []string{"malformed Swagger 2 document: " + err.Error()}}
		}
		if v2.Info.Title == "" || v2.Info.Version == "" {
			return &DefinitionError{Problems: []string{"info.title and info.version are required"}}
		}
		doc3, err = openapi2conv.ToV3(&v2)
		if err != nil {
			return &DefinitionError{Problems: []string{"malformed Swagger 2 document: " + err.Error()}}
		}
	case strings.HasPrefix(str(d.doc["openapi"]), "3."):
		loader := openapi3.NewLoader()
		loader.IsExternalRefsAllowed = false
		doc3, err = loader.LoadFromData(js)
		if err != nil {
			return &DefinitionError{Problems: []string{"malformed OpenAPI 3 document: " + err.Error()}}
		}
	default:
		return &DefinitionError{Problems: []string{"the document declares neither 'openapi: 3.x' nor 'swagger: 2.0'"}}
	}
	if err := doc3.Validate(ctx, openapi3.DisableExamplesValidation(), openapi3.DisableSchemaDefaultsValidation(), openapi3.EnableMultiError()); err != nil {
		var problems []string
		var me openapi3.MultiError
		if errors.As(err, &me) {
			for _, e := range me {
				problems = append(problems, e.Error())
			}
		} else {
			problems = []string{err.Error()}
		}
		return &DefinitionError{Problems: problems}
	}
	if _, ok := d.doc["paths"].(map[string]any); !ok {
		d.doc["paths"] = map[string]any{}
	}
	return nil
}

// JSON returns the definition as JSON.
func (d *Definition) JSON() []byte {
	b, _ := json.MarshalIndent(d.doc, "", "  ")
	return b
}

// YAML returns the definition as YAML.
func (d *Definition) YAML() []byte {
	b, _ := yaml.Marshal(d.doc)
	return b
}

// Info summarises the definition for validate-openapi and import-openapi.
func (d *Definition) Info() DefinitionInfo {
	info, _ := d.doc["info"].(map[string]any)
	out := DefinitionInfo{Name: str(info["title"]), Version: str(info["version"]), Description: str(info["description"]), Endpoints: []string{}}
	if d.Swagger2 {
		out.OpenAPIVersion = "2.0"
		host, base := str(d.doc["host"]), str(d.doc["basePath"])
		out.Context = base
		if host != "" {
			schemes, _ := d.doc["schemes"].([]any)
			if len(schemes) == 0 {
				schemes = []any{"https"}
			}
			for _, s := range schemes {
				out.Endpoints = append(out.Endpoints, str(s)+"://"+host+base)
			}
		}
	} else {
		out.OpenAPIVersion = str(d.doc["openapi"])
		servers, _ := d.doc["servers"].([]any)
		for _, s := range servers {
			m, _ := s.(map[string]any)
			if u := str(m["url"]); u != "" {
				out.Endpoints = append(out.Endpoints, u)
				if out.Context == "" {
					if pu, err := url.Parse(u); err == nil && pu.Path != "" && pu.Path != "/" {
						out.Context = pu.Path
					}
				}
			}
		}
	}
	if out.Context == "" && out.Name != "" {
		out.Context = "/" + strings.ToLower(strings.Join(strings.Fields(out.Name), ""))
	}
	return out
}

// Operations lists the definition's resources in path order, with the
// WSO2 extensions x-auth-type, x-throttling-tier and the oauth2 scopes of
// each operation's security requirement (or x-scope).
func (d *Definition) Operations() []Operation {
	paths, _ := d.doc["paths"].(map[string]any)
	keys := make([]string, 0, len(paths))
	for k := range paths {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []Operation
	for _, p := range keys {
		item, _ := paths[p].(map[string]any)
		for _, verb := range httpVerbs {
			op, ok := item[verb].(map[string]any)
			if !ok {
				continue
			}
			o := Operation{Target: p, Verb: strings.ToUpper(verb), AuthType: "Application & Application User", ThrottlingPolicy: "Unlimited", Scopes: []string{}, UsedProductIDs: []string{}}
			if a := str(op["x-auth-type"]); a != "" {
				o.AuthType = a
			}
			if t := str(op["x-throttling-tier"]); t != "" {
				o.ThrottlingPolicy = t
			}
			security, hasSec := op["security"].([]any)
			if !hasSec {
				security, _ = d.doc["security"].([]any)
			}
			for _, req := range security {
				rm, _ := req.(map[string]any)
				for _, scopes := range rm {
					list, _ := scopes.([]any)
					for _, s := range list {
						if n := str(s); n != "" && !slices.Contains(o.Scopes, n) {
							o.Scopes = append(o.Scopes, n)
						}
					}
				}
			}
			if s := str(op["x-scope"]); s != "" && !slices.Contains(o.Scopes, s) {
				o.Scopes = append(o.Scopes, s)
			}
			out = append(out, o)
		}
	}
	return out
}

// Scopes lists the OAuth2 scopes the definition declares, with the role
// bindings of WSO2's x-scopes-bindings extension.
func (d *Definition) Scopes() []Scope {
	var scopesMap, bindings map[string]any
	collect := func(m map[string]any) {
		if s, ok := m["scopes"].(map[string]any); ok && len(s) > 0 {
			scopesMap = s
		}
		if b, ok := m["x-scopes-bindings"].(map[string]any); ok {
			bindings = b
		}
	}
	if d.Swagger2 {
		defs, _ := d.doc["securityDefinitions"].(map[string]any)
		for _, name := range sortedKeys(defs) {
			sd, _ := defs[name].(map[string]any)
			if str(sd["type"]) == "oauth2" {
				collect(sd)
				if scopesMap != nil {
					break
				}
			}
		}
	} else {
		comps, _ := d.doc["components"].(map[string]any)
		schemes, _ := comps["securitySchemes"].(map[string]any)
		for _, name := range sortedKeys(schemes) {
			sd, _ := schemes[name].(map[string]any)
			if str(sd["type"]) != "oauth2" {
				continue
			}
			collect(sd)
			flows, _ := sd["flows"].(map[string]any)
			for _, fn := range sortedKeys(flows) {
				f, _ := flows[fn].(map[string]any)
				collect(f)
			}
			if scopesMap != nil {
				break
			}
		}
	}
	out := []Scope{}
	for _, name := range sortedKeys(scopesMap) {
		s := Scope{Name: name, DisplayName: name, Description: str(scopesMap[name]), Bindings: []string{}}
		for _, r := range strings.Split(str(bindings[name]), ",") {
			if r = strings.TrimSpace(r); r != "" {
				s.Bindings = append(s.Bindings, r)
			}
		}
		out = append(out, s)
	}
	return out
}

// Sync rewrites the definition to describe api: title, version and
// description, one operation per API operation (keeping the existing
// operation objects, with their parameters and responses), WSO2's security
// extensions and the API scopes with their bindings.
func (d *Definition) Sync(api *API) {
	info, _ := d.doc["info"].(map[string]any)
	if info == nil {
		info = map[string]any{}
		d.doc["info"] = info
	}
	info["title"] = api.Name
	info["version"] = api.Version
	if api.Description != "" {
		info["description"] = api.Description
	}
	old, _ := d.doc["paths"].(map[string]any)
	paths := map[string]any{}
	for _, o := range api.Operations {
		item, _ := paths[o.Target].(map[string]any)
		if item == nil {
			item = map[string]any{}
			if prev, ok := old[o.Target].(map[string]any); ok {
				// Keep path-level fields (parameters, summary...).
				for k, v := range prev {
					if !slices.Contains(httpVerbs, k) {
						item[k] = v
					}
				}
			}
			paths[o.Target] = item
		}
		verb := strings.ToLower(o.Verb)
		var op map[string]any
		if prev, ok := old[o.Target].(map[string]any); ok {
			op, _ = prev[verb].(map[string]any)
		}
		if op == nil {
			op = map[string]any{"responses": map[string]any{"200": map[string]any{"description": "OK"}}}
			if params := d.pathParams(o.Target); len(params) > 0 {
				if _, has := item["parameters"]; !has {
					op["parameters"] = params
				}
			}
		}
		scopes := make([]any, 0, len(o.Scopes))
		for _, s := range o.Scopes {
			scopes = append(scopes, s)
		}
		op["security"] = []any{map[string]any{"default": scopes}}
		op["x-auth-type"] = defaultString(o.AuthType, "Application & Application User")
		op["x-throttling-tier"] = defaultString(o.ThrottlingPolicy, "Unlimited")
		item[verb] = op
	}
	d.doc["paths"] = paths

	scopes := map[string]any{}
	bindings := map[string]any{}
	for _, s := range api.Scopes {
		scopes[s.Scope.Name] = s.Scope.Description
		bindings[s.Scope.Name] = strings.Join(s.Scope.Bindings, ",")
	}
	if d.Swagger2 {
		defs, _ := d.doc["securityDefinitions"].(map[string]any)
		if defs == nil {
			defs = map[string]any{}
			d.doc["securityDefinitions"] = defs
		}
		defs["default"] = map[string]any{"type": "oauth2", "authorizationUrl": "https://test.com", "flow": "implicit", "scopes": scopes, "x-scopes-bindings": bindings}
		return
	}
	comps, _ := d.doc["components"].(map[string]any)
	if comps == nil {
		comps = map[string]any{}
		d.doc["components"] = comps
	}
	schemes, _ := comps["securitySchemes"].(map[string]any)
	if schemes == nil {
		schemes = map[string]any{}
		comps["securitySchemes"] = schemes
	}
	schemes["default"] = map[string]any{"type": "oauth2", "flows": map[string]any{"implicit": map[string]any{
		"authorizationUrl": "https://test.com", "scopes": scopes, "x-scopes-bindings": bindings}}}
}

var pathParam = regexp.MustCompile(`\{([^{}]+)\}`)

func (d *Definition) pathParams(target string) []any {
	var out []any
	for _, m := range pathParam.FindAllStringSubmatch(target, -1) {
		p := map[string]any{"name": m[1], "in": "path", "required": true}
		if d.Swagger2 {
			p["type"] = "string"
		} else {
			p["schema"] = map[string]any{"type": "string"}
		}
		out = append(out, p)
	}
	return out
}

// NewDefinition generates an OpenAPI 3 definition for an API that was
// created without one.
func NewDefinition(api *API) *Definition {
	d := &Definition{doc: map[string]any{
		"openapi": "3.0.1",
		"info":    map[string]any{"title": api.Name, "version": api.Version},
		"servers": []any{map[string]any{"url": "/"}},
		"paths":   map[string]any{},
	}}
	d.Sync(api)
	return d
}

// Clone returns a deep copy.
func (d *Definition) Clone() *Definition {
	var doc map[string]any
	_ = json.Unmarshal(d.JSON(), &doc)
	return &Definition{doc: doc, Swagger2: d.Swagger2}
}

// scalarAt returns the literal text of the scalar at a key path.
func scalarAt(n *yaml.Node, keys ...string) (string, bool) {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, k := range keys {
		if n.Kind != yaml.MappingNode {
			return "", false
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		if next == nil {
			return "", false
		}
		n = next
	}
	if n.Kind != yaml.ScalarNode {
		return "", false
	}
	return n.Value, true
}

func defaultString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	case float64, int, int64, bool:
		return fmt.Sprint(x)
	}
	return ""
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
