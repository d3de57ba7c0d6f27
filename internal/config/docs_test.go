package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestEveryKeyDocumented keeps docs/configuration.md in step with the model:
// every key Keyway decodes must appear there (as `key` or `block.key`).
func TestEveryKeyDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	for _, key := range keys(reflect.TypeFor[Config](), "") {
		leaf := key[strings.LastIndex(key, ".")+1:]
		if !strings.Contains(text, "`"+leaf+"`") && !strings.Contains(text, "."+leaf+"`") && !strings.Contains(text, "["+key+"]") {
			t.Errorf("docs/configuration.md does not document %s", key)
		}
	}
}

// keys lists the dotted TOML keys of a struct type, leaves only.
func keys(t reflect.Type, prefix string) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("toml"), ",")[0]
		if tag == "" || tag == "-" || !f.IsExported() {
			continue
		}
		key := tag
		if prefix != "" {
			key = prefix + "." + tag
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct {
			out = append(out, keys(ft, key)...)
			continue
		}
		out = append(out, key)
	}
	return out
}
