package scim

import (
	"context"
	"errors"
	"net/http"

	"github.com/keyway/keyway/internal/identity/access"
	"github.com/keyway/keyway/internal/user"
)

// groupJSON is the SCIM group resource.
type groupJSON struct {
	Schemas     []string  `json:"schemas"`
	ID          string    `json:"id"`
	DisplayName string    `json:"displayName"`
	Members     []refJSON `json:"members"`
	Meta        meta      `json:"meta"`
}

func (h *Handler) userRefs(ctx context.Context, r *http.Request, ids []string) ([]refJSON, error) {
	out := []refJSON{}
	for _, id := range ids {
		ref := refJSON{Value: id, Ref: h.location(r, UsersPath, id)}
		u, err := h.o.Users.GetUser(ctx, id)
		if err == nil {
			ref.Display = u.Username
		} else if !isNotFound(err) {
			return nil, err
		}
		out = append(out, ref)
	}
	return out, nil
}

func (h *Handler) groupResource(ctx context.Context, r *http.Request, g *user.Group) (groupJSON, error) {
	members, err := h.userRefs(ctx, r, g.Members)
	if err != nil {
		return groupJSON{}, err
	}
	return groupJSON{Schemas: []string{SchemaGroup}, ID: g.ID, DisplayName: g.Name, Members: members,
		Meta: meta{ResourceType: "Group", Created: stamp(g.Created), LastModified: stamp(g.Updated), Location: h.location(r, GroupsPath, g.ID)}}, nil
}

func (h *Handler) writeGroup(w http.ResponseWriter, r *http.Request, status int, id string) {
	g, err := h.o.Users.GetGroup(r.Context(), id)
	if err != nil {
		h.fail(w, r, notFound(err, "group"))
		return
	}
	res, err := h.groupResource(r.Context(), r, g)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if status == http.StatusCreated {
		w.Header().Set("Location", res.Meta.Location)
	}
	access.WriteSCIM(w, status, res)
}

func (h *Handler) respondGroups(w http.ResponseWriter, r *http.Request, p page) {
	respondList(h, w, r, p, h.o.Users.ListGroups, func(ctx context.Context, _ []*user.Group) (func(*user.Group) (any, error), error) {
		return func(g *user.Group) (any, error) { return h.groupResource(ctx, r, g) }, nil
	})
}

// applyGroup reads displayName and members.
func applyGroup(g *user.Group, m map[string]any) error {
	for k, v := range m {
		switch k {
		case "displayname":
			s, ok := v.(string)
			if !ok {
				return errInvalidValue("displayName must be a string")
			}
			g.Name = s
		case "members":
			ids, err := refs(v)
			if err != nil {
				return err
			}
			g.Members = ids
		}
	}
	return nil
}

func (h *Handler) createGroup(w http.ResponseWriter, r *http.Request) {
	h.saveGroup(w, r, &user.Group{}, h.o.Users.CreateGroup, http.StatusCreated)
}

func (h *Handler) getGroup(w http.ResponseWriter, r *http.Request) {
	h.writeGroup(w, r, http.StatusOK, r.PathValue("id"))
}

func (h *Handler) putGroup(w http.ResponseWriter, r *http.Request) {
	before, err := h.o.Users.GetGroup(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, notFound(err, "group"))
		return
	}
	h.saveGroup(w, r, &user.Group{ID: before.ID}, h.o.Users.UpdateGroup, http.StatusOK)
}

// saveGroup reads a whole group from the body onto g (POST creates, PUT
// replaces), checks it and stores it with save, answering with status.
func (h *Handler) saveGroup(w http.ResponseWriter, r *http.Request, g *user.Group, save func(context.Context, *user.Group) error, status int) {
	m, err := decodeObject(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := applyGroup(g, m); err != nil {
		h.fail(w, r, err)
		return
	}
	if g.Name == "" {
		h.fail(w, r, errInvalidValue("displayName is required"))
		return
	}
	if err := save(r.Context(), g); err != nil {
		h.fail(w, r, memberError(err))
		return
	}
	h.writeGroup(w, r, status, g.ID)
}

func (h *Handler) patchGroup(w http.ResponseWriter, r *http.Request) {
	g, err := h.o.Users.GetGroup(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, notFound(err, "group"))
		return
	}
	ops, err := decodePatch(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	for _, op := range ops {
		if err := patchGroupOp(g, op); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	if err := h.o.Users.UpdateGroup(r.Context(), g); err != nil {
		h.fail(w, r, memberError(err))
		return
	}
	h.writeGroup(w, r, http.StatusOK, g.ID)
}

func patchGroupOp(g *user.Group, op patchOp) error {
	attr, id, filtered := valueFilter(op.Path)
	switch {
	case attr == "" && op.Op != "remove":
		m, ok := op.Value.(map[string]any)
		if !ok {
			return errInvalidValue("a %s without path needs an object value", op.Op)
		}
		m = lowerKeys(m)
		if op.Op == "add" {
			if v, ok := m["members"]; ok {
				ids, err := refs(v)
				if err != nil {
					return err
				}
				g.Members = appendNew(g.Members, ids...)
				delete(m, "members")
			}
		}
		return applyGroup(g, m)
	case attr == "displayname" && op.Op == "replace":
		s, ok := op.Value.(string)
		if !ok {
			return errInvalidValue("displayName must be a string")
		}
		g.Name = s
	case attr == "members":
		if filtered {
			if op.Op != "remove" {
				return errInvalidValue("a filtered members path is only valid for remove")
			}
			g.Members = without(g.Members, id)
			return nil
		}
		ids, err := refs(op.Value)
		if err != nil {
			return err
		}
		switch op.Op {
		case "add":
			g.Members = appendNew(g.Members, ids...)
		case "replace":
			g.Members = ids
		case "remove":
			if op.Value == nil {
				g.Members = nil
			} else {
				g.Members = without(g.Members, ids...)
			}
		}
	default:
		return errInvalidValue("unsupported %s of %q", op.Op, op.Path)
	}
	return nil
}

func (h *Handler) deleteGroup(w http.ResponseWriter, r *http.Request) {
	if err := h.o.Users.DeleteGroup(r.Context(), r.PathValue("id")); err != nil {
		h.fail(w, r, notFound(err, "group"))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func isNotFound(err error) bool {
	return errors.Is(err, user.ErrNotFound)
}
