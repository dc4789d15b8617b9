package deploy

import (
	"strings"
	"testing"

	"github.com/statex/infrastructure/pipelines/internal/testrepo"
	"github.com/statex/infrastructure/pipelines/manifest"
)

func TestPlanOrdersTheRepositorysEnvironments(t *testing.T) {
	for _, env := range testrepo.Environments(t).Environments {
		plan, err := Plan(testrepo.Rendered(t, env.Name).Objects)
		if err != nil {
			t.Fatalf("%s: %v", env.Name, err)
		}
		if plan[0].Stage.Name != "foundation" || plan[0].Objects[0].Kind != "Namespace" {
			t.Errorf("%s: first stage %s starts with %s, want foundation with the Namespace", env.Name, plan[0].Stage.Name, plan[0].Objects[0].Ref())
		}
		seen := map[string]int{}
		for i, s := range plan {
			for _, o := range s.Objects {
				seen[o.Kind] = i
			}
		}
		if seen["StatefulSet"] <= seen["Service"] {
			t.Errorf("%s: workloads must come after their Services", env.Name)
		}
	}
}

func TestPlanRefusesAWorkloadWithoutAStage(t *testing.T) {
	objs, _ := manifest.ParseDocuments("x.yaml", []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: mystery\n  labels:\n    app.kubernetes.io/name: mystery\n"))
	_, err := Plan(objs)
	if err == nil || !strings.Contains(err.Error(), "Deployment/mystery") || !strings.Contains(err.Error(), "deploy.Stages") {
		t.Fatalf("error = %v, want it to name the object and the fix", err)
	}
}
