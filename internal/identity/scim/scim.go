// Package scim serves the Identity Server's SCIM 2.0 APIs (RFC 7643/7644)
// over the user store: /scim2/Users, /scim2/Groups, /scim2/Me and the IS 7
// roles v2 API /scim2/v2/Roles, whose permissions are API-resource scopes.
// It accepts application/json as well as application/scim+json, and request
// bodies without "schemas", as the API Manager's connector sends them.
package scim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keyway/keyway/internal/identity/access"
	"github.com/keyway/keyway/internal/oauth"
	"github.com/keyway/keyway/internal/user"
)

// SCIM schema URNs.
const (
	SchemaUser         = "urn:ietf:params:scim:schemas:core:2.0:User"
	SchemaEnterprise   = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	SchemaGroup        = "urn:ietf:params:scim:schemas:core:2.0:Group"
	SchemaRole         = "urn:ietf:params:scim:schemas:extension:2.0:Role"
	SchemaListResponse = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	SchemaPatchOp      = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	SchemaSearch       = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
)

// Paths served.
const (
	UsersPath  = "/scim2/Users"
	GroupsPath = "/scim2/Groups"
	MePath     = "/scim2/Me"
	RolesPath  = "/scim2/v2/Roles"
)

// UserRevoker revokes a user's tokens when the user is deleted, locked or
// gets a new password; *oauth.Server implements it.
type UserRevoker interface {
	RevokeUserTokens(ctx context.Context, userID string, kind oauth.RevocationKind) error
}

// PermissionCatalog knows the scopes roles may hold as permissions;
// *apiresource.Store implements it.
type PermissionCatalog interface {
	DisplayNames(ctx context.Context, names []string) (map[string]string, error)
}

// Options configure the Handler.
type Options struct {
	Users user.Directory
	Guard *access.Guard
	// Revoker is optional.
	Revoker UserRevoker
	// Permissions, when set, rejects role permissions that are neither
	// API-resource scopes nor internal scopes, and names them.
	Permissions PermissionCatalog
	// AdminRole cannot be deleted.
	AdminRole string
	// OrgID and OrgName describe the organisation audience of roles
	// (default IS 7's super organisation).
	OrgID, OrgName string
	// BaseURL prefixes meta.location; empty uses the request's host.
	BaseURL string
	Logger  *slog.Logger
}

// Handler serves the SCIM APIs.
type Handler struct{ o Options }

// NewHandler returns the SCIM handler.
func NewHandler(o Options) *Handler {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.OrgID == "" {
		o.OrgID = "10084a8d-113f-4211-a0d5-efe36b082211"
	}
	if o.OrgName == "" {
		o.OrgName = "Super"
	}
	if o.AdminRole == "" {
		o.AdminRole = "admin"
	}
	return &Handler{o: o}
}

// resourceRoutes are the seven routes every SCIM resource type has.
type resourceRoutes struct {
	path                         string
	scopes                       string // the internal_*_mgt prefix; the method picks the suffix
	respond                      func(http.ResponseWriter, *http.Request, page)
	create, get, put, patch, del http.HandlerFunc
}

// Mount registers the routes.
func (h *Handler) Mount(mux *http.ServeMux) {
	p := func(pattern string, scope access.ScopeFunc, fn http.HandlerFunc) {
		mux.Handle(pattern, h.o.Guard.Protect(access.SCIM, scope, fn))
	}
	for _, rt := range []resourceRoutes{
		{UsersPath, access.UserScopes, h.respondUsers, h.createUser, h.getUser, h.putUser, h.patchUser, h.deleteUser},
		{GroupsPath, access.GroupScopes, h.respondGroups, h.createGroup, h.getGroup, h.putGroup, h.patchGroup, h.deleteGroup},
		{RolesPath, access.RoleScopes, h.respondRoles, h.createRole, h.getRole, h.putRole, h.patchRole, h.deleteRole},
	} {
		byMethod := access.ByMethod(rt.scopes)
		p("GET "+rt.path, byMethod, h.paged(queryPage, rt.respond))
		p("POST "+rt.path, byMethod, rt.create)
		// .search is a read, whatever its method.
		p("POST "+rt.path+"/.search", fixed(rt.scopes+"_view"), h.paged(searchPage, rt.respond))
		p("GET "+rt.path+"/{id}", byMethod, rt.get)
		p("PUT "+rt.path+"/{id}", byMethod, rt.put)
		p("PATCH "+rt.path+"/{id}", byMethod, rt.patch)
		p("DELETE "+rt.path+"/{id}", byMethod, rt.del)
	}
	p("GET "+MePath, fixed(access.ScopeLogin), h.me)
}

func fixed(scope string) access.ScopeFunc { return func(*http.Request) string { return scope } }

