package charttest

import (
	"strings"
	"testing"
)

// The checks themselves must catch what they claim to catch.
func TestInvariantsCatchBrokenRenderings(t *testing.T) {
	rel, err := Render(apimChart, apimRelease, testNamespace, readValues(t, nil, `
kubernetes:
  extraVolumes:
    - name: extra
      secret: {secretName: nobody-made-this}
  extraVolumeMounts:
    - name: extra
      mountPath: /tmp
    - name: missing-volume
      mountPath: /opt/x
`))
	if err != nil {
		t.Fatal(err)
	}
	got := Errors(rel.Check(nil))
	for _, want := range []string{
		"mountPath /tmp is used twice",
		`volumeMount "missing-volume" names no volume`,
		`Secret "nobody-made-this", which is neither rendered nor documented as external`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Check did not report %q; got:\n%s", want, got)
		}
	}
	if strings.Contains(Errors(rel.Check(External{"Secret/nobody-made-this": true})), "nobody-made-this") {
		t.Error("a documented external Secret is still reported")
	}
}

func TestDecodeStrictRejectsUnknownFields(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {portz: []}\n", "unknown field"},
		{"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: x, a: y}\n", "already set"},
		{"apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n", "not known"},
	} {
		if _, err := decodeStrict(tc.doc); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.doc, err, tc.want)
		}
	}
}
