package validate

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/robfig/cron/v3"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	kjson "sigs.k8s.io/json"
)

// clusterScoped lists built-in kinds without a namespace.
var clusterScoped = map[string]bool{
	"Namespace": true, "Node": true, "PersistentVolume": true, "ClusterRole": true,
	"ClusterRoleBinding": true, "StorageClass": true, "CustomResourceDefinition": true,
	"PriorityClass": true, "IngressClass": true, "RuntimeClass": true, "CSIDriver": true,
	"CSINode": true, "VolumeAttachment": true, "APIService": true, "VolumeAttributesClass": true,
	"ValidatingWebhookConfiguration": true, "MutatingWebhookConfiguration": true,
	"ValidatingAdmissionPolicy": true, "ValidatingAdmissionPolicyBinding": true,
	"FlowSchema": true, "PriorityLevelConfiguration": true, "CertificateSigningRequest": true,
	"ClusterTrustBundle": true, "DeviceClass": true,
}

// crdKinds are group/kind pairs some CRD in the set defines; filled before
// the parallel pass, read-only during it.
func (v *run) crdKinds() map[string]bool {
	kinds := map[string]bool{}
	for _, it := range v.items {
		if it.obj.Kind != "CustomResourceDefinition" {
			continue
		}
		var crd struct {
			Spec struct {
				Group string `json:"group"`
				Names struct {
					Kind string `json:"kind"`
				} `json:"names"`
			} `json:"spec"`
		}
		if json.Unmarshal(it.obj.JSON, &crd) == nil {
			kinds[crd.Spec.Group+"/"+crd.Spec.Names.Kind] = true
		}
	}
	return kinds
}

// checkObject runs the per-object checks of all layers. It must only touch
// its own item: it runs in parallel.
func (v *run) checkObject(it *item) {
	o := it.obj
	if !clusterScoped[o.Kind] {
		it.ns = o.Namespace
		if it.ns == "" {
			it.ns = v.opts.DefaultNamespace
		}
	}
	v.checkMetadata(it)

	gv, err := schema.ParseGroupVersion(o.APIVersion)
	if err != nil {
		it.add(RuleInvalidType, "apiVersion", "apiVersion %q: %v", o.APIVersion, err)
		return
	}
	gvk := gv.WithKind(o.Kind)
	scheme := clientgoscheme.Scheme
	typed, err := scheme.New(gvk)
	if err != nil {
		if v.judgeUnknownVersion(it, scheme, gv) {
			return
		}
		if o.Kind == "CustomResourceDefinition" && gv.Group == "apiextensions.k8s.io" {
			return // not in client-go's scheme; its objects are checked by kind below
		}
		if v.crds == nil || !v.crds[gv.Group+"/"+o.Kind] {
			it.add(RuleUnknownKind, "kind", "%s %s is not a Kubernetes 1.%d built-in type and no CRD in the set defines it; its fields were not checked",
				o.APIVersion, o.Kind, v.minor)
		}
		return
	}
	if !v.judgeLifecycle(it, scheme, gvk, typed) {
		return
	}
	strictErrs, err := kjson.UnmarshalStrict(o.JSON, typed, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	for _, se := range strictErrs {
		msg := se.Error()
		path := quotedField(msg)
		switch {
		case strings.HasPrefix(msg, "unknown field"):
			it.add(RuleUnknownField, path, "unknown field %q in %s %s (not in the Kubernetes 1.%d schema)", path, o.APIVersion, o.Kind, v.minor)
		case strings.HasPrefix(msg, "duplicate field"):
			it.add(RuleDuplicateField, path, "field %q is given more than once", path)
		default:
			it.add(RuleInvalidType, path, "%s", msg)
		}
	}
	if err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			it.add(RuleInvalidType, te.Field, "%s: got %s, want %s", te.Field, te.Value, te.Type)
			// The decoder filled in everything else: keep the pod template
			// (labels, ports) so cross-references do not cascade into
			// findings about objects that merely lost their target.
			it.pod = templateOf(typed)
			if it.pod != nil {
				it.pod.item = it
			}
		} else {
			it.add(RuleInvalidType, "", "%v", err)
		}
		return
	}
	it.typed = typed
	v.checkTyped(it)
}

