package catalog

import (
	"slices"
	"strings"
)

// searchTerm is one term of a publisher search query.
type searchTerm struct {
	attr  string // "" for free text
	value string
	exact bool
}

type searchTerms []searchTerm

// parseSearch splits a query such as `name:"PizzaAPI" version:"1.0.0"` or
// `pizza` into terms. Spaces inside quotes belong to the value.
func parseSearch(q string) (searchTerms, error) {
	var out searchTerms
	var tokens []string
	var cur strings.Builder
	inQuote := false
	for _, r := range strings.TrimSpace(q) {
		switch {
		case r == '"':
			inQuote = !inQuote
			cur.WriteRune(r)
		case (r == ' ' || r == '\t') && !inQuote:
			if cur.Len() > 0 {
				tokens = append(tokens, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		tokens = append(tokens, cur.String())
	}
	for _, tok := range tokens {
		t := searchTerm{}
		if attr, val, ok := strings.Cut(tok, ":"); ok && !strings.HasPrefix(attr, "\"") {
			t.attr, tok = strings.ToLower(attr), val
		}
		if len(tok) >= 2 && strings.HasPrefix(tok, "\"") && strings.HasSuffix(tok, "\"") {
			t.exact, tok = true, tok[1:len(tok)-1]
		}
		t.value = tok
		if t.attr == "content" {
			t.attr = ""
		}
		out = append(out, t)
	}
	return out, nil
}

func matchValue(have, want string, exact bool) bool {
	if exact {
		return strings.EqualFold(have, want)
	}
	return strings.Contains(strings.ToLower(have), strings.ToLower(want))
}

// match reports whether a satisfies every term.
func (ts searchTerms) match(a *API) bool {
	for _, t := range ts {
		if !t.match(a) {
			return false
		}
	}
	return true
}

func (t searchTerm) match(a *API) bool {
	anyOf := func(list []string) bool {
		return slices.ContainsFunc(list, func(s string) bool { return matchValue(s, t.value, t.exact) })
	}
	switch t.attr {
	case "":
		return matchValue(a.Name, t.value, t.exact) || matchValue(a.Context, t.value, t.exact) ||
			matchValue(a.Description, t.value, false) || matchValue(a.Provider, t.value, t.exact) || anyOf(a.Tags)
	case "name":
		return matchValue(a.Name, t.value, t.exact)
	case "version":
		return matchValue(a.Version, t.value, t.exact)
	case "context":
		return matchValue(a.Context, t.value, t.exact)
	case "provider":
		return matchValue(a.Provider, t.value, t.exact)
	case "status", "lifecyclestatus":
		return matchValue(a.LifeCycleStatus, t.value, t.exact)
	case "description":
		return matchValue(a.Description, t.value, t.exact)
	case "tag", "tags":
		return anyOf(a.Tags)
	case "id", "uuid":
		return a.ID == t.value
	case "type":
		// Only APIs are stored here: products, MCP servers, documents and
		// definitions never match.
		return strings.EqualFold(t.value, "API") || strings.EqualFold(t.value, a.Type)
	case "api-category", "category":
		return anyOf(a.Categories)
	default:
		return false
	}
}
