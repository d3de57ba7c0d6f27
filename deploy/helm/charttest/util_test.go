package charttest

import (
	"os"

	"helm.sh/helm/v4/pkg/chart/v2/loader"
)

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }

func mergeValues(a, b map[string]any) map[string]any { return loader.MergeMaps(a, b) }