// meta is the SCIM resource meta attribute.
type meta struct {
	ResourceType string `json:"resourceType"`
	Created      string `json:"created,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
	Location     string `json:"location"`
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

func (h *Handler) location(r *http.Request, path, id string) string {
	base := h.o.BaseURL
	if base == "" {
		base = "https://" + r.Host
	}
	return strings.TrimRight(base, "/") + path + "/" + id
}

// listResponse is RFC 7644 §3.4.2.
type listResponse struct {
	Schemas      []string `json:"schemas"`
	TotalResults int      `json:"totalResults"`
	StartIndex   int      `json:"startIndex"`
	ItemsPerPage int      `json:"itemsPerPage"`
	Resources    []any    `json:"Resources"`
}

// page is a parsed list request.
type page struct {
	filter     user.Filter
	startIndex int
	count      int // -1: unbounded
}

// parsePage reads filter, startIndex (1-based) and count (RFC 7644 §3.4.2).
func parsePage(filter, start, count string) (page, error) {
	p := page{startIndex: 1, count: -1}
	if start != "" {
		n, err := strconv.Atoi(start)
		if err != nil {
			return p, errInvalidValue("startIndex must be an integer")
		}
		if n > 1 {
			p.startIndex = n
		}
	}
	if count != "" {
		n, err := strconv.Atoi(count)
		if err != nil {
			return p, errInvalidValue("count must be an integer")
		}
		p.count = max(n, 0)
	}
	f, err := parseFilter(filter)
	if err != nil {
		return p, err
	}
	p.filter = f
	p.filter.Offset = p.startIndex - 1
	if p.count >= 0 {
		p.filter.Limit = p.count
	}
	return p, nil
}

func queryPage(r *http.Request) (page, error) {
	q := r.URL.Query()
	return parsePage(q.Get("filter"), q.Get("startIndex"), q.Get("count"))
}

// searchRequest is the body of POST .search.
type searchRequest struct {
	Filter     string `json:"filter"`
	StartIndex *int   `json:"startIndex"`
	Count      *int   `json:"count"`
}

func searchPage(r *http.Request) (page, error) {
	var s searchRequest
	if err := decode(r, &s); err != nil {
		return page{}, err
	}
	start, count := "", ""
	if s.StartIndex != nil {
		start = strconv.Itoa(*s.StartIndex)
	}
	if s.Count != nil {
		count = strconv.Itoa(*s.Count)
	}
	return parsePage(s.Filter, start, count)
}

// parseFilter handles one comparison `attr op value` with op eq, co, sw or
// ew and a quoted or bare value; attribute names may carry their schema URN.
func parseFilter(f string) (user.Filter, error) {
	f = strings.TrimSpace(f)
	if f == "" {
		return user.Filter{}, nil
	}
	attr, rest, ok := strings.Cut(f, " ")
	if !ok {
		return user.Filter{}, errFilter("filter %q must be \"attribute operator value\"", f)
	}
	op, value, ok := strings.Cut(strings.TrimSpace(rest), " ")
	if !ok {
		return user.Filter{}, errFilter("filter %q must be \"attribute operator value\"", f)
	}
	value = strings.TrimSpace(value)
	if strings.HasPrefix(value, `"`) {
		var s string
		if err := json.Unmarshal([]byte(value), &s); err != nil {
			return user.Filter{}, errFilter("filter value %s is not a valid string", value)
		}
		value = s
	} else if lv := strings.ToLower(value); strings.Contains(lv, " and ") || strings.Contains(lv, " or ") || strings.ContainsAny(value, "()[]") {
		return user.Filter{}, errFilter("only one comparison per filter is supported")
	}
	// A bare value may hold spaces: the APIM connector sends
	// "displayName eq <role>" unquoted.
	switch strings.ToLower(op) {
	case "eq", "co", "sw", "ew":
	default:
		return user.Filter{}, errFilter("operator %q is not supported (use eq, co, sw or ew)", op)
	}
	for _, urn := range []string{SchemaUser, SchemaGroup, SchemaRole} {
		if a, ok := strings.CutPrefix(attr, urn+":"); ok {
			attr = a
		}
	}
	return user.Filter{Attribute: attr, Op: strings.ToLower(op), Value: value}, nil
}

func newList(total int, p page, items []any) listResponse {
	if items == nil {
		items = []any{}
	}
	return listResponse{Schemas: []string{SchemaListResponse}, TotalResults: total, StartIndex: p.startIndex, ItemsPerPage: len(items), Resources: items}
}

// scimError carries a status and scimType to the edge.
type scimError struct {
	status   int
	scimType string
	detail   string
}

func (e *scimError) Error() string { return e.detail }

func errInvalidValue(format string, a ...any) error {
	return &scimError{status: http.StatusBadRequest, scimType: "invalidValue", detail: fmt.Sprintf(format, a...)}
}

func errFilter(format string, a ...any) error {
	return &scimError{status: http.StatusBadRequest, scimType: "invalidFilter", detail: fmt.Sprintf(format, a...)}
}

func errSyntax(format string, a ...any) error {
	return &scimError{status: http.StatusBadRequest, scimType: "invalidSyntax", detail: fmt.Sprintf(format, a...)}
}

func errMutability(format string, a ...any) error {
	return &scimError{status: http.StatusBadRequest, scimType: "mutability", detail: fmt.Sprintf(format, a...)}
}

