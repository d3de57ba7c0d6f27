// Package charttest renders Keyway's Helm charts with the Helm SDK and checks
// what comes out: every object decodes strictly into its Kubernetes API type,
// references between objects resolve, ports agree with deployment.toml, and
// deployment.toml loads with Keyway's own configuration loader. It is its own
// module so that the Helm SDK and the Kubernetes API types stay out of the
// product's go.mod.
package charttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// Object is one rendered Kubernetes object.
type Object struct {
	Template string // the template file it came from
	Kind     string
	Name     string
	Hook     string // helm.sh/hook annotation
	Value    any    // pointer to the typed object
}

// Release is a chart rendered for one set of values.
type Release struct {
	Objects []Object
	Notes   string
}

// SecretProviderClass mirrors secrets-store.csi.x-k8s.io/v1 (a CRD, so it is
// not in k8s.io/api); decoding into it is as strict as for built-in kinds.
type SecretProviderClass struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Provider      string            `json:"provider"`
		Parameters    map[string]string `json:"parameters"`
		SecretObjects []map[string]any  `json:"secretObjects,omitempty"`
	} `json:"spec"`
}

func newObject(apiVersion, kind string) (any, error) {
	switch apiVersion + "/" + kind {
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "v1/Secret":
		return &corev1.Secret{}, nil
	case "v1/Service":
		return &corev1.Service{}, nil
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}, nil
	case "v1/PersistentVolumeClaim":
		return &corev1.PersistentVolumeClaim{}, nil
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}, nil
	case "batch/v1/Job":
		return &batchv1.Job{}, nil
	case "networking.k8s.io/v1/Ingress":
		return &networkingv1.Ingress{}, nil
	case "policy/v1/PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, nil
	case "autoscaling/v2/HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}, nil
	case "rbac.authorization.k8s.io/v1/Role":
		return &rbacv1.Role{}, nil
	case "rbac.authorization.k8s.io/v1/RoleBinding":
		return &rbacv1.RoleBinding{}, nil
	case "secrets-store.csi.x-k8s.io/v1/SecretProviderClass":
		return &SecretProviderClass{}, nil
	}
	return nil, fmt.Errorf("kind %s %s is not known to the chart tests; add it to newObject", apiVersion, kind)
}

// ReadValues reads and merges values files, later files winning (helm -f a -f b).
func ReadValues(files ...string) (map[string]any, error) {
	out := map[string]any{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		v, err := loader.LoadValues(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out = loader.MergeMaps(out, v)
	}
	return out, nil
}

// Render renders chartDir as `helm template` would for an install.
func Render(chartDir, release, namespace string, vals map[string]any) (*Release, error) {
	ch, err := loader.Load(chartDir)
	if err != nil {
		return nil, fmt.Errorf("load chart %s: %w", chartDir, err)
	}
	caps := common.DefaultCapabilities.Copy()
	kv, err := common.ParseKubeVersion("v1.31.0")
	if err != nil {
		return nil, err
	}
	caps.KubeVersion = *kv
	top, err := util.ToRenderValues(ch, vals, common.ReleaseOptions{Name: release, Namespace: namespace, IsInstall: true, Revision: 1}, caps)
	if err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	files, err := engine.Render(ch, top)
	if err != nil {
		return nil, err
	}
	rel := &Release{}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		text := files[n]
		if strings.HasSuffix(n, "NOTES.txt") {
			rel.Notes = text
			continue
		}
		if strings.HasPrefix(filepath.Base(n), "_") || !strings.HasSuffix(n, ".yaml") {
			continue
		}
		for i, doc := range splitDocuments(text) {
			obj, err := decodeStrict(doc)
			if err != nil {
				return nil, fmt.Errorf("%s (document %d): %w\n%s", n, i, err, doc)
			}
			obj.Template = n
			rel.Objects = append(rel.Objects, obj)
		}
	}
	return rel, nil
}

func splitDocuments(s string) []string {
	var out []string
	for _, d := range strings.Split("\n"+s, "\n---") {
		if strings.TrimSpace(stripComments(d)) != "" {
			out = append(out, d)
		}
	}
	return out
}

func stripComments(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// decodeStrict rejects duplicate keys, unknown fields and unknown kinds.
func decodeStrict(doc string) (Object, error) {
	js, err := yaml.YAMLToJSONStrict([]byte(doc))
	if err != nil {
		return Object{}, fmt.Errorf("yaml: %w", err)
	}
	var meta struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Metadata   metav1.ObjectMeta `json:"metadata"`
	}
	if err := json.Unmarshal(js, &meta); err != nil {
		return Object{}, err
	}
	v, err := newObject(meta.APIVersion, meta.Kind)
	if err != nil {
		return Object{}, err
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return Object{}, fmt.Errorf("decode %s %s strictly: %w", meta.Kind, meta.Metadata.Name, err)
	}
	if meta.Metadata.Name == "" {
		return Object{}, fmt.Errorf("%s without metadata.name", meta.Kind)
	}
	return Object{Kind: meta.Kind, Name: meta.Metadata.Name, Hook: meta.Metadata.Annotations["helm.sh/hook"], Value: v}, nil
}

// Find returns the objects of one kind.
func (r *Release) Find(kind string) []Object {
	var out []Object
	for _, o := range r.Objects {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

// Get returns the named object of a kind, or nil.
func (r *Release) Get(kind, name string) any {
	for _, o := range r.Objects {
		if o.Kind == kind && o.Name == name {
			return o.Value
		}
	}
	return nil
}
