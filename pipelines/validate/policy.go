package validate

import (
	"fmt"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// checkPodPolicy applies the platform's hardening standards (the restricted
// Pod Security Standard plus probes, resources, image pinning, spreading).
func checkPodPolicy(it *item, p *podTemplate) {
	spec := p.spec
	psc := spec.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		it.add(RuleHostNamespaces, p.path, "pod shares the node's namespaces (hostNetwork=%t hostPID=%t hostIPC=%t)", spec.HostNetwork, spec.HostPID, spec.HostIPC)
	}
	for i, vol := range spec.Volumes {
		if vol.HostPath != nil {
			it.add(RuleHostPath, fmt.Sprintf("%s.volumes[%d].hostPath", p.path, i), "volume %q mounts %s from the node", vol.Name, vol.HostPath.Path)
		}
	}
	for i := range spec.Containers {
		c := &spec.Containers[i]
		path := fmt.Sprintf("%s.containers[%d]", p.path, i)
		if p.longLived {
			if c.ReadinessProbe == nil {
				it.add(RuleReadinessProbe, path, "container %q has no readinessProbe", c.Name)
			}
			if c.LivenessProbe == nil {
				it.add(RuleLivenessProbe, path, "container %q has no livenessProbe", c.Name)
			}
		}
	}
	forEachContainer(p, func(c *corev1.Container, path string) {
		checkContainerSecurity(it, c, path, psc)
		checkResources(it, c, path)
		checkImage(it, c, path)
		checkEnvCredentials(it, c, path)
	})
	if p.replicas > 1 && (it.obj.Kind == "StatefulSet" || it.obj.Kind == "Deployment" || it.obj.Kind == "ReplicaSet") {
		if !spreadsOwnPods(spec, p.labels) {
			it.add(RuleAntiAffinity, p.path, "%d replicas may all land on one node: no podAntiAffinity or hostname topologySpreadConstraint selects the workload's own pods", p.replicas)
		}
	}
}

func checkContainerSecurity(it *item, c *corev1.Container, path string, psc *corev1.PodSecurityContext) {
	sc := c.SecurityContext
	if sc == nil {
		sc = &corev1.SecurityContext{}
	}
	runAsNonRoot := psc.RunAsNonRoot
	if sc.RunAsNonRoot != nil {
		runAsNonRoot = sc.RunAsNonRoot
	}
	runAsUser := psc.RunAsUser
	if sc.RunAsUser != nil {
		runAsUser = sc.RunAsUser
	}
	switch {
	case runAsUser != nil && *runAsUser == 0:
		it.add(RuleRunAsNonRoot, path+".securityContext.runAsUser", "container %q runs as uid 0", c.Name)
	case runAsNonRoot == nil || !*runAsNonRoot:
		it.add(RuleRunAsNonRoot, path+".securityContext", "container %q does not set runAsNonRoot: true (pod or container)", c.Name)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		it.add(RuleNoPrivEscalation, path+".securityContext", "container %q does not set allowPrivilegeEscalation: false", c.Name)
	}
	if sc.Privileged != nil && *sc.Privileged {
		it.add(RulePrivileged, path+".securityContext.privileged", "container %q is privileged", c.Name)
	}
	dropsAll := false
	if sc.Capabilities != nil {
		for _, d := range sc.Capabilities.Drop {
			if strings.EqualFold(string(d), "ALL") {
				dropsAll = true
			}
		}
		for _, a := range sc.Capabilities.Add {
			if a != "NET_BIND_SERVICE" {
				it.add(RuleDropCapabilities, path+".securityContext.capabilities.add", "container %q adds capability %s", c.Name, a)
			}
		}
	}
	if !dropsAll {
		it.add(RuleDropCapabilities, path+".securityContext", "container %q does not drop ALL capabilities", c.Name)
	}
	seccomp := psc.SeccompProfile
	if sc.SeccompProfile != nil {
		seccomp = sc.SeccompProfile
	}
	if seccomp == nil || (seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault && seccomp.Type != corev1.SeccompProfileTypeLocalhost) {
		it.add(RuleSeccomp, path+".securityContext", "container %q has no RuntimeDefault seccomp profile (pod or container)", c.Name)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		it.add(RuleReadOnlyRootFS, path+".securityContext", "container %q has a writable root filesystem", c.Name)
	}
	for i, port := range c.Ports {
		if port.HostPort != 0 {
			it.add(RuleHostNamespaces, fmt.Sprintf("%s.ports[%d].hostPort", path, i), "container %q binds hostPort %d on the node", c.Name, port.HostPort)
		}
	}
}

