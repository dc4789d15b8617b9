package service

import (
	"encoding/json"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/statex/infrastructure/pipelines/internal/testrepo"
	"github.com/statex/infrastructure/pipelines/manifest"
)

// served is what the rendered set says of one service label: its
// Services, containers, ports and environment.
type served struct {
	services   []string
	containers []string
	ports      []int
	env        map[string]string // container/NAME → value
}

func servedBy(t *testing.T, objs []*manifest.Object) map[string]*served {
	t.Helper()
	out := map[string]*served{}
	of := func(label string) *served {
		if out[label] == nil {
			out[label] = &served{env: map[string]string{}}
		}
		return out[label]
	}
	for _, o := range objs {
		switch o.Kind {
		case "Service":
			var s corev1.Service
			if err := json.Unmarshal(o.JSON, &s); err != nil {
				t.Fatal(err)
			}
			sv := of(s.Spec.Selector["app.kubernetes.io/name"])
			sv.services = append(sv.services, s.Name)
			for _, p := range s.Spec.Ports {
				sv.ports = append(sv.ports, int(p.Port))
			}
		case "StatefulSet", "Deployment":
			var w struct {
				Spec struct {
					Template corev1.PodTemplateSpec `json:"template"`
				} `json:"spec"`
			}
			if err := json.Unmarshal(o.JSON, &w); err != nil {
				t.Fatal(err)
			}
			sv := of(w.Spec.Template.Labels["app.kubernetes.io/name"])
			for _, c := range w.Spec.Template.Spec.Containers {
				sv.containers = append(sv.containers, c.Name)
				for _, p := range c.Ports {
					sv.ports = append(sv.ports, int(p.ContainerPort))
				}
				for _, e := range c.Env {
					sv.env[c.Name+"/"+e.Name] = e.Value
				}
			}
		}
	}
	return out
}

// How this package reaches each service is what the manifests deploy: a
// renamed Secret key, Service, container or port fails here, not on a
// cluster in the middle of a drill.
func TestReachMatchesTheManifests(t *testing.T) {
	envs := testrepo.Environments(t)
	secrets := map[string][]string{}
	for _, s := range envs.GeneratedSecrets {
		secrets[s.Name] = s.Keys
	}
	for _, sk := range [][2]string{
		{PostgresSecret, PostgresSuperuserKey}, {RedisSecret, RedisPasswordKey}, {RabbitSecret, RabbitPasswordKey},
		{MinIOSecret, MinIOUserKey}, {MinIOSecret, MinIOPasswordKey},
		{ElasticsearchSecret, ElasticsearchPasswordKey}, {GrafanaSecret, GrafanaPasswordKey},
	} {
		if !slices.Contains(secrets[sk[0]], sk[1]) {
			t.Errorf("generatedSecrets has no %s key %s", sk[0], sk[1])
		}
	}
	for _, env := range []string{"kind", "prod"} {
		by := servedBy(t, testrepo.Rendered(t, env).Objects)
		want := []struct {
			label      string
			services   []string
			containers []string
			ports      []int
		}{
			{"postgres", []string{PostgresService, PostgresHeadless}, []string{PostgresContainer}, []int{PostgresPort, PatroniPort}},
			{"redis", []string{RedisHeadless}, []string{SentinelContainer}, []int{RedisPort, SentinelPort}},
			{"rabbitmq", []string{RabbitService}, []string{RabbitContainer}, []int{AMQPPort}},
			{"minio", []string{MinIOService}, nil, []int{MinIOPort}},
			{"postfix", []string{PostfixService}, nil, []int{SMTPPort, SubmissionPort}},
			{"dovecot", []string{DovecotService}, nil, []int{IMAPPort}},
			{"postfixadmin", []string{PostfixadminService}, nil, nil},
			{"roundcube", []string{RoundcubeService}, nil, []int{RoundcubePort}},
			{"jaeger", []string{JaegerService}, nil, []int{OTLPHTTPPort, JaegerAPIPort}},
			{"prometheus", []string{PrometheusService}, nil, []int{PrometheusPort}},
			{"grafana", []string{GrafanaService}, nil, []int{GrafanaPort}},
			{"loki", []string{LokiService}, nil, []int{LokiPort}},
			{"elasticsearch", []string{ElasticsearchService}, nil, []int{ElasticsearchPort}},
		}
		for _, w := range want {
			got := by[w.label]
			if got == nil {
				t.Errorf("%s: nothing labelled app.kubernetes.io/name=%s", env, w.label)
				continue
			}
			for _, s := range w.services {
				if !slices.Contains(got.services, s) {
					t.Errorf("%s: no Service %s selects %s (have %v)", env, s, w.label, got.services)
				}
			}
			for _, c := range w.containers {
				if !slices.Contains(got.containers, c) {
					t.Errorf("%s: %s has no container %s (have %v)", env, w.label, c, got.containers)
				}
			}
			for _, p := range w.ports {
				if !slices.Contains(got.ports, p) {
					t.Errorf("%s: %s serves no port %d (have %v)", env, w.label, p, got.ports)
				}
			}
		}
		if v := by["redis"].env[SentinelContainer+"/MASTER_NAME"]; v != RedisMasterName {
			t.Errorf("%s: Sentinel monitors %q, this package asks for %q", env, v, RedisMasterName)
		}
	}
}
