package service

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/statex/infrastructure/pipelines/manifest"
)

// What Prometheus must be scraping follows from the rendered manifests: its
// own scrape config (the ConfigMap holding prometheus.yml) applied to the
// pods the workloads of the set will run. The relabel rules are evaluated
// here the way Prometheus evaluates them on the pod role's discovered
// labels, so a target is expected exactly when the live server would find
// it; one missing or down fails the check. Counting only what Prometheus
// reports would pass with a service that never registered a target.

// ExpectedTarget is one target the manifests make Prometheus scrape, with
// the number of pods that must serve it.
type ExpectedTarget struct {
	// Pool is the scrape config's job_name (the API's scrapePool).
	Pool string `json:"pool"`
	// Job is the job label after relabelling: the service's name.
	Job string `json:"job"`
	// Workload is "StatefulSet/postgres", "Deployment/grafana"; empty for a
	// static target.
	Workload string `json:"workload,omitempty"`
	// Host is a static target's host; pods' addresses are not known.
	Host string `json:"host,omitempty"`
	Port string `json:"port"`
	// Replicas is how many targets must be up: the workload's replicas
	// (an HPA's minimum), once per target each pod yields.
	Replicas int `json:"replicas"`
}

func (t ExpectedTarget) String() string {
	where := t.Workload
	if where == "" {
		where = t.Host
	}
	s := fmt.Sprintf("%s/%s %s:%s", t.Pool, t.Job, where, t.Port)
	if t.Replicas != 1 {
		s += fmt.Sprintf(" ×%d", t.Replicas)
	}
	return s
}

// promConfig is the part of prometheus.yml that decides the targets.
type promConfig struct {
	ScrapeConfigs []struct {
		JobName       string `json:"job_name"`
		MetricsPath   string `json:"metrics_path"`
		Scheme        string `json:"scheme"`
		StaticConfigs []struct {
			Targets []string          `json:"targets"`
			Labels  map[string]string `json:"labels"`
		} `json:"static_configs"`
		KubernetesSDConfigs []struct {
			Role       string        `json:"role"`
			Namespaces *sdNamespaces `json:"namespaces"`
		} `json:"kubernetes_sd_configs"`
		RelabelConfigs []relabelRule `json:"relabel_configs"`
	} `json:"scrape_configs"`
}

type sdNamespaces struct {
	OwnNamespace bool     `json:"own_namespace"`
	Names        []string `json:"names"`
}

type relabelRule struct {
	SourceLabels []string `json:"source_labels"`
	Separator    *string  `json:"separator"`
	Regex        *string  `json:"regex"`
	TargetLabel  string   `json:"target_label"`
	Replacement  *string  `json:"replacement"`
	Action       string   `json:"action"`
}

// podTemplate is one workload of the set as its pods will look.
type podTemplate struct {
	kind, name, namespace string
	replicas              int
	template              corev1.PodTemplateSpec
}

