package scim

import (
	"context"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/keyway/keyway/internal/identity/access"
	"github.com/keyway/keyway/internal/user"
)

type permJSON struct {
	Value   string `json:"value"`
	Display string `json:"display"`
}

type audienceJSON struct {
	Value   string `json:"value"`
	Display string `json:"display"`
	Type    string `json:"type"`
}

// roleJSON is the IS 7 roles v2 resource (PATTERN6-WIRE.md §5.11).
type roleJSON struct {
	Schemas                []string     `json:"schemas"`
	ID                     string       `json:"id"`
	DisplayName            string       `json:"displayName"`
	Audience               audienceJSON `json:"audience"`
	Users                  []refJSON    `json:"users"`
	Groups                 []refJSON    `json:"groups"`
	Permissions            []permJSON   `json:"permissions"`
	AssociatedApplications []any        `json:"associatedApplications"`
	Properties             []any        `json:"properties"`
	Meta                   meta         `json:"meta"`
}

func (h *Handler) audienceValue(r *user.Role) string {
	if r.AudienceType == user.AudienceApplication {
		return r.AudienceValue
	}
	return h.o.OrgID
}

func (h *Handler) roleResource(ctx context.Context, r *http.Request, role *user.Role, names map[string]string) (roleJSON, error) {
	out := roleJSON{Schemas: []string{SchemaRole}, ID: role.ID, DisplayName: role.Name,
		Audience:    audienceJSON{Value: h.audienceValue(role), Display: h.o.OrgName, Type: role.AudienceType},
		Groups:      []refJSON{},
		Permissions: []permJSON{}, AssociatedApplications: []any{}, Properties: []any{},
		Meta: meta{ResourceType: "Role", Created: stamp(role.Created), LastModified: stamp(role.Updated), Location: h.location(r, RolesPath, role.ID)}}
	if role.AudienceType == user.AudienceApplication {
		out.Audience.Display = role.AudienceValue
		out.AssociatedApplications = []any{map[string]string{"value": role.AudienceValue}}
	}
	users, err := h.userRefs(ctx, r, role.Users)
	if err != nil {
		return out, err
	}
	out.Users = users
	for _, id := range role.Groups {
		ref := refJSON{Value: id, Ref: h.location(r, GroupsPath, id)}
		if g, err := h.o.Users.GetGroup(ctx, id); err == nil {
			ref.Display = g.Name
		} else if !isNotFound(err) {
			return out, err
		}
		out.Groups = append(out.Groups, ref)
	}
	for _, p := range role.Permissions {
		d := names[p]
		if d == "" {
			d = p
		}
		out.Permissions = append(out.Permissions, permJSON{Value: p, Display: d})
	}
	return out, nil
}

// displayNames resolves permission display names for roles.
func (h *Handler) displayNames(ctx context.Context, roles ...*user.Role) (map[string]string, error) {
	if h.o.Permissions == nil {
		return map[string]string{}, nil
	}
	var all []string
	for _, r := range roles {
		all = append(all, r.Permissions...)
	}
	if len(all) == 0 {
		return map[string]string{}, nil
	}
	return h.o.Permissions.DisplayNames(ctx, all)
}