func checkResources(it *item, c *corev1.Container, path string) {
	var missReq, missLim []string
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if !hasQuantity(c.Resources.Requests, r) {
			missReq = append(missReq, string(r))
		}
		if !hasQuantity(c.Resources.Limits, r) {
			missLim = append(missLim, string(r))
		}
	}
	if len(missReq) > 0 {
		it.add(RuleResourceRequests, path+".resources", "container %q has no %s request", c.Name, strings.Join(missReq, "/"))
	}
	if len(missLim) > 0 {
		it.add(RuleResourceLimits, path+".resources", "container %q has no %s limit", c.Name, strings.Join(missLim, "/"))
	}
}

// splitImage returns the tag and digest of an image reference.
func splitImage(ref string) (tag, digest string) {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref, digest = ref[:i], ref[i+1:]
	}
	last := ref[strings.LastIndexByte(ref, '/')+1:] // the tag follows ':' in the last segment only (registry ports come earlier)
	if i := strings.LastIndexByte(last, ':'); i >= 0 {
		tag = last[i+1:]
	}
	return tag, digest
}

func checkImage(it *item, c *corev1.Container, path string) {
	if c.Image == "" {
		return
	}
	tag, digest := splitImage(c.Image)
	switch {
	case digest == "" && tag == "":
		it.add(RuleImageTag, path+".image", "image %q has no tag: it means :latest", c.Image)
	case digest == "" && tag == "latest":
		it.add(RuleImageTag, path+".image", "image %q uses the moving tag latest", c.Image)
	}
	if digest == "" {
		it.add(RuleImageDigest, path+".image", "image %q is not pinned by digest", c.Image)
	}
}

var credentialName = regexp.MustCompile(`(?i)(passw(or)?d|passwd|secret|token|api_?key|private_?key|credential)`)

func checkEnvCredentials(it *item, c *corev1.Container, path string) {
	for i, e := range c.Env {
		if e.Value == "" || e.ValueFrom != nil || !credentialName.MatchString(e.Name) {
			continue
		}
		up := strings.ToUpper(e.Name)
		if strings.HasSuffix(up, "_FILE") || strings.HasSuffix(up, "_PATH") || strings.HasSuffix(up, "FILE") {
			continue // points at a mounted secret file
		}
		if strings.HasPrefix(e.Value, "$(") && strings.HasSuffix(e.Value, ")") {
			continue // expands another variable, which is checked itself
		}
		it.add(RuleLiteralCredential, fmt.Sprintf("%s.env[%d].value", path, i), "container %q sets %s to a literal value", c.Name, e.Name)
	}
}

// spreadsOwnPods reports whether anti-affinity or a topology spread
// constraint keeps the workload's replicas on different nodes or zones.
func spreadsOwnPods(spec *corev1.PodSpec, own map[string]string) bool {
	matchesOwn := func(sel *metav1.LabelSelector) bool {
		if sel == nil {
			return false
		}
		s, err := metav1.LabelSelectorAsSelector(sel)
		return err == nil && !s.Empty() && s.Matches(labels.Set(own))
	}
	if a := spec.Affinity; a != nil && a.PodAntiAffinity != nil {
		for _, t := range a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
			if matchesOwn(t.LabelSelector) && t.TopologyKey != "" {
				return true
			}
		}
		for _, w := range a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			if matchesOwn(w.PodAffinityTerm.LabelSelector) && w.PodAffinityTerm.TopologyKey != "" {
				return true
			}
		}
	}
	for _, t := range spec.TopologySpreadConstraints {
		if matchesOwn(t.LabelSelector) && (t.TopologyKey == corev1.LabelHostname || t.TopologyKey == corev1.LabelTopologyZone) {
			return true
		}
	}
	return false
}

// checkSecret flags committed credential values; generated Secrets are
// declared in the environments file instead.
func checkSecret(it *item, s *corev1.Secret) {
	for k, val := range s.Data {
		if len(val) > 0 {
			it.add(RuleCommittedSecret, fieldPath("data", k), "Secret %s commits a value for %q", s.Name, k)
		}
	}
	for k, val := range s.StringData {
		if val != "" {
			it.add(RuleCommittedSecret, fieldPath("stringData", k), "Secret %s commits a value for %q", s.Name, k)
		}
	}
}