// ExpectedTargets derives the targets Prometheus must scrape from the
// rendered set. Job and CronJob pods are not expected: they come and go.
func ExpectedTargets(objs []*manifest.Object) ([]ExpectedTarget, error) {
	var configs []*manifest.Object
	var config corev1.ConfigMap
	var workloads []podTemplate
	hpaMin := map[string]int{}
	for _, o := range objs {
		switch o.Kind {
		case "ConfigMap":
			var cm corev1.ConfigMap
			if err := json.Unmarshal(o.JSON, &cm); err != nil {
				return nil, fmt.Errorf("%s: %w", o.Ref(), err)
			}
			if _, ok := cm.Data["prometheus.yml"]; ok {
				configs, config = append(configs, o), cm
			}
		case "StatefulSet", "Deployment", "DaemonSet":
			w, err := decodeWorkload(o)
			if err != nil {
				return nil, err
			}
			workloads = append(workloads, w)
		case "HorizontalPodAutoscaler":
			var h autoscalingv2.HorizontalPodAutoscaler
			if err := json.Unmarshal(o.JSON, &h); err != nil {
				return nil, fmt.Errorf("%s: %w", o.Ref(), err)
			}
			n := 1
			if h.Spec.MinReplicas != nil {
				n = int(*h.Spec.MinReplicas)
			}
			hpaMin[h.Spec.ScaleTargetRef.Kind+"/"+h.Spec.ScaleTargetRef.Name] = n
		}
	}
	if len(configs) != 1 {
		return nil, fmt.Errorf("want one ConfigMap with prometheus.yml in the rendered set, found %d", len(configs))
	}
	for i, w := range workloads {
		// The autoscaler owns the count; its minimum is what must serve.
		if n, ok := hpaMin[w.kind+"/"+w.name]; ok {
			workloads[i].replicas = n
		}
	}
	var cfg promConfig
	if err := yaml.Unmarshal([]byte(config.Data["prometheus.yml"]), &cfg); err != nil {
		return nil, fmt.Errorf("%s prometheus.yml: %w", configs[0].Ref(), err)
	}
	groups := map[ExpectedTarget]int{}
	for _, sc := range cfg.ScrapeConfigs {
		base := map[string]string{"job": sc.JobName, "__metrics_path__": or(sc.MetricsPath, "/metrics"), "__scheme__": or(sc.Scheme, "http")}
		for _, st := range sc.StaticConfigs {
			for _, addr := range st.Targets {
				lb := copyLabels(base)
				for k, v := range st.Labels {
					lb[k] = v
				}
				lb["__address__"] = addr
				t, ok, err := finalTarget(sc.JobName, lb, sc.RelabelConfigs)
				if err != nil {
					return nil, err
				}
				if ok {
					groups[t]++
				}
			}
		}
		for _, sd := range sc.KubernetesSDConfigs {
			if sd.Role != "pod" {
				return nil, fmt.Errorf("scrape config %s: kubernetes_sd role %q: only the pod role is derived from manifests", sc.JobName, sd.Role)
			}
			for _, w := range workloads {
				if !inNamespaces(w.namespace, configs[0].Namespace, sd.Namespaces) || w.replicas == 0 {
					continue
				}
				// One pod stands for all replicas; targets it yields with
				// identical labels are one target, as Prometheus merges them.
				seen := map[string]ExpectedTarget{}
				for _, lb := range podRoleLabels(w) {
					for k, v := range base {
						lb[k] = v
					}
					t, ok, err := finalTarget(sc.JobName, lb, sc.RelabelConfigs)
					if err != nil {
						return nil, err
					}
					if ok {
						t.Workload = w.kind + "/" + w.name
						seen[lb["__final__"]] = t
					}
				}
				for _, t := range seen {
					groups[t] += w.replicas
				}
			}
		}
	}
	var out []ExpectedTarget
	for t, n := range groups {
		t.Replicas = n
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: the scrape config yields no target for the rendered set", configs[0].Ref())
	}
	return out, nil
}

func decodeWorkload(o *manifest.Object) (podTemplate, error) {
	w := podTemplate{kind: o.Kind, name: o.Name, namespace: o.Namespace, replicas: 1}
	var replicas *int32
	switch o.Kind {
	case "StatefulSet":
		var s appsv1.StatefulSet
		if err := json.Unmarshal(o.JSON, &s); err != nil {
			return w, fmt.Errorf("%s: %w", o.Ref(), err)
		}
		replicas, w.template = s.Spec.Replicas, s.Spec.Template
	case "Deployment":
		var d appsv1.Deployment
		if err := json.Unmarshal(o.JSON, &d); err != nil {
			return w, fmt.Errorf("%s: %w", o.Ref(), err)
		}
		replicas, w.template = d.Spec.Replicas, d.Spec.Template
	case "DaemonSet":
		// One pod per node; at least one must serve.
		var d appsv1.DaemonSet
		if err := json.Unmarshal(o.JSON, &d); err != nil {
			return w, fmt.Errorf("%s: %w", o.Ref(), err)
		}
		w.template = d.Spec.Template
	}
	if replicas != nil {
		w.replicas = int(*replicas)
	}
	return w, nil
}

// inNamespaces says whether a pod in ns is discovered; own is
// Prometheus' namespace (its config's).
func inNamespaces(ns, own string, sel *sdNamespaces) bool {
	if sel == nil || (!sel.OwnNamespace && len(sel.Names) == 0) {
		return true
	}
	return (sel.OwnNamespace && ns == own) || slices.Contains(sel.Names, ns)
}

// podAddress stands for a pod's IP, unknown before it runs (TEST-NET-1).
const podAddress = "192.0.2.1"