// checkPermissions refuses permissions that are neither API-resource scopes
// nor the server's internal scopes.
func (h *Handler) checkPermissions(ctx context.Context, perms []string) error {
	if h.o.Permissions == nil || len(perms) == 0 {
		return nil
	}
	known, err := h.o.Permissions.DisplayNames(ctx, perms)
	if err != nil {
		return err
	}
	var unknown []string
	for _, p := range perms {
		if _, ok := known[p]; !ok && !access.IsInternalScope(p) {
			unknown = append(unknown, p)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return errInvalidValue("permissions %s are not scopes of any API resource", strings.Join(unknown, ", "))
	}
	return nil
}

func (h *Handler) writeRole(w http.ResponseWriter, r *http.Request, status int, id string) {
	ctx := r.Context()
	role, err := h.o.Users.GetRole(ctx, id)
	if err != nil {
		h.fail(w, r, notFound(err, "role"))
		return
	}
	names, err := h.displayNames(ctx, role)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	res, err := h.roleResource(ctx, r, role, names)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if status == http.StatusCreated {
		w.Header().Set("Location", res.Meta.Location)
	}
	access.WriteSCIM(w, status, res)
}

// respondRoles answers GET and POST .search; the results carry permissions,
// which the APIM connector reads to find a scope's roles (PATTERN6-WIRE.md §2.7).
func (h *Handler) respondRoles(w http.ResponseWriter, r *http.Request, p page) {
	respondList(h, w, r, p, h.o.Users.ListRoles, func(ctx context.Context, roles []*user.Role) (func(*user.Role) (any, error), error) {
		names, err := h.displayNames(ctx, roles...)
		if err != nil {
			return nil, err
		}
		return func(role *user.Role) (any, error) { return h.roleResource(ctx, r, role, names) }, nil
	})
}

// applyRole reads displayName, audience, users, groups and permissions;
// add appends members and permissions instead of replacing them.
func applyRole(role *user.Role, m map[string]any, add bool) error {
	for k, v := range m {
		switch k {
		case "displayname":
			s, ok := v.(string)
			if !ok {
				return errInvalidValue("displayName must be a string")
			}
			role.Name = s
		case "audience":
			a, ok := v.(map[string]any)
			if !ok {
				return errInvalidValue("audience must be an object")
			}
			t, _ := a["type"].(string)
			val, _ := a["value"].(string)
			switch strings.ToLower(t) {
			case "", user.AudienceOrganization:
				role.AudienceType, role.AudienceValue = user.AudienceOrganization, ""
			case user.AudienceApplication:
				if val == "" {
					return errInvalidValue("an application audience needs the application id as value")
				}
				role.AudienceType, role.AudienceValue = user.AudienceApplication, val
			default:
				return errInvalidValue("audience type %q must be organization or application", t)
			}
		case "users", "groups", "permissions":
			ids, err := refs(v)
			if err != nil {
				return err
			}
			dst := map[string]*[]string{"users": &role.Users, "groups": &role.Groups, "permissions": &role.Permissions}[k]
			if add {
				*dst = appendNew(*dst, ids...)
			} else {
				*dst = appendNew(nil, ids...)
			}
		}
	}
	return nil
}

func (h *Handler) createRole(w http.ResponseWriter, r *http.Request) {
	m, err := decodeObject(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	role := &user.Role{AudienceType: user.AudienceOrganization}
	if err := applyRole(role, m, false); err != nil {
		h.fail(w, r, err)
		return
	}
	if strings.TrimSpace(role.Name) == "" {
		h.fail(w, r, errInvalidValue("displayName is required"))
		return
	}
	if err := h.checkPermissions(r.Context(), role.Permissions); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.o.Users.CreateRole(r.Context(), role); err != nil {
		h.fail(w, r, memberError(err))
		return
	}
	h.o.Logger.Info("created role", "role", role.Name, "permissions", len(role.Permissions))
	h.writeRole(w, r, http.StatusCreated, role.ID)
}

func (h *Handler) getRole(w http.ResponseWriter, r *http.Request) {
	h.writeRole(w, r, http.StatusOK, r.PathValue("id"))
}

func (h *Handler) putRole(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	before, err := h.o.Users.GetRole(ctx, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, notFound(err, "role"))
		return
	}
	m, err := decodeObject(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	role := &user.Role{ID: before.ID, Name: before.Name, AudienceType: before.AudienceType, AudienceValue: before.AudienceValue}
	if err := applyRole(role, m, false); err != nil {
		h.fail(w, r, err)
		return
	}
	h.saveRole(w, r, before, role)
}

func (h *Handler) saveRole(w http.ResponseWriter, r *http.Request, before, role *user.Role) {
	ctx := r.Context()
	if strings.TrimSpace(role.Name) == "" {
		h.fail(w, r, errInvalidValue("displayName is required"))
		return
	}
	if role.AudienceType != before.AudienceType || role.AudienceValue != before.AudienceValue {
		h.fail(w, r, errMutability("the audience of a role cannot be changed"))
		return
	}
	if strings.EqualFold(before.Name, h.o.AdminRole) && !strings.EqualFold(role.Name, before.Name) {
		h.fail(w, r, errMutability("the admin role cannot be renamed"))
		return
	}
	// Permissions the role already holds stay acceptable even when their
	// scope is gone: the APIM connector deletes scopes without touching role
	// bindings (PATTERN6-WIRE.md §2.7) and later re-sends the old list.
	var added []string
	for _, p := range role.Permissions {
		if !slices.Contains(before.Permissions, p) {
			added = append(added, p)
		}
	}
	if err := h.checkPermissions(ctx, added); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.o.Users.UpdateRole(ctx, role); err != nil {
		h.fail(w, r, memberError(err))
		return
	}
	h.writeRole(w, r, http.StatusOK, role.ID)
}

func (h *Handler) patchRole(w http.ResponseWriter, r *http.Request) {
	before, err := h.o.Users.GetRole(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, notFound(err, "role"))
		return
	}
	ops, err := decodePatch(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	role := *before
	role.Permissions = append([]string(nil), before.Permissions...)
	role.Users = append([]string(nil), before.Users...)
	role.Groups = append([]string(nil), before.Groups...)
	for _, op := range ops {
		if err := patchRoleOp(&role, op); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	h.saveRole(w, r, before, &role)
}

func patchRoleOp(role *user.Role, op patchOp) error {
	attr, id, filtered := valueFilter(op.Path)
	lists := map[string]*[]string{"users": &role.Users, "groups": &role.Groups, "permissions": &role.Permissions}
	switch {
	case attr == "":
		if op.Op == "remove" {
			return errInvalidValue("remove needs a path")
		}
		m, ok := op.Value.(map[string]any)
		if !ok {
			return errInvalidValue("a %s without path needs an object value", op.Op)
		}
		m = lowerKeys(m)
		delete(m, "audience")
		return applyRole(role, m, op.Op == "add")
	case attr == "displayname":
		if op.Op == "remove" {
			return errInvalidValue("displayName cannot be removed")
		}
		s, ok := op.Value.(string)
		if !ok {
			return errInvalidValue("displayName must be a string")
		}
		role.Name = s
	case lists[attr] != nil:
		dst := lists[attr]
		if filtered {
			if op.Op != "remove" {
				return errInvalidValue("a filtered %s path is only valid for remove", attr)
			}
			*dst = without(*dst, id)
			return nil
		}
		ids, err := refs(op.Value)
		if err != nil {
			return err
		}
		switch op.Op {
		case "add":
			*dst = appendNew(*dst, ids...)
		case "replace":
			*dst = appendNew(nil, ids...)
		case "remove":
			if op.Value == nil {
				*dst = nil
			} else {
				*dst = without(*dst, ids...)
			}
		}
	default:
		return errInvalidValue("unsupported %s of %q", op.Op, op.Path)
	}
	return nil
}

func (h *Handler) deleteRole(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	role, err := h.o.Users.GetRole(ctx, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, notFound(err, "role"))
		return
	}
	if strings.EqualFold(role.Name, h.o.AdminRole) && role.AudienceType == user.AudienceOrganization {
		h.fail(w, r, errMutability("the admin role cannot be deleted"))
		return
	}
	if err := h.o.Users.DeleteRole(ctx, role.ID); err != nil {
		h.fail(w, r, notFound(err, "role"))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