// quotedField extracts the field path from `unknown field "a.b[0].c"`.
func quotedField(msg string) string {
	if i := strings.IndexByte(msg, '"'); i >= 0 {
		if j := strings.LastIndexByte(msg, '"'); j > i {
			return msg[i+1 : j]
		}
	}
	return ""
}

func (v *run) checkMetadata(it *item) {
	o := it.obj
	if o.Name == "" {
		it.add(RuleRequiredField, "metadata.name", "metadata.name is required")
	} else {
		var problems []string
		switch o.Kind {
		case "Service":
			problems = validation.IsDNS1035Label(o.Name)
		case "Namespace", "StatefulSet":
			// StatefulSet pods take the set's name as their hostname prefix.
			problems = validation.IsDNS1123Label(o.Name)
		case "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding":
			if strings.ContainsAny(o.Name, "/%") || o.Name == "." || o.Name == ".." {
				problems = []string{"may not contain '/' or '%' or be '.' or '..'"}
			}
		default:
			problems = validation.IsDNS1123Subdomain(o.Name)
		}
		for _, p := range problems {
			it.add(RuleInvalidName, "metadata.name", "%s name %q: %s", o.Kind, o.Name, p)
		}
	}
	if o.Namespace != "" {
		for _, p := range validation.IsDNS1123Label(o.Namespace) {
			it.add(RuleInvalidName, "metadata.namespace", "namespace %q: %s", o.Namespace, p)
		}
	}
	checkLabels(it, "metadata.labels", o.Labels)
	for k := range o.Annotations {
		for _, p := range validation.IsQualifiedName(strings.ToLower(k)) {
			it.add(RuleInvalidLabel, fieldPath("metadata.annotations", k), "annotation key %q: %s", k, p)
		}
	}
}

func checkLabels(it *item, path string, l map[string]string) {
	for k, val := range l {
		for _, p := range validation.IsQualifiedName(k) {
			it.add(RuleInvalidLabel, fieldPath(path, k), "label key %q: %s", k, p)
		}
		for _, p := range validation.IsValidLabelValue(val) {
			it.add(RuleInvalidLabel, fieldPath(path, k), "label %s value %q: %s", k, val, p)
		}
	}
}

// podTemplate is a pod spec found in a workload, with what the passes need.
type podTemplate struct {
	item       *item
	path       string // field path of the PodSpec, e.g. spec.template.spec
	labels     map[string]string
	meta       *metav1.ObjectMeta // the pod's (or template's) metadata, for Pod Security
	spec       *corev1.PodSpec
	replicas   int32 // 1 for bare pods; -1 for DaemonSets (one per node)
	longLived  bool
	claimNames map[string]bool // StatefulSet volumeClaimTemplates
}

// templateOf finds the pod template of a workload type.
func templateOf(typed any) *podTemplate {
	tmpl := func(t *corev1.PodTemplateSpec, replicas int32, longLived bool) *podTemplate {
		return &podTemplate{path: "spec.template.spec", labels: t.Labels, meta: &t.ObjectMeta, spec: &t.Spec, replicas: replicas, longLived: longLived}
	}
	switch obj := typed.(type) {
	case *corev1.Pod:
		return &podTemplate{path: "spec", labels: obj.Labels, meta: &obj.ObjectMeta, spec: &obj.Spec, replicas: 1,
			longLived: obj.Spec.RestartPolicy == "" || obj.Spec.RestartPolicy == corev1.RestartPolicyAlways}
	case *appsv1.Deployment:
		return tmpl(&obj.Spec.Template, replicasOf(obj.Spec.Replicas), true)
	case *appsv1.StatefulSet:
		p := tmpl(&obj.Spec.Template, replicasOf(obj.Spec.Replicas), true)
		p.claimNames = map[string]bool{}
		for _, c := range obj.Spec.VolumeClaimTemplates {
			p.claimNames[c.Name] = true
		}
		return p
	case *appsv1.DaemonSet:
		return tmpl(&obj.Spec.Template, -1, true)
	case *appsv1.ReplicaSet:
		return tmpl(&obj.Spec.Template, replicasOf(obj.Spec.Replicas), true)
	case *corev1.ReplicationController:
		if obj.Spec.Template != nil {
			return tmpl(obj.Spec.Template, replicasOf(obj.Spec.Replicas), true)
		}
	case *batchv1.Job:
		return tmpl(&obj.Spec.Template, 1, false)
	case *batchv1.CronJob:
		p := tmpl(&obj.Spec.JobTemplate.Spec.Template, 1, false)
		p.path = "spec.jobTemplate.spec.template.spec"
		return p
	}
	return nil
}