// podRoleLabels are the discovered labels of Prometheus' pod role for the
// first pod of w: one set per declared container port, one per container
// without ports, init containers included (flagged), as the pod role
// yields them. Labels only known at run time (node, host IP, UID) are
// absent; the scrape configs here do not read them.
func podRoleLabels(w podTemplate) []map[string]string {
	pod := map[string]string{
		"__meta_kubernetes_namespace": w.namespace,
		"__meta_kubernetes_pod_ip":    podAddress,
		"__meta_kubernetes_pod_ready": "true",
		"__meta_kubernetes_pod_phase": "Running",
		"__meta_kubernetes_pod_name":  w.name + "-0",
	}
	switch w.kind {
	case "StatefulSet":
		pod["__meta_kubernetes_pod_controller_kind"], pod["__meta_kubernetes_pod_controller_name"] = "StatefulSet", w.name
	case "Deployment":
		pod["__meta_kubernetes_pod_name"] = w.name + "-hash-pod"
		pod["__meta_kubernetes_pod_controller_kind"], pod["__meta_kubernetes_pod_controller_name"] = "ReplicaSet", w.name+"-hash"
	case "DaemonSet":
		pod["__meta_kubernetes_pod_name"] = w.name + "-pod"
		pod["__meta_kubernetes_pod_controller_kind"], pod["__meta_kubernetes_pod_controller_name"] = "DaemonSet", w.name
	}
	for k, v := range w.template.Labels {
		pod["__meta_kubernetes_pod_label_"+sanitizeLabel(k)] = v
		pod["__meta_kubernetes_pod_labelpresent_"+sanitizeLabel(k)] = "true"
	}
	for k, v := range w.template.Annotations {
		pod["__meta_kubernetes_pod_annotation_"+sanitizeLabel(k)] = v
		pod["__meta_kubernetes_pod_annotationpresent_"+sanitizeLabel(k)] = "true"
	}
	var out []map[string]string
	add := func(c corev1.Container, init bool) {
		lb := copyLabels(pod)
		lb["__meta_kubernetes_pod_container_name"] = c.Name
		lb["__meta_kubernetes_pod_container_image"] = c.Image
		lb["__meta_kubernetes_pod_container_init"] = strconv.FormatBool(init)
		if len(c.Ports) == 0 {
			lb["__address__"] = podAddress
			out = append(out, lb)
			return
		}
		for _, p := range c.Ports {
			pl := copyLabels(lb)
			pl["__meta_kubernetes_pod_container_port_name"] = p.Name
			pl["__meta_kubernetes_pod_container_port_number"] = strconv.Itoa(int(p.ContainerPort))
			pl["__meta_kubernetes_pod_container_port_protocol"] = string(or(p.Protocol, corev1.ProtocolTCP))
			pl["__address__"] = net.JoinHostPort(podAddress, strconv.Itoa(int(p.ContainerPort)))
			out = append(out, pl)
		}
	}
	for _, c := range w.template.Spec.InitContainers {
		add(c, true)
	}
	for _, c := range w.template.Spec.Containers {
		add(c, false)
	}
	return out
}

var invalidLabelChar = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// sanitizeLabel is how Prometheus turns a Kubernetes label or annotation
// name into a label name.
func sanitizeLabel(s string) string { return invalidLabelChar.ReplaceAllString(s, "_") }

// finalTarget relabels lb and returns the target it becomes, or false when
// the rules drop it. It records the final label set in lb["__final__"] (the
// target's identity, as Prometheus dedups on it).
func finalTarget(pool string, lb map[string]string, rules []relabelRule) (ExpectedTarget, bool, error) {
	kept, err := relabel(lb, rules)
	if err != nil {
		return ExpectedTarget{}, false, fmt.Errorf("scrape config %s: %w", pool, err)
	}
	if !kept || lb["__address__"] == "" {
		return ExpectedTarget{}, false, nil
	}
	host, port, err := net.SplitHostPort(lb["__address__"])
	if err != nil {
		// No port: Prometheus 2 adds the scheme's default.
		host, port = lb["__address__"], "80"
		if lb["__scheme__"] == "https" {
			port = "443"
		}
	}
	var final []string
	for k, v := range lb {
		if !strings.HasPrefix(k, "__meta_") && k != "__final__" {
			final = append(final, k+"="+v)
		}
	}
	sort.Strings(final)
	lb["__final__"] = strings.Join(final, ",")
	t := ExpectedTarget{Pool: pool, Job: lb["job"], Port: port}
	if host != podAddress {
		t.Host = host
	}
	return t, true, nil
}

