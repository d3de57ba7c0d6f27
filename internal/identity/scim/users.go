package scim

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/keyway/keyway/internal/identity/access"
	"github.com/keyway/keyway/internal/oauth"
	"github.com/keyway/keyway/internal/user"
)

type nameJSON struct {
	GivenName  string `json:"givenName,omitempty"`
	FamilyName string `json:"familyName,omitempty"`
}

type emailJSON struct {
	Value   string `json:"value"`
	Primary bool   `json:"primary"`
}

type refJSON struct {
	Value   string `json:"value"`
	Display string `json:"display,omitempty"`
	Ref     string `json:"$ref,omitempty"`
}

type userRoleJSON struct {
	Value         string `json:"value"`
	Display       string `json:"display"`
	AudienceType  string `json:"audienceType,omitempty"`
	AudienceValue string `json:"audienceValue,omitempty"`
	Ref           string `json:"$ref,omitempty"`
}

// userJSON is the SCIM user resource.
type userJSON struct {
	Schemas    []string          `json:"schemas"`
	ID         string            `json:"id"`
	UserName   string            `json:"userName"`
	Name       *nameJSON         `json:"name,omitempty"`
	Emails     []emailJSON       `json:"emails,omitempty"`
	Active     bool              `json:"active"`
	Groups     []refJSON         `json:"groups,omitempty"`
	Roles      []userRoleJSON    `json:"roles,omitempty"`
	Enterprise map[string]string `json:"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User,omitempty"`
	Meta       meta              `json:"meta"`
}

// enterprisePrefix keys enterprise-extension attributes in User.Claims.
const enterprisePrefix = SchemaEnterprise + ":"

func (h *Handler) userResource(ctx context.Context, r *http.Request, u *user.User, groupIDs map[string]string) (userJSON, error) {
	out := userJSON{Schemas: []string{SchemaUser}, ID: u.ID, UserName: u.Username, Active: !u.Locked,
		Meta: meta{ResourceType: "User", Created: stamp(u.Created), LastModified: stamp(u.Updated), Location: h.location(r, UsersPath, u.ID)}}
	if u.GivenName != "" || u.FamilyName != "" {
		out.Name = &nameJSON{GivenName: u.GivenName, FamilyName: u.FamilyName}
	}
	if u.Email != "" {
		out.Emails = []emailJSON{{Value: u.Email, Primary: true}}
	}
	for k, v := range u.Claims {
		if a, ok := strings.CutPrefix(k, enterprisePrefix); ok {
			if out.Enterprise == nil {
				out.Enterprise = map[string]string{}
				out.Schemas = append(out.Schemas, SchemaEnterprise)
			}
			out.Enterprise[a] = v
		}
	}
	for _, g := range u.Groups {
		ref := refJSON{Display: g, Value: groupIDs[strings.ToLower(g)]}
		if ref.Value != "" {
			ref.Ref = h.location(r, GroupsPath, ref.Value)
		}
		out.Groups = append(out.Groups, ref)
	}
	roles, err := h.o.Users.RolesOf(ctx, u.ID)
	if err != nil {
		return out, err
	}
	for _, role := range roles {
		out.Roles = append(out.Roles, userRoleJSON{Value: role.ID, Display: role.Name, AudienceType: role.AudienceType,
			AudienceValue: h.audienceValue(role), Ref: h.location(r, RolesPath, role.ID)})
	}
	return out, nil
}

// groupIDs maps lower-cased group names to ids for the users' groups.
func (h *Handler) groupIDs(ctx context.Context, users ...*user.User) (map[string]string, error) {
	need := false
	for _, u := range users {
		need = need || len(u.Groups) > 0
	}
	out := map[string]string{}
	if !need {
		return out, nil
	}
	gs, _, err := h.o.Users.ListGroups(ctx, user.Filter{})
	if err != nil {
		return nil, err
	}
	for _, g := range gs {
		out[strings.ToLower(g.Name)] = g.ID
	}
	return out, nil
}

func (h *Handler) writeUser(w http.ResponseWriter, r *http.Request, status int, u *user.User) {
	ids, err := h.groupIDs(r.Context(), u)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	res, err := h.userResource(r.Context(), r, u, ids)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if status == http.StatusCreated {
		w.Header().Set("Location", res.Meta.Location)
	}
	access.WriteSCIM(w, status, res)
}

func (h *Handler) respondUsers(w http.ResponseWriter, r *http.Request, p page) {
	respondList(h, w, r, p, h.o.Users.ListUsers, func(ctx context.Context, users []*user.User) (func(*user.User) (any, error), error) {
		ids, err := h.groupIDs(ctx, users...)
		if err != nil {
			return nil, err
		}
		return func(u *user.User) (any, error) { return h.userResource(ctx, r, u, ids) }, nil
	})
}

