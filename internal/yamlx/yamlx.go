// Package yamlx holds the small YAML helpers shared by production code (the
// API catalog's OpenAPI import) and the contract tests, so neither has to
// import the other.
package yamlx

import "fmt"

// StringKeys turns the maps a YAML decoder produces with non-string keys
// (HTTP status codes such as 200 under "responses") into map[string]any,
// recursively, so the value can be marshalled as JSON. Maps and slices that
// already have string keys are rewritten in place.
func StringKeys(v any) any {
	switch m := v.(type) {
	case map[string]any:
		for k, x := range m {
			m[k] = StringKeys(x)
		}
		return m
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, x := range m {
			out[fmt.Sprint(k)] = StringKeys(x)
		}
		return out
	case []any:
		for i, x := range m {
			m[i] = StringKeys(x)
		}
		return m
	}
	return v
}
