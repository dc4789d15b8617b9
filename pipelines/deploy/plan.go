// Package deploy applies a rendered environment to its cluster in stages
// (server-side apply), generates the environment's secrets, waits for real
// readiness between stages, prunes what left the set and rolls back a stage
// that fails. This file holds the stage order: data, not scattered ifs.
package deploy

import (
	"fmt"
	"slices"

	"github.com/statex/infrastructure/pipelines/manifest"
)

// Stage is one step of a deploy: its objects are applied together and must
// be ready before the next stage starts.
type Stage struct {
	Name string
	// Kinds places cluster plumbing (namespace, RBAC, config, policies) in
	// the stage whatever service it belongs to.
	Kinds []string
	// Services are app.kubernetes.io/name values whose workloads belong here.
	Services []string
}

// Stages is the dependency graph of the platform, in order: everything a
// workload needs exists before it starts; PostgreSQL first because Grafana,
// Roundcube and mail management keep their state in it; MinIO before the
// backups that write to it; Dovecot before Postfix delivers to it.
var Stages = []Stage{
	{Name: "foundation", Kinds: []string{
		"Namespace", "CustomResourceDefinition", "StorageClass", "PriorityClass",
		"ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding",
		"ConfigMap", "Secret", "NetworkPolicy", "PodDisruptionBudget", "Service",
		"PersistentVolumeClaim", "LimitRange", "ResourceQuota",
	}},
	{Name: "postgres", Services: []string{"postgres"}},
	{Name: "data", Services: []string{"redis", "rabbitmq", "minio", "elasticsearch"}},
	{Name: "observability", Services: []string{"prometheus", "loki", "jaeger"}},
	{Name: "grafana", Services: []string{"grafana"}},
	// mail-ops creates the mail roles and databases Dovecot and Postfix read.
	{Name: "mail-bootstrap", Services: []string{"mail-ops"}},
	{Name: "dovecot", Services: []string{"dovecot"}},
	{Name: "postfix", Services: []string{"postfix"}},
	{Name: "webmail", Services: []string{"roundcube", "postfixadmin"}},
}

// StagedObjects is a stage with the objects placed in it.
type StagedObjects struct {
	Stage   Stage
	Objects []*manifest.Object
}

// Plan places every object in a stage. An object of a workload kind whose
// service is in no stage is an error naming it, so a 14th service cannot be
// deployed in an arbitrary order by accident.
func Plan(objs []*manifest.Object) ([]StagedObjects, error) {
	out := make([]StagedObjects, len(Stages))
	for i, s := range Stages {
		out[i].Stage = s
	}
	var unplaced []string
	for _, o := range objs {
		i := stageOf(o)
		if i < 0 {
			unplaced = append(unplaced, fmt.Sprintf("%s (%s=%q)", o.Ref(), serviceLabel, o.Labels[serviceLabel]))
			continue
		}
		out[i].Objects = append(out[i].Objects, o)
	}
	if len(unplaced) > 0 {
		return nil, fmt.Errorf("no deploy stage for %v: add the service to deploy.Stages", unplaced)
	}
	return slices.DeleteFunc(out, func(s StagedObjects) bool { return len(s.Objects) == 0 }), nil
}

const serviceLabel = "app.kubernetes.io/name"

func stageOf(o *manifest.Object) int {
	for i, s := range Stages {
		if slices.Contains(s.Kinds, o.Kind) {
			return i
		}
	}
	for i, s := range Stages {
		if slices.Contains(s.Services, o.Labels[serviceLabel]) {
			return i
		}
	}
	return -1
}
