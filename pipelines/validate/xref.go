package validate

import (
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// RuntimeLabelsAnnotation on a Service lists selector keys (comma-separated)
// that a controller sets on pods at runtime, such as Patroni's role label:
// template matching ignores them, every other check still applies.
const RuntimeLabelsAnnotation = "statex.io/runtime-labels"

// reference is a pod template's dependency on another object by name.
type reference struct {
	kind     string // ConfigMap, Secret, ServiceAccount, PersistentVolumeClaim
	name     string
	key      string // a key inside a ConfigMap or Secret, when one is named
	path     string
	optional bool
}

func collectReferences(it *item, p *podTemplate) {
	add := func(kind, name, key, path string, optional *bool) {
		if name == "" {
			return
		}
		it.refs = append(it.refs, reference{kind: kind, name: name, key: key, path: path, optional: optional != nil && *optional})
	}
	spec := p.spec
	if sa := spec.ServiceAccountName; sa != "" && sa != "default" {
		add("ServiceAccount", sa, "", p.path+".serviceAccountName", nil)
	}
	for i, s := range spec.ImagePullSecrets {
		add("Secret", s.Name, "", fmt.Sprintf("%s.imagePullSecrets[%d]", p.path, i), nil)
	}
	for i, vol := range spec.Volumes {
		path := fmt.Sprintf("%s.volumes[%d]", p.path, i)
		switch {
		case vol.ConfigMap != nil:
			add("ConfigMap", vol.ConfigMap.Name, "", path+".configMap.name", vol.ConfigMap.Optional)
			for j, k := range vol.ConfigMap.Items {
				add("ConfigMap", vol.ConfigMap.Name, k.Key, fmt.Sprintf("%s.configMap.items[%d].key", path, j), vol.ConfigMap.Optional)
			}
		case vol.Secret != nil:
			add("Secret", vol.Secret.SecretName, "", path+".secret.secretName", vol.Secret.Optional)
			for j, k := range vol.Secret.Items {
				add("Secret", vol.Secret.SecretName, k.Key, fmt.Sprintf("%s.secret.items[%d].key", path, j), vol.Secret.Optional)
			}
		case vol.PersistentVolumeClaim != nil:
			add("PersistentVolumeClaim", vol.PersistentVolumeClaim.ClaimName, "", path+".persistentVolumeClaim.claimName", nil)
		case vol.Projected != nil:
			for j, src := range vol.Projected.Sources {
				sp := fmt.Sprintf("%s.projected.sources[%d]", path, j)
				if src.ConfigMap != nil {
					add("ConfigMap", src.ConfigMap.Name, "", sp+".configMap.name", src.ConfigMap.Optional)
				}
				if src.Secret != nil {
					add("Secret", src.Secret.Name, "", sp+".secret.name", src.Secret.Optional)
				}
			}
		}
	}
	forEachContainer(p, func(c *corev1.Container, path string) {
		for i, e := range c.EnvFrom {
			if e.ConfigMapRef != nil {
				add("ConfigMap", e.ConfigMapRef.Name, "", fmt.Sprintf("%s.envFrom[%d].configMapRef.name", path, i), e.ConfigMapRef.Optional)
			}
			if e.SecretRef != nil {
				add("Secret", e.SecretRef.Name, "", fmt.Sprintf("%s.envFrom[%d].secretRef.name", path, i), e.SecretRef.Optional)
			}
		}
		for i, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			ep := fmt.Sprintf("%s.env[%d].valueFrom", path, i)
			if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
				add("ConfigMap", r.Name, r.Key, ep+".configMapKeyRef", r.Optional)
			}
			if r := e.ValueFrom.SecretKeyRef; r != nil {
				add("Secret", r.Name, r.Key, ep+".secretKeyRef", r.Optional)
			}
		}
	})
}

// index holds the set's objects by what cross-references look up.
type index struct {
	byName map[string]*item // kind/namespace/name
	keys   map[string]map[string]bool
	// templates by namespace, and a posting list per namespace and label
	// pair, so selector matching stays near-linear on large sets.
	templates map[string][]*podTemplate
	postings  map[string]map[string][]*podTemplate
	generated map[string]map[string]bool // generated Secret name → keys
}

func nameKey(kind, ns, name string) string { return kind + "/" + ns + "/" + name }

