package restapi

import (
	"net/http"
	"net/url"
	"strconv"
)

// Pagination is the contract's Pagination object. Next and Previous are
// relative links, or empty when there is no such page.
type Pagination struct {
	Offset   int    `json:"offset"`
	Limit    int    `json:"limit"`
	Total    int    `json:"total"`
	Next     string `json:"next"`
	Previous string `json:"previous"`
}

// List is the list envelope {count, list, pagination}. Count is the number
// of items in this page (apictl loops while it is non-zero).
type List[T any] struct {
	Count      int         `json:"count"`
	List       []T         `json:"list"`
	Pagination *Pagination `json:"pagination,omitempty"`
}

// NewList builds a page envelope. path is the resource path used in the
// next/previous links (e.g. "/apis"), q the request query whose other
// parameters are kept in them.
func NewList[T any](items []T, path string, q url.Values, p Page, total int) List[T] {
	if items == nil {
		items = []T{}
	}
	return List[T]{Count: len(items), List: items, Pagination: p.Pagination(path, q, total)}
}

// Page is a validated offset/limit pair.
type Page struct {
	Offset int
	Limit  int
}

// DefaultLimit is WSO2's default page size.
const DefaultLimit = 25

// MaxLimit bounds a page so that one request cannot load everything.
const MaxLimit = 1000

// ParsePage reads limit and offset from q, with defaultLimit (0:
// DefaultLimit) when limit is absent. Negative or non-numeric values are a
// *Problem (400).
func ParsePage(q url.Values, defaultLimit int) (Page, error) {
	if defaultLimit <= 0 {
		defaultLimit = DefaultLimit
	}
	p := Page{Limit: defaultLimit}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return p, ErrBadRequest("limit must be a non-negative integer")
		}
		if n > MaxLimit {
			n = MaxLimit
		}
		if n == 0 {
			n = defaultLimit
		}
		p.Limit = n
	}
	if s := q.Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return p, ErrBadRequest("offset must be a non-negative integer")
		}
		p.Offset = n
	}
	return p, nil
}

// Slice returns the page of items (for in-memory lists).
func Slice[T any](items []T, p Page) []T {
	if p.Offset >= len(items) {
		return []T{}
	}
	end := min(p.Offset+p.Limit, len(items))
	return items[p.Offset:end]
}

// Pagination builds the pagination object for total items.
func (p Page) Pagination(path string, q url.Values, total int) *Pagination {
	out := &Pagination{Offset: p.Offset, Limit: p.Limit, Total: total}
	link := func(offset int) string {
		v := url.Values{}
		for k, vs := range q {
			if k != "limit" && k != "offset" {
				v[k] = vs
			}
		}
		v.Set("limit", strconv.Itoa(p.Limit))
		v.Set("offset", strconv.Itoa(offset))
		return path + "?" + v.Encode()
	}
	if p.Offset+p.Limit < total {
		out.Next = link(p.Offset + p.Limit)
	}
	if p.Offset > 0 {
		out.Previous = link(max(0, p.Offset-p.Limit))
	}
	return out
}

// ParseBool reads an optional boolean query parameter.
func ParseBool(q url.Values, name string, def bool) (bool, error) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return def, ErrBadRequest(name + " must be true or false")
	}
	return b, nil
}

// Page writing helper for handlers.
func WriteList[T any](w http.ResponseWriter, l List[T]) { WriteJSON(w, http.StatusOK, l) }
