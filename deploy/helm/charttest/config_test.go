package charttest

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/keyway/keyway/internal/config"
	"github.com/keyway/keyway/internal/keystore"
	"github.com/keyway/keyway/internal/secret"
)

// loadRenderedConfig loads the deployment.toml of a release with Keyway's own
// loader, with the environment the Deployment's container gets. ks, when not
// nil, is the internal keystore the secure-vault values were encrypted with.
func loadRenderedConfig(t *testing.T, rel *Release, configMap, deployment, container string, ks *keystore.KeyStore) *config.Config {
	t.Helper()
	cm, ok := rel.Get("ConfigMap", configMap).(*corev1.ConfigMap)
	if !ok {
		t.Fatalf("ConfigMap %s not rendered", configMap)
	}
	data := cm.Data["deployment.toml"]
	if data == "" {
		t.Fatalf("ConfigMap %s has no deployment.toml", configMap)
	}
	d, ok := rel.Get("Deployment", deployment).(*appsv1.Deployment)
	if !ok {
		t.Fatalf("Deployment %s not rendered", deployment)
	}
	env, err := rel.ContainerEnv(&d.Spec.Template, container)
	if err != nil {
		t.Fatal(err)
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	opts := config.Options{Env: lookup}
	if ks != nil {
		// The same two passes as secret.LoadConfig, with the keystore given
		// directly because the mounted files exist only in the pod.
		first, err := config.Parse("deployment.toml", []byte(data), config.Options{Env: lookup, Secret: func(a string) (string, error) { return "$secret{" + a + "}", nil }})
		if err != nil {
			t.Fatalf("rendered deployment.toml (first pass):\n%s\n%v", numbered(data), err)
		}
		v, err := secret.NewVault(first, secret.WithKeyStore(ks), secret.WithEnv(lookup))
		if err != nil {
			t.Fatal(err)
		}
		opts.Secret = v.Resolve
	}
	c, err := config.Parse("deployment.toml", []byte(data), opts)
	if err != nil {
		t.Fatalf("rendered deployment.toml does not load with Keyway's loader:\n%s\n%v", numbered(data), err)
	}
	return c
}

func numbered(s string) string {
	var b strings.Builder
	for i, l := range strings.Split(s, "\n") {
		b.WriteString(strings.Repeat(" ", 4-len(itoa(i+1))) + itoa(i+1) + "  " + l + "\n")
	}
	return b.String()
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var d []byte
	for ; i > 0; i /= 10 {
		d = append([]byte{byte('0' + i%10)}, d...)
	}
	return string(d)
}