func (v *run) buildIndex() *index {
	ix := &index{
		byName:    map[string]*item{},
		keys:      map[string]map[string]bool{},
		templates: map[string][]*podTemplate{},
		postings:  map[string]map[string][]*podTemplate{},
		generated: map[string]map[string]bool{},
	}
	for _, it := range v.items {
		if it.obj.Name == "" {
			continue
		}
		k := nameKey(it.obj.Kind, it.ns, it.obj.Name)
		if _, dup := ix.byName[k]; !dup {
			ix.byName[k] = it
		}
		switch obj := it.typed.(type) {
		case *corev1.ConfigMap:
			keys := map[string]bool{}
			for key := range obj.Data {
				keys[key] = true
			}
			for key := range obj.BinaryData {
				keys[key] = true
			}
			ix.keys[k] = keys
		case *corev1.Secret:
			keys := map[string]bool{}
			for key := range obj.Data {
				keys[key] = true
			}
			for key := range obj.StringData {
				keys[key] = true
			}
			ix.keys[k] = keys
		}
		if p := it.pod; p != nil {
			ix.templates[it.ns] = append(ix.templates[it.ns], p)
			post := ix.postings[it.ns]
			if post == nil {
				post = map[string][]*podTemplate{}
				ix.postings[it.ns] = post
			}
			for lk, lv := range p.labels {
				post[lk+"="+lv] = append(post[lk+"="+lv], p)
			}
		}
	}
	// Generated Secrets exist, at deploy time, in whatever namespace the
	// set deploys to.
	for _, g := range v.opts.GeneratedSecrets {
		keys := map[string]bool{}
		for _, key := range g.Keys {
			keys[key] = true
		}
		ix.generated[g.Name] = keys
	}
	return ix
}

// match returns the pod templates in ns selected by sel. matchLabels, when
// present, narrows the candidates to one posting list first.
func (ix *index) match(ns string, sel *metav1.LabelSelector) ([]*podTemplate, error) {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return nil, err
	}
	candidates := ix.templates[ns]
	if sel != nil {
		for k, v := range sel.MatchLabels {
			if c := ix.postings[ns][k+"="+v]; len(c) < len(candidates) {
				candidates = c
			}
		}
	}
	var out []*podTemplate
	for _, p := range candidates {
		if s.Matches(labels.Set(p.labels)) {
			out = append(out, p)
		}
	}
	return out, nil
}

func (ix *index) exists(kind, ns, name string) bool {
	_, ok := ix.byName[nameKey(kind, ns, name)]
	return ok
}

// builtinClusterRoles are bootstrapped by every cluster.
func builtinClusterRole(name string) bool {
	return slices.Contains([]string{"cluster-admin", "admin", "edit", "view"}, name) || strings.HasPrefix(name, "system:")
}

// checkBackupTarget compares ConfigMap backup-target with the
// environment's declared target.
func (v *run) checkBackupTarget(ix *index) {
	want := v.opts.Backup
	if want == nil {
		return
	}
	// A set without it: the jobs that read it fail missing-configmap.
	it, ok := ix.byName[nameKey("ConfigMap", v.opts.DefaultNamespace, "backup-target")]
	if !ok {
		return
	}
	cm, ok := it.typed.(*corev1.ConfigMap)
	if !ok {
		return
	}
	for _, kv := range [][2]string{{"S3_ENDPOINT", want.Endpoint}, {"S3_REGION", want.Region}, {"S3_BUCKET", want.Bucket}} {
		if got := cm.Data[kv[0]]; got != kv[1] {
			it.add(RuleBackupTarget, "data."+kv[0], "%s is %q, but environments.yaml's backup target says %q", kv[0], got, kv[1])
		}
	}
}