// relabel applies Prometheus relabel_configs in order (the actions this
// project's configs use; any other is an error, not a guess). It reports
// whether the target is kept.
func relabel(lb map[string]string, rules []relabelRule) (bool, error) {
	for i, r := range rules {
		re, err := regexp.Compile("^(?:" + or(ptr(r.Regex), "(.*)") + ")$")
		if err != nil {
			return false, fmt.Errorf("relabel_configs[%d]: %w", i, err)
		}
		vals := make([]string, len(r.SourceLabels))
		for j, s := range r.SourceLabels {
			vals[j] = lb[s]
		}
		sep := ";"
		if r.Separator != nil {
			sep = *r.Separator
		}
		val := strings.Join(vals, sep)
		switch or(r.Action, "replace") {
		case "keep":
			if !re.MatchString(val) {
				return false, nil
			}
		case "drop":
			if re.MatchString(val) {
				return false, nil
			}
		case "replace":
			m := re.FindStringSubmatchIndex(val)
			if m == nil {
				continue
			}
			target := string(re.ExpandString(nil, r.TargetLabel, val, m))
			replacement := "$1"
			if r.Replacement != nil {
				replacement = *r.Replacement
			}
			res := string(re.ExpandString(nil, replacement, val, m))
			if res == "" {
				delete(lb, target)
			} else {
				lb[target] = res
			}
		default:
			return false, fmt.Errorf("relabel_configs[%d]: action %q is not evaluated here", i, r.Action)
		}
	}
	return true, nil
}

// JudgeExpectedTargets wants every expected target up on as many pods as
// it expects, and no target down (JudgeTargets). Targets of services in
// excused (unavailable where the environment allows it) are named in the
// evidence instead.
func JudgeExpectedTargets(expected []ExpectedTarget, targets []PromTarget, excused map[string]string) (string, error) {
	var short, excusedNames []string
	total := 0
	for _, e := range expected {
		if _, ok := excused[e.Job]; ok {
			excusedNames = append(excusedNames, e.String())
			continue
		}
		total += e.Replicas
		up := 0
		var other []string
		for _, t := range targets {
			if !e.matches(t) {
				continue
			}
			if t.Health == "up" {
				up++
			} else {
				other = append(other, t.Labels["instance"]+" "+t.Health)
			}
		}
		if up < e.Replicas {
			s := fmt.Sprintf("%s: %d of %d up", e, up, e.Replicas)
			if missing := e.Replicas - up - len(other); missing > 0 {
				s += fmt.Sprintf(", %d missing", missing)
			}
			if len(other) > 0 {
				s += " (" + strings.Join(other, ", ") + ")"
			}
			short = append(short, s)
		}
	}
	ev, downErr := JudgeTargets(targets, excused)
	ev = fmt.Sprintf("%d expected targets in %d groups; %s", total, len(expected)-len(excusedNames), ev)
	if len(excusedNames) > 0 {
		ev += "; expected but excused (image unavailable here): " + strings.Join(excusedNames, ", ")
	}
	var errs []string
	if len(short) > 0 {
		errs = append(errs, "expected targets not up: "+strings.Join(short, "; "))
	}
	if downErr != nil {
		errs = append(errs, downErr.Error())
	}
	if len(errs) > 0 {
		return ev, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return ev, nil
}

// matches says whether an active target is one of e's: same scrape pool
// and job, the same port, and a pod of e's workload (from the pod role's
// controller labels) or e's static host.
func (e ExpectedTarget) matches(t PromTarget) bool {
	if t.ScrapePool != e.Pool || t.Labels["job"] != e.Job {
		return false
	}
	u, err := url.Parse(t.ScrapeURL)
	if err != nil {
		return false
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"https": "443"}[u.Scheme]
		port = or(port, "80")
	}
	if port != e.Port {
		return false
	}
	if e.Workload == "" {
		return u.Hostname() == e.Host
	}
	return workloadOf(t.DiscoveredLabels) == e.Workload
}

// workloadOf names the workload that owns a discovered pod: a Deployment's
// pods are owned by its ReplicaSet "<deployment>-<template hash>".
func workloadOf(d map[string]string) string {
	kind, name := d["__meta_kubernetes_pod_controller_kind"], d["__meta_kubernetes_pod_controller_name"]
	if kind == "ReplicaSet" {
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			return "Deployment/" + name[:i]
		}
	}
	return kind + "/" + name
}

func copyLabels(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+8)
	for k, v := range m {
		out[k] = v
	}
	return out
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func ptr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
