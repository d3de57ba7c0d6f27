package yamlx

import (
	"encoding/json"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestStringKeys(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"scalar", 42, `42`},
		{"nil", nil, `null`},
		{"string keys", map[string]any{"a": 1}, `{"a":1}`},
		{"int keys nested", map[string]any{"responses": map[any]any{200: "ok", "default": map[any]any{true: "x"}}}, `{"responses":{"200":"ok","default":{"true":"x"}}}`},
		{"slice of maps", []any{map[any]any{1: "a"}, "b"}, `[{"1":"a"},"b"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(StringKeys(tt.in))
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			if string(b) != tt.want {
				t.Errorf("got %s, want %s", b, tt.want)
			}
		})
	}
}

// A document decoded by yaml.v3 into any keeps integer keys as map[string]any
// only at the top level; StringKeys must make the whole tree marshalable.
func TestStringKeysDecodedYAML(t *testing.T) {
	var raw any
	src := "paths:\n  /pets:\n    get:\n      responses:\n        200:\n          description: ok\n"
	if err := yaml.Unmarshal([]byte(src), &raw); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(StringKeys(raw))
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	const want = `{"paths":{"/pets":{"get":{"responses":{"200":{"description":"ok"}}}}}}`
	if string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
}
