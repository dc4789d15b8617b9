package report

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/statex/infrastructure/pipelines/deploy"
)

func failedDeploy() *deploy.Result {
	return &deploy.Result{
		Env: "kind", Namespace: "statex-infrastructure", Hash: "sha256:0123456789abcdef0123", Revision: 7, Previous: 6,
		Status: "rolled-back", Duration: 42.5,
		Stages: []deploy.StageResult{
			{Name: "foundation", Status: "ready", Changes: []deploy.Change{{Object: "ConfigMap/ns/a", Action: "configured", Diff: "~ /data/x: \"2\""}, {Object: "ConfigMap/ns/b", Action: "unchanged"}}},
			{Name: "data", Status: "ready", Workloads: []deploy.WorkloadStatus{
				{Object: "StatefulSet/ns/redis", Service: "redis", Ready: 3, Desired: 3, Status: "ready"},
				{Object: "StatefulSet/ns/elasticsearch", Service: "elasticsearch", Desired: 3, Status: "unavailable", Message: "image unavailable offline: es:8"},
			}, Signals: []deploy.SignalResult{{Service: "redis", Signal: "sentinel", Status: "passed", Detail: "3/3 members"}}},
			{Name: "webmail", Status: "failed", Changes: []deploy.Change{{Object: "Deployment/ns/roundcube", Action: "configured"}},
				Workloads: []deploy.WorkloadStatus{{Object: "Deployment/ns/roundcube", Ready: 2, Desired: 2, Status: "failed", Message: "image x:0 cannot be pulled"}}},
			{Name: "after", Status: "skipped"},
		},
		Failure:  &deploy.Failure{Stage: "webmail", Reason: "Deployment/ns/roundcube: image x:0 cannot be pulled", Events: []string{"Pod/roundcube-1: Failed: ErrImagePull"}, Logs: map[string]string{"roundcube-1/roundcube": "line one"}},
		Rollback: &deploy.Rollback{To: 6, Restored: []string{"Deployment/ns/roundcube"}, Ready: true},
	}
}

func TestDeployText(t *testing.T) {
	var b bytes.Buffer
	if err := DeployText(&b, failedDeploy(), Style{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"configured  ConfigMap/ns/a", `~ /data/x: "2"`, "unavailable StatefulSet/ns/elasticsearch 0/3 — image unavailable offline: es:8",
		"FAILED stage webmail", "event Pod/roundcube-1: Failed: ErrImagePull", "| line one",
		"rollback to revision 6: restored 1, deleted 0, previous version serving",
		"kind: rolled-back (revision 7) · 0 created, 2 configured, 1 unchanged, 0 pruned · 1 workloads image unavailable offline",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "ConfigMap/ns/b") {
		t.Errorf("unchanged objects are listed:\n%s", out)
	}
}

func TestDeployJUnit(t *testing.T) {
	var b bytes.Buffer
	if err := DeployJUnit(&b, failedDeploy()); err != nil {
		t.Fatal(err)
	}
	var got junitSuites
	if err := xml.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("not XML: %v\n%s", err, b.String())
	}
	// apply ×4, redis, elasticsearch (skipped), signal, roundcube (failed)
	if got.Tests != 8 || got.Failures != 1 || len(got.Suites) != 4 {
		t.Errorf("tests %d failures %d suites %d, want 8, 1, 4\n%s", got.Tests, got.Failures, len(got.Suites), b.String())
	}
	if got.Suites[1].Skipped != 1 || got.Suites[3].Skipped != 1 {
		t.Errorf("unavailable workload and skipped stage must be skipped cases:\n%s", b.String())
	}
}

func TestDeployMarkdown(t *testing.T) {
	md := DeployMarkdown(failedDeploy())
	for _, want := range []string{"### statex deploy · kind ❌", "| webmail | failed |", "```diff", "**failed stage `webmail`:**", "**rollback** to revision 6"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

// A dry run that failed (the cluster went away half-way) planned nothing
// and must not say it did.
func TestFailedDryRunIsNotPlanned(t *testing.T) {
	r := &deploy.Result{Env: "kind", DryRun: true, Status: deploy.ReleaseFailed}
	var b bytes.Buffer
	if err := DeployText(&b, r, Style{}); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"text": b.String(), "markdown": DeployMarkdown(r)} {
		if strings.Contains(out, "planned") || !strings.Contains(out, "dry run failed") {
			t.Errorf("%s: %s", name, out)
		}
	}
	if strings.Contains(DeployMarkdown(r), "📝") {
		t.Error("markdown shows a failed dry run as a plan")
	}
	r.Status = "planned"
	if !strings.Contains(DeploySummary(r), "planned") {
		t.Errorf("a finished dry run: %s", DeploySummary(r))
	}
}
