package charttest

import (
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// External names objects the release references but does not create, as
// "Kind/name" (for example "Secret/apim-keystore-secret"); the values files
// document them as created by the operator.
type External map[string]bool

// PodSpecs returns every pod template of the release, by "Kind/name".
func (r *Release) PodSpecs() map[string]*corev1.PodTemplateSpec {
	out := map[string]*corev1.PodTemplateSpec{}
	for _, o := range r.Objects {
		switch v := o.Value.(type) {
		case *appsv1.Deployment:
			out["Deployment/"+o.Name] = &v.Spec.Template
		case *batchv1.Job:
			out["Job/"+o.Name] = &v.Spec.Template
		}
	}
	return out
}

func (r *Release) has(ext External, kind, name string) bool {
	return r.Get(kind, name) != nil || ext[kind+"/"+name]
}

// secretHasKey reports whether a rendered Secret has key; external Secrets are trusted.
func (r *Release) secretHasKey(ext External, name, key string) bool {
	if ext["Secret/"+name] {
		return true
	}
	s, ok := r.Get("Secret", name).(*corev1.Secret)
	if !ok {
		return false
	}
	_, inData := s.Data[key]
	_, inString := s.StringData[key]
	return inData || inString
}

// Check verifies the invariants every rendering must satisfy and returns all
// violations.
func (r *Release) Check(ext External) []error {
	var errs []error
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	seen := map[string]bool{}
	for _, o := range r.Objects {
		k := o.Kind + "/" + o.Name
		if seen[k] {
			fail("%s is rendered twice", k)
		}
		seen[k] = true
	}

	for owner, pt := range r.PodSpecs() {
		spec := &pt.Spec
		vols := map[string]corev1.Volume{}
		for _, v := range spec.Volumes {
			if _, dup := vols[v.Name]; dup {
				fail("%s: volume %q defined twice", owner, v.Name)
			}
			vols[v.Name] = v
			switch {
			case v.ConfigMap != nil && !r.has(ext, "ConfigMap", v.ConfigMap.Name):
				fail("%s: volume %q uses ConfigMap %q, which is neither rendered nor documented as external", owner, v.Name, v.ConfigMap.Name)
			case v.Secret != nil && !r.has(ext, "Secret", v.Secret.SecretName):
				fail("%s: volume %q uses Secret %q, which is neither rendered nor documented as external", owner, v.Name, v.Secret.SecretName)
			case v.PersistentVolumeClaim != nil && !r.has(ext, "PersistentVolumeClaim", v.PersistentVolumeClaim.ClaimName):
				fail("%s: volume %q uses PVC %q, which is neither rendered nor documented as external", owner, v.Name, v.PersistentVolumeClaim.ClaimName)
			case v.CSI != nil:
				spc := v.CSI.VolumeAttributes["secretProviderClass"]
				if !r.has(ext, "SecretProviderClass", spc) {
					fail("%s: CSI volume %q uses SecretProviderClass %q, which is not rendered", owner, v.Name, spc)
				}
			}
		}
		for _, ps := range spec.ImagePullSecrets {
			if !r.has(ext, "Secret", ps.Name) {
				fail("%s: imagePullSecret %q is neither rendered nor documented as external", owner, ps.Name)
			}
		}
		if sa := spec.ServiceAccountName; sa != "" && sa != "default" && !r.has(ext, "ServiceAccount", sa) {
			fail("%s: ServiceAccount %q is neither rendered nor documented as external", owner, sa)
		}
		containers := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
		for _, c := range containers {
			paths := map[string]bool{}
			for _, m := range c.VolumeMounts {
				if paths[m.MountPath] {
					fail("%s container %s: mountPath %s is used twice", owner, c.Name, m.MountPath)
				}
				paths[m.MountPath] = true
				if _, ok := vols[m.Name]; !ok {
					fail("%s container %s: volumeMount %q names no volume", owner, c.Name, m.Name)
				}
			}
			envs := map[string]bool{}
			for _, e := range c.Env {
				if envs[e.Name] {
					fail("%s container %s: env %s is set twice", owner, c.Name, e.Name)
				}
				envs[e.Name] = true
				if e.ValueFrom == nil {
					continue
				}
				if ref := e.ValueFrom.SecretKeyRef; ref != nil && !r.secretHasKey(ext, ref.Name, ref.Key) {
					fail("%s container %s: env %s reads Secret %s key %s, which does not exist", owner, c.Name, e.Name, ref.Name, ref.Key)
				}
				if ref := e.ValueFrom.ConfigMapKeyRef; ref != nil && !r.has(ext, "ConfigMap", ref.Name) {
					fail("%s container %s: env %s reads ConfigMap %s, which does not exist", owner, c.Name, e.Name, ref.Name)
				}
			}
			sc := c.SecurityContext
			if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				fail("%s container %s: root filesystem is not read-only", owner, c.Name)
			}
			if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				fail("%s container %s: privilege escalation is allowed", owner, c.Name)
			}
			if sc == nil || sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
				fail("%s container %s: capabilities are not dropped (drop: [ALL])", owner, c.Name)
			}
			if c.Resources.Limits.Memory().IsZero() {
				fail("%s container %s: no memory limit", owner, c.Name)
			}
		}
		psc := spec.SecurityContext
		if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
			fail("%s: pod does not set runAsNonRoot", owner)
		}
		if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			fail("%s: pod seccomp profile is not RuntimeDefault", owner)
		}
	}

	for _, o := range r.Find("Service") {
		svc := o.Value.(*corev1.Service)
		pods := r.podsSelectedBy(labels.SelectorFromSet(svc.Spec.Selector))
		if len(pods) == 0 {
			fail("Service %s selects no pod template", o.Name)
		}
		for _, p := range svc.Spec.Ports {
			for owner, pt := range pods {
				if !hasContainerPort(pt, p) {
					fail("Service %s port %s: target %s is not a container port of %s", o.Name, p.Name, p.TargetPort.String(), owner)
				}
			}
		}
	}

	for _, o := range r.Find("Ingress") {
		ing := o.Value.(*networkingv1.Ingress)
		for _, t := range ing.Spec.TLS {
			if t.SecretName != "" && !r.has(ext, "Secret", t.SecretName) {
				fail("Ingress %s: TLS Secret %q is neither rendered nor documented as external", o.Name, t.SecretName)
			}
		}
		for _, rule := range ing.Spec.Rules {
			if rule.Host == "" {
				fail("Ingress %s: a rule without host", o.Name)
			}
			for _, p := range rule.HTTP.Paths {
				b := p.Backend.Service
				svc, ok := r.Get("Service", b.Name).(*corev1.Service)
				if !ok {
					fail("Ingress %s: backend Service %q is not rendered", o.Name, b.Name)
					continue
				}
				if !serviceHasPort(svc, b.Port) {
					fail("Ingress %s: Service %s has no port %s/%d", o.Name, b.Name, b.Port.Name, b.Port.Number)
				}
			}
		}
	}

	for _, o := range r.Find("PodDisruptionBudget") {
		pdb := o.Value.(*policyv1.PodDisruptionBudget)
		sel, err := metav1LabelSelector(pdb)
		if err != nil || len(r.podsSelectedBy(sel)) == 0 {
			fail("PodDisruptionBudget %s selects no pod template", o.Name)
		}
	}
	for _, o := range r.Find("HorizontalPodAutoscaler") {
		h := o.Value.(*autoscalingv2.HorizontalPodAutoscaler)
		if r.Get(h.Spec.ScaleTargetRef.Kind, h.Spec.ScaleTargetRef.Name) == nil {
			fail("HorizontalPodAutoscaler %s targets %s/%s, which is not rendered", o.Name, h.Spec.ScaleTargetRef.Kind, h.Spec.ScaleTargetRef.Name)
		}
	}
	return errs
}