// applyUser writes user attributes from a SCIM object onto u; it returns
// the password when one is set.
func applyUser(u *user.User, m map[string]any) (password string, err error) {
	for k, v := range m {
		switch k {
		case "schemas", "id", "meta", "groups", "roles":
			// Read-only here: memberships are managed on groups and roles.
		case "username":
			s, ok := v.(string)
			if !ok {
				return "", errInvalidValue("userName must be a string")
			}
			u.Username = s
		case "password":
			s, ok := v.(string)
			if !ok {
				return "", errInvalidValue("password must be a string")
			}
			password = s
		case "name":
			n, ok := v.(map[string]any)
			if !ok {
				return "", errInvalidValue("name must be an object")
			}
			if err := applyName(u, n); err != nil {
				return "", err
			}
		case "name.givenname", "name.familyname":
			s, ok := v.(string)
			if !ok {
				return "", errInvalidValue("%s must be a string", k)
			}
			if k == "name.givenname" {
				u.GivenName = s
			} else {
				u.FamilyName = s
			}
		case "emails":
			e, err := primaryEmail(v)
			if err != nil {
				return "", err
			}
			u.Email = e
		case "active":
			b, ok := v.(bool)
			if !ok {
				return "", errInvalidValue("active must be a boolean")
			}
			u.Locked = !b
		case SchemaEnterprise:
			ext, ok := v.(map[string]any)
			if !ok {
				return "", errInvalidValue("the enterprise extension must be an object")
			}
			if u.Claims == nil {
				u.Claims = map[string]string{}
			}
			for a, x := range ext {
				s, ok := x.(string)
				if !ok {
					return "", errInvalidValue("enterprise attribute %s must be a string", a)
				}
				u.Claims[enterprisePrefix+a] = s
			}
		}
	}
	return password, nil
}

func applyName(u *user.User, n map[string]any) error {
	for k, v := range n {
		s, ok := v.(string)
		if !ok {
			return errInvalidValue("name.%s must be a string", k)
		}
		switch k {
		case "givenname":
			u.GivenName = s
		case "familyname":
			u.FamilyName = s
		}
	}
	return nil
}

// primaryEmail takes the primary (or first) address of an emails value:
// [{value, primary}] as RFC 7643, or ["a@b"] as IS also accepts.
func primaryEmail(v any) (string, error) {
	arr, ok := v.([]any)
	if !ok {
		return "", errInvalidValue("emails must be a list")
	}
	first := ""
	for _, it := range arr {
		switch x := it.(type) {
		case string:
			if first == "" {
				first = x
			}
		case map[string]any:
			x = lowerKeys(x)
			s, _ := x["value"].(string)
			if s == "" {
				return "", errInvalidValue("each email needs a value")
			}
			if p, _ := x["primary"].(bool); p {
				return s, nil
			}
			if first == "" {
				first = s
			}
		default:
			return "", errInvalidValue("emails must be a list of {value}")
		}
	}
	if first != "" && !strings.Contains(first, "@") {
		return "", errInvalidValue("%q is not an email address", first)
	}
	return first, nil
}