func errNotFound(what string) error {
	return &scimError{status: http.StatusNotFound, detail: what + " not found"}
}

// fail maps an error to a SCIM error response.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var se *scimError
	switch {
	case errors.As(err, &se):
		access.WriteError(w, r, access.SCIM, se.status, se.scimType, se.detail)
	case errors.Is(err, user.ErrConflict):
		access.WriteError(w, r, access.SCIM, http.StatusConflict, "uniqueness", strings.Replace(err.Error(), ": "+user.ErrConflict.Error(), " already exists", 1))
	case errors.Is(err, user.ErrInvalid):
		access.WriteError(w, r, access.SCIM, http.StatusBadRequest, "invalidValue", strings.Replace(err.Error(), user.ErrInvalid.Error()+": ", "", 1))
	case errors.Is(err, user.ErrBadFilter):
		access.WriteError(w, r, access.SCIM, http.StatusBadRequest, "invalidFilter", strings.Replace(err.Error(), user.ErrBadFilter.Error()+": ", "unsupported filter ", 1))
	case errors.Is(err, user.ErrNotFound):
		access.WriteError(w, r, access.SCIM, http.StatusNotFound, "", "resource not found")
	default:
		h.o.Logger.Error("SCIM request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		access.WriteError(w, r, access.SCIM, http.StatusInternalServerError, "", "the server could not complete the request")
	}
}

// memberError turns "unknown member" into 400: the resource addressed exists,
// the reference in the body does not.
func memberError(err error) error {
	if errors.Is(err, user.ErrNotFound) {
		return errInvalidValue("%s", strings.Replace(err.Error(), ": "+user.ErrNotFound.Error(), " does not exist", 1))
	}
	return err
}

// decode reads a JSON body (application/json or application/scim+json).
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return errSyntax("the request body is not valid JSON: %v", err)
	}
	return nil
}

// decodeObject reads a JSON object with attribute names lower-cased
// (SCIM attribute names are case-insensitive, RFC 7643 §2.1).
func decodeObject(r *http.Request) (map[string]any, error) {
	var m map[string]any
	if err := decode(r, &m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errSyntax("the request body must be a JSON object")
	}
	return lowerKeys(m), nil
}

func lowerKeys(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		// Extension URNs keep their case (they hold a ':').
		if !strings.Contains(k, ":") {
			k = strings.ToLower(k)
		}
		if sub, ok := v.(map[string]any); ok {
			v = lowerKeys(sub)
		}
		out[k] = v
	}
	return out
}

// patchOp is one operation of a PatchOp request (RFC 7644 §3.5.2).
type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

func decodePatch(r *http.Request) ([]patchOp, error) {
	var body struct {
		Operations []patchOp `json:"Operations"`
		Lower      []patchOp `json:"operations"`
	}
	if err := decode(r, &body); err != nil {
		return nil, err
	}
	ops := body.Operations
	if len(ops) == 0 {
		ops = body.Lower
	}
	if len(ops) == 0 {
		return nil, errInvalidValue("Operations is required")
	}
	for i := range ops {
		ops[i].Op = strings.ToLower(ops[i].Op)
		switch ops[i].Op {
		case "add", "replace", "remove":
		default:
			return nil, errInvalidValue("operation %q is not add, replace or remove", ops[i].Op)
		}
	}
	return ops, nil
}

// refs reads a multi-valued reference attribute ([{value}] or ["id"]).
func refs(v any) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	arr, ok := v.([]any)
	if !ok {
		if m, ok := v.(map[string]any); ok {
			arr = []any{m}
		} else {
			return nil, errInvalidValue("expected a list of {\"value\": ...}")
		}
	}
	out := []string{}
	for _, it := range arr {
		switch x := it.(type) {
		case string:
			out = append(out, x)
		case map[string]any:
			s, ok := lowerKeys(x)["value"].(string)
			if !ok || s == "" {
				return nil, errInvalidValue("each entry needs a string value")
			}
			out = append(out, s)
		default:
			return nil, errInvalidValue("expected a list of {\"value\": ...}")
		}
	}
	return out, nil
}

// valueFilter reads paths like members[value eq "id"] and returns the
// attribute and the id.
func valueFilter(path string) (attr, id string, ok bool) {
	open := strings.IndexByte(path, '[')
	if open < 0 || !strings.HasSuffix(path, "]") {
		return strings.ToLower(path), "", false
	}
	f, err := parseFilter(path[open+1 : len(path)-1])
	if err != nil || !strings.EqualFold(f.Attribute, "value") || f.Op != "eq" {
		return strings.ToLower(path[:open]), "", false
	}
	return strings.ToLower(path[:open]), f.Value, true
}

func without(list []string, drop ...string) []string {
	out := []string{}
	for _, v := range list {
		keep := true
		for _, d := range drop {
			if v == d {
				keep = false
			}
		}
		if keep {
			out = append(out, v)
		}
	}
	return out
}

func appendNew(list []string, add ...string) []string {
	for _, a := range add {
		found := false
		for _, v := range list {
			if v == a {
				found = true
			}
		}
		if !found {
			list = append(list, a)
		}
	}
	return list
}