// checkTyped runs the API-server object rules and the per-object policies.
func (v *run) checkTyped(it *item) {
	it.pod = templateOf(it.typed)
	switch obj := it.typed.(type) {
	case *appsv1.Deployment:
		checkWorkloadSelector(it, obj.Spec.Selector, &obj.Spec.Template)
	case *appsv1.StatefulSet:
		checkWorkloadSelector(it, obj.Spec.Selector, &obj.Spec.Template)
	case *appsv1.DaemonSet:
		checkWorkloadSelector(it, obj.Spec.Selector, &obj.Spec.Template)
	case *appsv1.ReplicaSet:
		checkWorkloadSelector(it, obj.Spec.Selector, &obj.Spec.Template)
	case *batchv1.CronJob:
		v.checkCron(it, obj)
	case *corev1.Service:
		checkServicePorts(it, obj)
	case *corev1.Secret:
		checkSecret(it, obj)
	}
	if it.pod != nil {
		it.pod.item = it
		if it.pod.path != "spec" {
			checkLabels(it, strings.TrimSuffix(it.pod.path, ".spec")+".metadata.labels", it.pod.labels)
		}
		checkPodSpec(it, it.pod)
		checkPodPolicy(it, it.pod)
		v.checkPodSecurity(it, it.pod)
		collectReferences(it, it.pod)
	}
}

