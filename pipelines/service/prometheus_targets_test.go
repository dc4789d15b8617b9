package service

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/statex/infrastructure/pipelines/internal/testrepo"
	"github.com/statex/infrastructure/pipelines/manifest"
)

// What the kind set makes Prometheus scrape, derived from its own scrape
// config: the built-in service ports, the `metrics`-named ports, the
// static self-scrape; nothing for ports no rule keeps or for Job pods.
func TestExpectedTargetsFollowTheRenderedScrapeConfig(t *testing.T) {
	expected, err := ExpectedTargets(testrepo.Rendered(t, "kind").Objects)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range expected {
		got = append(got, e.String())
	}
	for _, want := range []string{
		"prometheus/prometheus localhost:9090",
		"statex-services/postgres StatefulSet/postgres:8008 ×3",
		"statex-services/rabbitmq StatefulSet/rabbitmq:15692 ×3",
		"statex-services/minio StatefulSet/minio:9000 ×4",
		"statex-services/grafana Deployment/grafana:3000 ×2", // the HPA's minimum
		"statex-services/loki StatefulSet/loki:3100",
		"metrics-port/jaeger StatefulSet/jaeger:8888",
		"metrics-port/dovecot StatefulSet/dovecot:9900 ×2",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("missing %q in %v", want, got)
		}
	}
	for _, e := range expected {
		if e.Port == "5432" || e.Port == "6379" || strings.Contains(e.Workload, "Job") || strings.Contains(e.Workload, "backup") {
			t.Errorf("unexpected target %s", e)
		}
	}
}

func parse(t *testing.T, docs string) []*manifest.Object {
	t.Helper()
	objs, errs := manifest.ParseDocuments("test.yaml", []byte(docs))
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	return objs
}

// configMap wraps a prometheus.yml in the ConfigMap the derivation reads.
func configMap(t *testing.T, promYAML string) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "prometheus-config", "namespace": "ns"}, "data": map[string]string{"prometheus.yml": promYAML}})
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

// The relabel semantics that decide a target: keep and drop anchored on
// the joined source labels, replace with $n groups, an annotated pod's
// ports merged into one target, port-free containers and init containers
// yielding candidates the rules must drop, namespaces honoured.
func TestExpectedTargetsRelabelLikePrometheus(t *testing.T) {
	prom := `scrape_configs:
  - job_name: by-port
    kubernetes_sd_configs: [{role: pod, namespaces: {own_namespace: true}}]
    relabel_configs:
      - {source_labels: [__meta_kubernetes_pod_container_init], regex: "true", action: drop}
      - {source_labels: [__meta_kubernetes_pod_label_app_kubernetes_io_name, __meta_kubernetes_pod_container_port_number], regex: "web;80.*", action: keep}
      - {source_labels: [__meta_kubernetes_pod_label_app_kubernetes_io_name], target_label: job}
  - job_name: annotated
    kubernetes_sd_configs: [{role: pod}]
    relabel_configs:
      - {source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape], regex: "true", action: keep}
      - {source_labels: [__meta_kubernetes_pod_ip, __meta_kubernetes_pod_annotation_prometheus_io_port], regex: "(.+);(\\d+)", replacement: "$1:$2", target_label: __address__}
      - {source_labels: [__meta_kubernetes_pod_label_app_kubernetes_io_name], target_label: job}
`
	objs := parse(t, configMap(t, prom)+`---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web, namespace: ns}
spec:
  replicas: 2
  template:
    metadata:
      labels: {app.kubernetes.io/name: web}
      annotations: {prometheus.io/scrape: "true", prometheus.io/port: "9102"}
    spec:
      initContainers: [{name: init, image: i, ports: [{containerPort: 8000}]}]
      containers:
        - {name: app, image: a, ports: [{containerPort: 8080}, {containerPort: 8081}, {containerPort: 9000}]}
        - {name: sidecar, image: s}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: other, namespace: elsewhere}
spec:
  template:
    metadata: {labels: {app.kubernetes.io/name: web}}
    spec:
      containers: [{name: app, image: a, ports: [{containerPort: 8082}]}]
`)
	expected, err := ExpectedTargets(objs)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range expected {
		got = append(got, e.String())
	}
	// by-port: 8080 and 8081 of web's 2 pods (not 9000, not the init
	// container's 8000, not the other namespace's 8082); annotated: one
	// target per pod on 9102, the candidates of all its ports merged.
	want := []string{"annotated/web StatefulSet/web:9102 ×2", "by-port/web StatefulSet/web:8080 ×2", "by-port/web StatefulSet/web:8081 ×2"}
	if !slices.Equal(got, want) {
		t.Errorf("expected targets\n got %v\nwant %v", got, want)
	}

	for name, c := range map[string]struct{ docs, want string }{
		"no config":      {"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}\n", "want one ConfigMap with prometheus.yml"},
		"unknown action": {configMap(t, "scrape_configs:\n  - job_name: j\n    static_configs: [{targets: [a:1]}]\n    relabel_configs: [{action: hashmod}]\n"), `action "hashmod" is not evaluated here`},
		"other role":     {configMap(t, "scrape_configs:\n  - job_name: j\n    kubernetes_sd_configs: [{role: endpoints}]\n"), `role "endpoints"`},
		"nothing kept":   {configMap(t, "scrape_configs:\n  - job_name: j\n    static_configs: [{targets: [a:1]}]\n    relabel_configs: [{action: drop, source_labels: [job], regex: j}]\n"), "yields no target"},
	} {
		if _, err := ExpectedTargets(parse(t, c.docs)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error mentioning %q", name, err, c.want)
		}
	}
}

