package charttest

import (
	"testing"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
)

// TestHelmLintStrict runs `helm lint --strict` through the Helm SDK.
func TestHelmLintStrict(t *testing.T) {
	kv, err := common.ParseKubeVersion("v1.31.0")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, chart string
		files       []string
	}{
		{"apim defaults", apimChart, nil},
		{"apim quickstart", apimChart, []string{"../quickstart-values/apim.yaml"}},
		{"apim pattern6", apimChart, pattern6APIMFiles},
		{"is defaults", isChart, nil},
		{"is quickstart", isChart, []string{"../quickstart-values/is.yaml"}},
		{"is pattern6", isChart, []string{"../pattern-6-values/is.yaml", "testdata/seed-is-extraconfigs.yaml"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lint := action.NewLint()
			lint.Strict = true
			lint.Namespace = testNamespace
			lint.KubeVersion = kv
			res := lint.Run([]string{tc.chart}, readValues(t, tc.files, ""))
			if res.TotalChartsLinted != 1 {
				t.Errorf("linted %d charts", res.TotalChartsLinted)
			}
			for _, m := range res.Messages {
				t.Log(m.Error())
			}
			for _, e := range res.Errors {
				t.Errorf("lint --strict: %v", e)
			}
		})
	}
}