func replicasOf(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// checkWorkloadSelector applies the API server's rule that a workload's
// selector must select its own template.
func checkWorkloadSelector(it *item, sel *metav1.LabelSelector, t *corev1.PodTemplateSpec) {
	if sel == nil || (len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0) {
		it.add(RuleRequiredField, "spec.selector", "%s needs spec.selector (matching the pod template labels)", it.obj.Kind)
		return
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		it.add(RuleSelectorMismatch, "spec.selector", "invalid selector: %v", err)
		return
	}
	if !s.Matches(labels.Set(t.Labels)) {
		it.add(RuleSelectorMismatch, "spec.selector", "selector %s does not match template labels %s", s, labels.Set(t.Labels))
	}
}

func (v *run) checkCron(it *item, cj *batchv1.CronJob) {
	s := cj.Spec.Schedule
	if s == "" {
		it.add(RuleRequiredField, "spec.schedule", "CronJob needs spec.schedule")
		return
	}
	if strings.Contains(s, "TZ=") {
		it.add(RuleCronSchedule, "spec.schedule", "schedule %q sets a time zone, which Kubernetes rejects; use spec.timeZone", s)
		return
	}
	if _, err := cron.ParseStandard(s); err != nil {
		it.add(RuleCronSchedule, "spec.schedule", "schedule %q: %v", s, err)
	}
}

func checkServicePorts(it *item, svc *corev1.Service) {
	names := map[string]bool{}
	ports := map[string]bool{}
	for i, p := range svc.Spec.Ports {
		path := fmt.Sprintf("spec.ports[%d]", i)
		if len(svc.Spec.Ports) > 1 && p.Name == "" {
			it.add(RuleRequiredField, path+".name", "Service ports need names when there is more than one")
		}
		if p.Name != "" {
			if names[p.Name] {
				it.add(RuleDuplicatePort, path+".name", "Service port name %q is used twice", p.Name)
			}
			names[p.Name] = true
		}
		proto := p.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		key := fmt.Sprintf("%d/%s", p.Port, proto)
		if ports[key] {
			it.add(RuleDuplicatePort, path+".port", "Service port %s is declared twice", key)
		}
		ports[key] = true
	}
}

// checkPodSpec applies the API server's pod rules users hit most.
func checkPodSpec(it *item, p *podTemplate) {
	spec := p.spec
	if len(spec.Containers) == 0 {
		it.add(RuleRequiredField, p.path+".containers", "a pod needs at least one container")
	}
	volumes := map[string]bool{}
	for name := range p.claimNames {
		volumes[name] = true
	}
	for _, vol := range spec.Volumes {
		volumes[vol.Name] = true
	}
	seenContainer := map[string]string{}
	portOwner := map[string]string{}
	forEachContainer(p, func(c *corev1.Container, path string) {
		if c.Name == "" {
			it.add(RuleRequiredField, path+".name", "container name is required")
		} else {
			if prev, dup := seenContainer[c.Name]; dup {
				it.add(RuleDuplicateContainer, path+".name", "container name %q is also used at %s", c.Name, prev)
			}
			seenContainer[c.Name] = path
			for _, prob := range validation.IsDNS1123Label(c.Name) {
				it.add(RuleInvalidName, path+".name", "container name %q: %s", c.Name, prob)
			}
		}
		if c.Image == "" {
			it.add(RuleRequiredField, path+".image", "container %q has no image", c.Name)
		}
		for i, m := range c.VolumeMounts {
			if !volumes[m.Name] {
				it.add(RuleMountWithoutVolume, fmt.Sprintf("%s.volumeMounts[%d].name", path, i),
					"container %q mounts volume %q, which the pod does not define", c.Name, m.Name)
			}
		}
		for i, d := range c.VolumeDevices {
			if !volumes[d.Name] {
				it.add(RuleMountWithoutVolume, fmt.Sprintf("%s.volumeDevices[%d].name", path, i),
					"container %q uses volume device %q, which the pod does not define", c.Name, d.Name)
			}
		}
		for name, req := range c.Resources.Requests {
			if lim, ok := c.Resources.Limits[name]; ok && req.Cmp(lim) > 0 {
				it.add(RuleRequestsOverLimits, fmt.Sprintf("%s.resources.requests.%s", path, name),
					"container %q requests %s %s but is limited to %s", c.Name, req.String(), name, lim.String())
			}
		}
		portNames := map[string]bool{}
		for i, port := range c.Ports {
			pp := fmt.Sprintf("%s.ports[%d]", path, i)
			if port.Name != "" {
				if portNames[port.Name] {
					it.add(RuleDuplicatePort, pp+".name", "container %q declares port name %q twice", c.Name, port.Name)
				}
				portNames[port.Name] = true
				for _, prob := range validation.IsValidPortName(port.Name) {
					it.add(RuleInvalidName, pp+".name", "port name %q: %s", port.Name, prob)
				}
			}
			proto := port.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			key := fmt.Sprintf("%d/%s", port.ContainerPort, proto)
			if prev, dup := portOwner[key]; dup {
				it.add(RuleDuplicatePort, pp+".containerPort", "port %s is also declared by container %q: containers of a pod share one network namespace", key, prev)
			}
			portOwner[key] = c.Name
		}
	})
}

// forEachContainer visits init containers then containers with their paths.
func forEachContainer(p *podTemplate, fn func(c *corev1.Container, path string)) {
	for i := range p.spec.InitContainers {
		fn(&p.spec.InitContainers[i], fmt.Sprintf("%s.initContainers[%d]", p.path, i))
	}
	for i := range p.spec.Containers {
		fn(&p.spec.Containers[i], fmt.Sprintf("%s.containers[%d]", p.path, i))
	}
}

// quantity helpers shared by policy checks.
func hasQuantity(l corev1.ResourceList, name corev1.ResourceName) bool {
	q, ok := l[name]
	return ok && !q.IsZero()
}
