package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/statex/infrastructure/pipelines/deploy"
	"github.com/statex/infrastructure/pipelines/images"
	"github.com/statex/infrastructure/pipelines/manifest"
	"github.com/statex/infrastructure/pipelines/target"
	"github.com/statex/infrastructure/pipelines/validate"
)

const environments = `apiVersion: statex.io/v1alpha1
kind: Environments
namespace: demo
kubernetesVersion: "1.34"
promotion: [good]
environments:
  - name: good
    overlay: overlays/good
    target: {context: dead}
  - name: invalid
    overlay: overlays/invalid
    target: {kind: {cluster: never-made}}
  - name: broken
    overlay: overlays/broken
    target: {context: dead}
`

// A dead API server: nothing listens on port 1.
const deadKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: dead
  cluster: {server: "https://127.0.0.1:1"}
contexts:
- name: dead
  context: {cluster: dead}
current-context: dead
`

func repo(t *testing.T) *target.Repo {
	t.Helper()
	root := t.TempDir()
	for name, text := range map[string]string{
		manifest.EnvironmentsFile:                       environments,
		"manifests/overlays/good/kustomization.yaml":    "namespace: demo\nresources: [cm.yaml]\n",
		"manifests/overlays/good/cm.yaml":               "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: b\n",
		"manifests/overlays/invalid/kustomization.yaml": "namespace: demo\nresources: [cm.yaml]\n",
		// An uppercase name: the API server would refuse it.
		"manifests/overlays/invalid/cm.yaml":           "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Settings\ndata:\n  a: b\n",
		"manifests/overlays/broken/kustomization.yaml": "resources: [missing.yaml]\n",
		"images/base/build.yaml":                       "not: an image recipe\n",
	} {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, err := target.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func resolve(t *testing.T, r *target.Repo, name string) *target.Target {
	t.Helper()
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, []byte(deadKubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	tgt, err := r.Resolve(name, target.Kubectl{Kubeconfig: kc})
	if err != nil {
		t.Fatal(err)
	}
	return tgt
}

func stepOf(t *testing.T, err error) *Error {
	t.Helper()
	var step *Error
	if !errors.As(err, &step) {
		t.Fatalf("error %v is not a step's", err)
	}
	return step
}

// Validated hands back a set only when it passed: a set with errors is a
// finding (exit 1) with its report; a set that cannot be rendered is not
// (exit 2), and there is no report to show.
func TestValidatedReturnsOnlyASetThatPassed(t *testing.T) {
	r := repo(t)
	rep, set, err := Validated(context.Background(), resolve(t, r, "good"))
	if err != nil || set == nil || rep == nil || rep.Failed() || len(set.Objects) != 1 {
		t.Fatalf("good: report %v, set %v, err %v", rep, set, err)
	}
	rep, set, err = Validated(context.Background(), resolve(t, r, "invalid"))
	if step := stepOf(t, err); step.Step != StepValidate || !step.Findings || !errors.Is(err, ErrInvalid) {
		t.Errorf("invalid: %+v", step)
	}
	if set != nil || rep == nil || !rep.Failed() {
		t.Errorf("invalid: set %v, report %v", set, rep)
	}
	rep, set, err = Validated(context.Background(), resolve(t, r, "broken"))
	if step := stepOf(t, err); step.Step != StepValidate || step.Findings || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("broken: %v", err)
	}
	if set != nil || rep != nil {
		t.Errorf("broken: set %v, report %v", set, rep)
	}
}

// Up validates before it builds anything: an invalid set stops it in the
// validate step, with no image built and no cluster made (the images
// directory here would fail any build, and the kind cluster does not
// exist).
func TestUpStopsAtValidationBeforeBuilding(t *testing.T) {
	r := repo(t)
	var seen *validate.Report
	var progress []string
	res, err := Up(context.Background(), resolve(t, r, "invalid"), UpOptions{
		Images:      images.Options{Docker: filepath.Join(t.TempDir(), "no-docker")},
		OnValidated: func(rep *validate.Report) { seen = rep },
		Progress:    func(step, msg string) { progress = append(progress, step+": "+msg) },
	})
	if step := stepOf(t, err); step.Step != StepValidate || !step.Findings {
		t.Fatalf("step %+v", step)
	}
	if seen == nil || !seen.Failed() || res.Validate != seen {
		t.Errorf("OnValidated saw %v", seen)
	}
	if res.Images != nil || res.Cluster != nil || res.Deploy != nil || res.Check != nil || len(progress) > 0 {
		t.Errorf("went past validation: %+v, progress %q", res, progress)
	}
}

// A context target has no images or cluster to manage; Up says so, and an
// unreachable API server stops it in the deploy step as "could not run"
// (exit 2), with no checks run.
func TestUpOnAContextTargetStopsAtAnUnreachableCluster(t *testing.T) {
	r := repo(t)
	var progress []string
	res, err := Up(context.Background(), resolve(t, r, "good"), UpOptions{
		Progress: func(step, msg string) { progress = append(progress, step+": "+msg) },
	})
	step := stepOf(t, err)
	if step.Step != StepDeploy || step.Findings || !errors.Is(err, deploy.ErrCluster) || !strings.Contains(err.Error(), "https://127.0.0.1:1 is unreachable") {
		t.Fatalf("step %+v: %v", step, err)
	}
	if res.Images != nil || res.Cluster != nil || res.Check != nil || res.Deploy == nil {
		t.Errorf("result %+v", res)
	}
	if len(progress) != 1 || !strings.Contains(progress[0], `targets context "dead": no images or cluster to manage`) {
		t.Errorf("progress %q", progress)
	}
}

// Cluster manages kind targets only.
func TestClusterRefusesAContextTarget(t *testing.T) {
	_, err := Cluster(context.Background(), resolve(t, repo(t), "good"), ClusterOptions{})
	if step := stepOf(t, err); step.Step != StepCluster || step.Findings || !strings.Contains(err.Error(), `targets kube context "dead", not a kind cluster`) {
		t.Errorf("%v", err)
	}
}