// crossReference runs the checks that need the whole set.
func (v *run) crossReference() {
	ix := v.buildIndex()
	v.checkBackupTarget(ix)
	covered := map[*podTemplate]bool{}   // by a NetworkPolicy
	disrupted := map[*podTemplate]bool{} // by a PodDisruptionBudget
	seen := map[string]*item{}

	for _, it := range v.items {
		if it.obj.Name != "" {
			k := it.obj.Group() + "/" + nameKey(it.obj.Kind, it.ns, it.obj.Name)
			if first, dup := seen[k]; dup {
				it.add(RuleDuplicateObject, "metadata.name", "%s is also defined in %s:%d", it.obj.Ref(), first.obj.File, first.obj.Line)
			} else {
				seen[k] = it
			}
		}
		for _, r := range it.refs {
			v.checkReference(ix, it, r)
		}
		switch obj := it.typed.(type) {
		case *corev1.Service:
			v.checkService(ix, it, obj)
		case *appsv1.StatefulSet:
			if name := obj.Spec.ServiceName; name != "" {
				svc, ok := ix.byName[nameKey("Service", it.ns, name)]
				if !ok {
					it.add(RuleHeadlessService, "spec.serviceName", "serviceName %q: no Service of that name in the set", name)
				} else if s, ok := svc.typed.(*corev1.Service); ok && s.Spec.ClusterIP != corev1.ClusterIPNone {
					it.add(RuleHeadlessService, "spec.serviceName", "Service %q governs the StatefulSet but is not headless (clusterIP: None)", name)
				}
			}
		case *policyv1.PodDisruptionBudget:
			v.checkPDB(ix, it, obj, disrupted)
		case *networkingv1.NetworkPolicy:
			v.checkNetworkPolicy(ix, it, obj, covered)
		case *autoscalingv2.HorizontalPodAutoscaler:
			v.checkScaleTarget(ix, it, obj.Spec.ScaleTargetRef.Kind, obj.Spec.ScaleTargetRef.Name)
		case *autoscalingv1.HorizontalPodAutoscaler:
			v.checkScaleTarget(ix, it, obj.Spec.ScaleTargetRef.Kind, obj.Spec.ScaleTargetRef.Name)
		case *rbacv1.RoleBinding:
			v.checkBinding(ix, it, obj.RoleRef, obj.Subjects)
		case *rbacv1.ClusterRoleBinding:
			v.checkBinding(ix, it, obj.RoleRef, obj.Subjects)
		}
	}
	for _, it := range v.items {
		p := it.pod
		if p == nil {
			continue
		}
		if !covered[p] {
			it.add(RuleNetworkPolicy, p.path, "no NetworkPolicy selects the pods of %s (labels %s)", it.obj.Ref(), labels.Set(p.labels))
		}
		if p.replicas > 1 && !disrupted[p] {
			it.add(RulePDBRequired, "spec.replicas", "%d replicas and no PodDisruptionBudget selects them", p.replicas)
		}
	}
}

// missingRule is the rule a dangling reference of each kind breaks.
var missingRule = map[string]string{
	"ConfigMap": RuleMissingConfigMap, "Secret": RuleMissingSecret,
	"ServiceAccount": RuleMissingSA, "PersistentVolumeClaim": RuleMissingPVC,
}

func (v *run) checkReference(ix *index, it *item, r reference) {
	rule := missingRule[r.kind]
	k := nameKey(r.kind, it.ns, r.name)
	keys, hasKeys := ix.keys[k]
	_, ok := ix.byName[k]
	if !ok && r.kind == "Secret" {
		keys, ok = ix.generated[r.name]
		hasKeys = ok
	}
	if !ok {
		if r.optional {
			return
		}
		if r.kind == "Secret" {
			it.add(rule, r.path, "Secret %q is not in the set and not declared in generatedSecrets", r.name)
		} else {
			it.add(rule, r.path, "%s %q is not in the set", r.kind, r.name)
		}
		return
	}
	if hasKeys && r.key != "" && !keys[r.key] && !r.optional {
		it.add(rule, r.path, "%s %q has no key %q (has: %s)", r.kind, r.name, r.key, strings.Join(sortedKeys(keys), ", "))
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func (v *run) checkService(ix *index, it *item, svc *corev1.Service) {
	if len(svc.Spec.Selector) == 0 || svc.Spec.Type == corev1.ServiceTypeExternalName {
		return // endpoints are managed elsewhere
	}
	selector := svc.Spec.Selector
	if keys := svc.Annotations[RuntimeLabelsAnnotation]; keys != "" {
		selector = map[string]string{}
		runtime := map[string]bool{}
		for _, k := range strings.Split(keys, ",") {
			runtime[strings.TrimSpace(k)] = true
		}
		for k, v := range svc.Spec.Selector {
			if !runtime[k] {
				selector[k] = v
			}
		}
	}
	matched, _ := ix.match(it.ns, &metav1.LabelSelector{MatchLabels: selector})
	if len(matched) == 0 {
		it.add(RuleServiceSelector, "spec.selector", "selector %s matches no pod template in namespace %s", labels.Set(svc.Spec.Selector), it.ns)
		return
	}
	for i, port := range svc.Spec.Ports {
		tp := port.TargetPort
		if tp.Type == intstr.Int && tp.IntVal == 0 {
			tp = intstr.FromInt32(port.Port)
		}
		if !anyTemplateServes(matched, tp) {
			it.add(RuleServiceTargetPort, fmt.Sprintf("spec.ports[%d].targetPort", i),
				"targetPort %s is not a port of the selected containers (%s)", tp.String(), matched[0].item.obj.Ref())
		}
	}
}

// anyTemplateServes reports whether a selected pod declares the port. A
// numeric port on a pod that declares no ports at all is given the benefit
// of the doubt: declaring ports is optional in Kubernetes.
func anyTemplateServes(ts []*podTemplate, tp intstr.IntOrString) bool {
	for _, p := range ts {
		declared := false
		for _, c := range p.spec.Containers {
			for _, cp := range c.Ports {
				declared = true
				if (tp.Type == intstr.String && cp.Name == tp.StrVal) || (tp.Type == intstr.Int && cp.ContainerPort == tp.IntVal) {
					return true
				}
			}
		}
		if !declared && tp.Type == intstr.Int {
			return true
		}
	}
	return false
}

func (v *run) checkPDB(ix *index, it *item, pdb *policyv1.PodDisruptionBudget, disrupted map[*podTemplate]bool) {
	matched, err := ix.match(it.ns, pdb.Spec.Selector)
	if err != nil {
		it.add(RulePDBSelector, "spec.selector", "invalid selector: %v", err)
		return
	}
	if pdb.Spec.Selector == nil || len(matched) == 0 {
		it.add(RulePDBSelector, "spec.selector", "selector matches no workload in namespace %s", it.ns)
		return
	}
	for _, p := range matched {
		disrupted[p] = true
		if p.replicas < 1 {
			continue // DaemonSets: one per node, budget judged per node count
		}
		n := int(p.replicas)
		switch {
		case pdb.Spec.MaxUnavailable != nil:
			allowed, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MaxUnavailable, n, false)
			if err == nil && allowed < 1 {
				it.add(RulePDBAllowsEviction, "spec.maxUnavailable", "maxUnavailable %s of %d replicas (%s) allows no eviction",
					pdb.Spec.MaxUnavailable.String(), n, p.item.obj.Ref())
			}
		case pdb.Spec.MinAvailable != nil:
			need, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MinAvailable, n, true)
			if err == nil && need >= n {
				it.add(RulePDBAllowsEviction, "spec.minAvailable", "minAvailable %s of %d replicas (%s) allows no eviction",
					pdb.Spec.MinAvailable.String(), n, p.item.obj.Ref())
			}
		}
	}
}

