package scim

import (
	"context"
	"net/http"

	"github.com/keyway/keyway/internal/identity/access"
	"github.com/keyway/keyway/internal/user"
)

// paged serves one way of asking for a list: GET reads the page from the
// query string (queryPage), POST .search from the body (searchPage); both
// are answered by respond.
func (h *Handler) paged(parse func(*http.Request) (page, error), respond func(http.ResponseWriter, *http.Request, page)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := parse(r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		respond(w, r, p)
	}
}

// respondList answers a list or search with a ListResponse. count=0 asks
// only for the total (RFC 7644 §3.4.2.4), so the store reads a single row and
// none is returned. prepare loads once what every resource of the page needs
// (group ids, member display names) and returns the per-item renderer.
func respondList[T any](h *Handler, w http.ResponseWriter, r *http.Request, p page,
	list func(context.Context, user.Filter) ([]T, int, error),
	prepare func(ctx context.Context, rows []T) (func(T) (any, error), error)) {
	ctx := r.Context()
	if p.count == 0 {
		p.filter.Limit = 1 // only the total is wanted
	}
	rows, total, err := list(ctx, p.filter)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if p.count == 0 {
		rows = nil
	}
	render, err := prepare(ctx, rows)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	items := make([]any, 0, len(rows))
	for _, row := range rows {
		res, err := render(row)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		items = append(items, res)
	}
	access.WriteSCIM(w, http.StatusOK, newList(total, p, items))
}