func (h *Handler) createUser(w http.ResponseWriter, r *http.Request) {
	m, err := decodeObject(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	u := &user.User{}
	password, err := applyUser(u, m)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if u.Username == "" {
		h.fail(w, r, errInvalidValue("userName is required"))
		return
	}
	if password == "" {
		h.fail(w, r, errInvalidValue("password is required"))
		return
	}
	if err := h.o.Users.CreateUser(r.Context(), u, password); err != nil {
		h.fail(w, r, err)
		return
	}
	got, err := h.o.Users.GetUser(r.Context(), u.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeUser(w, r, http.StatusCreated, got)
}

func (h *Handler) getUser(w http.ResponseWriter, r *http.Request) {
	u, err := h.o.Users.GetUser(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, notFound(err, "user"))
		return
	}
	h.writeUser(w, r, http.StatusOK, u)
}

func notFound(err error, what string) error {
	if errors.Is(err, user.ErrNotFound) {
		return errNotFound(what)
	}
	return err
}

// saveUser stores profile changes and a new password, revoking the user's
// tokens when the password changed or the account was locked.
func (h *Handler) saveUser(ctx context.Context, before, u *user.User, password string) error {
	if !strings.EqualFold(u.Username, before.Username) {
		return errMutability("userName cannot be changed")
	}
	// The password is checked first so a weak one leaves the profile unchanged.
	if password != "" {
		if err := h.o.Users.SetPassword(ctx, u.ID, password); err != nil {
			return err
		}
	}
	if err := h.o.Users.UpdateUser(ctx, u); err != nil {
		return err
	}
	if (password != "" || (u.Locked && !before.Locked)) && h.o.Revoker != nil {
		if err := h.o.Revoker.RevokeUserTokens(ctx, u.ID, oauth.RevokedBySystem); err != nil {
			h.o.Logger.Error("revoke tokens of changed user", "user", u.Username, "error", err)
		}
	}
	return nil
}

func (h *Handler) putUser(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	before, err := h.o.Users.GetUser(ctx, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, notFound(err, "user"))
		return
	}
	m, err := decodeObject(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// PUT replaces: attributes absent from the body are cleared.
	u := &user.User{ID: before.ID, Username: before.Username, Claims: map[string]string{}}
	if _, ok := m["username"]; !ok {
		h.fail(w, r, errInvalidValue("userName is required"))
		return
	}
	if _, ok := m["active"]; !ok {
		u.Locked = before.Locked
	}
	password, err := applyUser(u, m)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.saveUser(ctx, before, u, password); err != nil {
		h.fail(w, r, err)
		return
	}
	h.reply(w, r, u.ID)
}

func (h *Handler) reply(w http.ResponseWriter, r *http.Request, id string) {
	got, err := h.o.Users.GetUser(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeUser(w, r, http.StatusOK, got)
}

func (h *Handler) patchUser(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	before, err := h.o.Users.GetUser(ctx, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, notFound(err, "user"))
		return
	}
	ops, err := decodePatch(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	u := *before
	u.Claims = map[string]string{}
	for k, v := range before.Claims {
		u.Claims[k] = v
	}
	password := ""
	for _, op := range ops {
		path := strings.ToLower(op.Path)
		if op.Op == "remove" {
			switch path {
			case "name.givenname":
				u.GivenName = ""
			case "name.familyname":
				u.FamilyName = ""
			case "name":
				u.GivenName, u.FamilyName = "", ""
			case "emails":
				u.Email = ""
			default:
				h.fail(w, r, errInvalidValue("cannot remove %q", op.Path))
				return
			}
			continue
		}
		obj := map[string]any{}
		if path == "" {
			m, ok := op.Value.(map[string]any)
			if !ok {
				h.fail(w, r, errInvalidValue("a %s without path needs an object value", op.Op))
				return
			}
			obj = lowerKeys(m)
		} else {
			obj[path] = op.Value
			if m, ok := op.Value.(map[string]any); ok {
				obj[path] = lowerKeys(m)
			}
		}
		for k := range obj {
			switch k {
			case "username", "password", "name", "name.givenname", "name.familyname", "emails", "active", SchemaEnterprise:
			default:
				h.fail(w, r, errInvalidValue("attribute %q cannot be patched", k))
				return
			}
		}
		pw, err := applyUser(&u, obj)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if pw != "" {
			password = pw
		}
	}
	if err := h.saveUser(ctx, before, &u, password); err != nil {
		h.fail(w, r, err)
		return
	}
	h.reply(w, r, u.ID)
}

func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	u, err := h.o.Users.GetUser(ctx, id)
	if err != nil {
		h.fail(w, r, notFound(err, "user"))
		return
	}
	if p := access.FromContext(ctx); p != nil && p.User != nil && p.User.ID == id {
		h.fail(w, r, errMutability("you cannot delete your own account"))
		return
	}
	if h.o.Revoker != nil {
		if err := h.o.Revoker.RevokeUserTokens(ctx, id, oauth.RevokedBySystem); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	if err := h.o.Users.DeleteUser(ctx, id); err != nil {
		h.fail(w, r, notFound(err, "user"))
		return
	}
	h.o.Logger.Info("deleted user", "user", u.Username)
	w.WriteHeader(http.StatusNoContent)
}

// me serves GET /scim2/Me: the caller's own user resource, whose id equals
// the access token's sub.
func (h *Handler) me(w http.ResponseWriter, r *http.Request) {
	p := access.FromContext(r.Context())
	if p == nil || p.User == nil {
		h.fail(w, r, errNotFound("no user is associated with these credentials; user"))
		return
	}
	u, err := h.o.Users.GetUser(r.Context(), p.User.ID)
	if err != nil {
		h.fail(w, r, notFound(err, "user"))
		return
	}
	h.writeUser(w, r, http.StatusOK, u)
}