func metav1LabelSelector(pdb *policyv1.PodDisruptionBudget) (labels.Selector, error) {
	if pdb.Spec.Selector == nil {
		return labels.Nothing(), nil
	}
	return labels.SelectorFromValidatedSet(pdb.Spec.Selector.MatchLabels), nil
}

// podsSelectedBy returns the Deployment pod templates a selector matches
// (hook Jobs are not behind Services).
func (r *Release) podsSelectedBy(sel labels.Selector) map[string]*corev1.PodTemplateSpec {
	out := map[string]*corev1.PodTemplateSpec{}
	for _, o := range r.Find("Deployment") {
		d := o.Value.(*appsv1.Deployment)
		if !sel.Empty() && sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			out["Deployment/"+o.Name] = &d.Spec.Template
		}
	}
	return out
}

func hasContainerPort(pt *corev1.PodTemplateSpec, p corev1.ServicePort) bool {
	for _, c := range pt.Spec.Containers {
		for _, cp := range c.Ports {
			if p.TargetPort.String() == cp.Name || p.TargetPort.IntValue() == int(cp.ContainerPort) {
				return true
			}
		}
	}
	return false
}

func serviceHasPort(svc *corev1.Service, p networkingv1.ServiceBackendPort) bool {
	for _, sp := range svc.Spec.Ports {
		if (p.Name != "" && sp.Name == p.Name) || (p.Number != 0 && sp.Port == p.Number) {
			return true
		}
	}
	return false
}

// ContainerEnv returns a container's environment as the kubelet would set it,
// with Secret values taken from the rendered Secrets; values of external
// Secrets and of the downward API are stand-ins.
func (r *Release) ContainerEnv(pt *corev1.PodTemplateSpec, container string) (map[string]string, error) {
	for _, c := range pt.Spec.Containers {
		if c.Name != container {
			continue
		}
		env := map[string]string{}
		for _, e := range c.Env {
			switch {
			case e.ValueFrom == nil:
				env[e.Name] = e.Value
			case e.ValueFrom.SecretKeyRef != nil:
				ref := e.ValueFrom.SecretKeyRef
				if s, ok := r.Get("Secret", ref.Name).(*corev1.Secret); ok {
					env[e.Name] = string(s.Data[ref.Key])
				} else {
					env[e.Name] = "external-" + ref.Name + "-" + ref.Key
				}
			default:
				env[e.Name] = "downward-api-value"
			}
		}
		return env, nil
	}
	return nil, fmt.Errorf("no container %q", container)
}

// Errors joins errors for a test message.
func Errors(errs []error) string {
	s := make([]string, len(errs))
	for i, e := range errs {
		s[i] = e.Error()
	}
	sort.Strings(s)
	return strings.Join(s, "\n")
}