func TestRelabelReplaceDeletesOnEmptyResult(t *testing.T) {
	empty := ""
	lb := map[string]string{"a": "x", "keep": "1"}
	if _, err := relabel(lb, []relabelRule{{SourceLabels: []string{"a"}, TargetLabel: "keep", Replacement: &empty}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := lb["keep"]; ok {
		t.Errorf("replace with an empty result kept the label: %v", lb)
	}
	re := "y"
	lb = map[string]string{"a": "x", "keep": "1"}
	if _, err := relabel(lb, []relabelRule{{SourceLabels: []string{"a"}, Regex: &re, TargetLabel: "keep"}}); err != nil || lb["keep"] != "1" {
		t.Errorf("a replace whose regex does not match changed the label: %v %v", lb, err)
	}
}

// activeTargets is what GET /api/v1/targets reports when every expected
// target is there and up: the pod role's discovered controller labels, the
// scrape URL, the job label.
func activeTargets(expected []ExpectedTarget) []PromTarget {
	var out []PromTarget
	for _, e := range expected {
		for i := range e.Replicas {
			kind, name, _ := strings.Cut(e.Workload, "/")
			pod := fmt.Sprintf("%s-%d", name, i)
			host := e.Host
			d := map[string]string{}
			switch kind {
			case "StatefulSet":
				d["__meta_kubernetes_pod_controller_kind"], d["__meta_kubernetes_pod_controller_name"] = "StatefulSet", name
			case "Deployment":
				pod = fmt.Sprintf("%s-7d9f8c6b5-%05d", name, i)
				d["__meta_kubernetes_pod_controller_kind"], d["__meta_kubernetes_pod_controller_name"] = "ReplicaSet", name+"-7d9f8c6b5"
			}
			if host == "" {
				host = fmt.Sprintf("10.244.0.%d", len(out)+2)
			}
			out = append(out, PromTarget{
				DiscoveredLabels: d, ScrapePool: e.Pool, Health: "up",
				Labels:    map[string]string{"job": e.Job, "instance": pod + ":" + e.Port, "pod": pod},
				ScrapeURL: "http://" + host + ":" + e.Port + "/metrics",
			})
		}
	}
	return out
}

// A missing or down target FAILs; targets of a service the environment
// may run without are excused on kind, and FAIL where none is allowed.
func TestJudgeExpectedTargets(t *testing.T) {
	expected, err := ExpectedTargets(testrepo.Rendered(t, "kind").Objects)
	if err != nil {
		t.Fatal(err)
	}
	all := activeTargets(expected)
	if ev, err := JudgeExpectedTargets(expected, all, nil); err != nil {
		t.Fatalf("every target up: %v (%s)", err, ev)
	}
	without := func(drop func(PromTarget) bool) []PromTarget {
		var out []PromTarget
		for _, t := range all {
			if !drop(t) {
				out = append(out, t)
			}
		}
		return out
	}

	// Jaeger's pod gone: Prometheus reports nothing for it, every
	// reported target is up (the old judgement passed this).
	noJaeger := without(func(t PromTarget) bool { return t.Labels["job"] == "jaeger" })
	if _, err := JudgeTargets(noJaeger, nil); err != nil {
		t.Fatalf("precondition: the reported targets alone pass: %v", err)
	}
	if _, err := JudgeExpectedTargets(expected, noJaeger, nil); err == nil || !strings.Contains(err.Error(), "metrics-port/jaeger StatefulSet/jaeger:8888: 0 of 1 up, 1 missing") {
		t.Errorf("jaeger missing: %v", err)
	}
	// One of three PostgreSQL members not scraped.
	oneShort := without(func(t PromTarget) bool { return t.Labels["pod"] == "postgres-2" })
	if _, err := JudgeExpectedTargets(expected, oneShort, nil); err == nil || !strings.Contains(err.Error(), "postgres StatefulSet/postgres:8008 ×3: 2 of 3 up") {
		t.Errorf("postgres-2 missing: %v", err)
	}
	// A target of another workload on the same port does not stand in.
	moved := without(func(PromTarget) bool { return false })
	for i := range moved {
		if moved[i].Labels["pod"] == "postgres-2" {
			moved[i].DiscoveredLabels = map[string]string{"__meta_kubernetes_pod_controller_kind": "StatefulSet", "__meta_kubernetes_pod_controller_name": "postgres-old"}
		}
	}
	if _, err := JudgeExpectedTargets(expected, moved, nil); err == nil {
		t.Error("a pod of another workload counted for postgres")
	}
	// Down: reported, but its scrape fails.
	down := without(func(PromTarget) bool { return false })
	for i := range down {
		if down[i].Labels["pod"] == "minio-1" {
			down[i].Health, down[i].LastError = "down", "connection refused"
		}
	}
	if _, err := JudgeExpectedTargets(expected, down, nil); err == nil || !strings.Contains(err.Error(), "minio StatefulSet/minio:9000 ×4: 3 of 4 up (minio-1:9000 down)") {
		t.Errorf("minio-1 down: %v", err)
	}

	// Grafana and Loki cannot be pulled on kind: their pods wait, their
	// targets are down or gone. Excused there, by name, from the same
	// judgement of their pods that SKIPs their checks.
	offline := without(func(t PromTarget) bool { return t.Labels["job"] == "loki" })
	for i := range offline {
		if offline[i].Labels["job"] == "grafana" {
			offline[i].Health, offline[i].LastError = "down", "no route"
		}
	}
	// What check's pull judgement makes of kind (both may be unavailable
	// there) and of staging (neither): pipelines/check tests that part.
	unavailable := func(env string) map[string]string {
		if env != "kind" {
			return map[string]string{}
		}
		return map[string]string{"grafana": "image not pullable here", "loki": "image not pullable here"}
	}
	ev, err := JudgeExpectedTargets(expected, offline, unavailable("kind"))
	if err != nil || !strings.Contains(ev, "excused") || !strings.Contains(ev, "statex-services/grafana") || !strings.Contains(ev, "statex-services/loki") {
		t.Errorf("kind, grafana and loki unavailable: %q, %v; want PASS naming both as excused", ev, err)
	}
	if _, err := JudgeExpectedTargets(expected, offline, unavailable("staging")); err == nil || !strings.Contains(err.Error(), "grafana") || !strings.Contains(err.Error(), "loki") {
		t.Errorf("staging, same targets: %v; want FAIL naming grafana and loki", err)
	}
	// An excuse covers only its service.
	if _, err := JudgeExpectedTargets(expected, noJaeger, unavailable("kind")); err == nil {
		t.Error("jaeger missing passed on kind")
	}
}

// The fields the judgement reads, in the shape Prometheus' HTTP API
// answers GET /api/v1/targets with.
func TestPromTargetDecodesTheTargetsAPI(t *testing.T) {
	body := `{"activeTargets":[{"discoveredLabels":{"__address__":"10.244.0.7:8008","__meta_kubernetes_pod_controller_kind":"StatefulSet","__meta_kubernetes_pod_controller_name":"postgres"},
	"labels":{"instance":"postgres-0:8008","job":"postgres","pod":"postgres-0"},"scrapePool":"statex-services","scrapeUrl":"http://10.244.0.7:8008/metrics",
	"globalUrl":"http://postgres-0:8008/metrics","lastError":"","lastScrape":"2026-01-01T00:00:00Z","lastScrapeDuration":0.01,"health":"up","scrapeInterval":"30s","scrapeTimeout":"10s"}],"droppedTargets":[]}`
	var d struct {
		ActiveTargets []PromTarget `json:"activeTargets"`
	}
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatal(err)
	}
	e := ExpectedTarget{Pool: "statex-services", Job: "postgres", Workload: "StatefulSet/postgres", Port: "8008", Replicas: 1}
	if len(d.ActiveTargets) != 1 || !e.matches(d.ActiveTargets[0]) {
		t.Errorf("decoded %+v does not match %s", d.ActiveTargets, e)
	}
}