func (v *run) checkNetworkPolicy(ix *index, it *item, np *networkingv1.NetworkPolicy, covered map[*podTemplate]bool) {
	matched, err := ix.match(it.ns, &np.Spec.PodSelector)
	if err != nil {
		it.add(RuleNetPolSelector, "spec.podSelector", "invalid podSelector: %v", err)
		return
	}
	for _, p := range matched {
		covered[p] = true
	}
	if len(matched) == 0 {
		it.add(RuleNetPolSelector, "spec.podSelector", "podSelector matches no pod template in namespace %s", it.ns)
	}
	checkPeers := func(peers []networkingv1.NetworkPolicyPeer, path string) {
		for i, peer := range peers {
			if peer.PodSelector == nil || peer.NamespaceSelector != nil || peer.IPBlock != nil {
				continue // peers in other namespaces cannot be checked from the set
			}
			if m, err := ix.match(it.ns, peer.PodSelector); err == nil && len(m) == 0 {
				s, _ := metav1.LabelSelectorAsSelector(peer.PodSelector)
				it.add(RuleNetPolSelector, fmt.Sprintf("%s[%d].podSelector", path, i), "peer selector %s matches no pod template in namespace %s", s, it.ns)
			}
		}
	}
	for i, r := range np.Spec.Ingress {
		checkPeers(r.From, fmt.Sprintf("spec.ingress[%d].from", i))
	}
	for i, r := range np.Spec.Egress {
		checkPeers(r.To, fmt.Sprintf("spec.egress[%d].to", i))
	}
}

func (v *run) checkScaleTarget(ix *index, it *item, kind, name string) {
	if !ix.exists(kind, it.ns, name) {
		it.add(RuleHPATarget, "spec.scaleTargetRef", "scaleTargetRef %s/%s is not in the set", kind, name)
	}
}

func (v *run) checkBinding(ix *index, it *item, role rbacv1.RoleRef, subjects []rbacv1.Subject) {
	switch role.Kind {
	case "Role":
		if !ix.exists("Role", it.ns, role.Name) {
			it.add(RuleRoleBindingRef, "roleRef.name", "Role %q is not in namespace %s of the set", role.Name, it.ns)
		}
	case "ClusterRole":
		if !builtinClusterRole(role.Name) && !ix.exists("ClusterRole", "", role.Name) {
			it.add(RuleRoleBindingRef, "roleRef.name", "ClusterRole %q is neither built in nor in the set", role.Name)
		}
	}
	for i, s := range subjects {
		if s.Kind != rbacv1.ServiceAccountKind || s.Name == "default" {
			continue
		}
		ns := s.Namespace
		if ns == "" {
			ns = it.ns
		}
		if !ix.exists("ServiceAccount", ns, s.Name) {
			it.add(RuleRoleBindingRef, fmt.Sprintf("subjects[%d].name", i), "ServiceAccount %s/%s is not in the set", ns, s.Name)
		}
	}
}
