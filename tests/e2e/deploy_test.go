package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/statex/infrastructure/pipelines/check"
	"github.com/statex/infrastructure/pipelines/cluster"
	"github.com/statex/infrastructure/pipelines/deploy"
	"github.com/statex/infrastructure/pipelines/manifest"
)

// seedReplicas are the replica counts the platform promises (DESIGN.md).
var seedReplicas = map[string]int{
	"StatefulSet/postgres": 3, "StatefulSet/rabbitmq": 3, "StatefulSet/redis": 3, "StatefulSet/minio": 4,
	"StatefulSet/elasticsearch": 3, "StatefulSet/prometheus": 1, "Deployment/grafana": 2, "StatefulSet/loki": 1,
	"StatefulSet/jaeger": 1, "StatefulSet/postfix": 2, "StatefulSet/dovecot": 2, "Deployment/roundcube": 2,
	"Deployment/postfixadmin": 1,
}

// offlineUnavailable are the services whose upstream images cannot be built
// or pulled on a machine without a registry: applied, never Ready.
var offlineUnavailable = []string{"elasticsearch", "grafana", "loki"}

// statex builds the CLI once per test binary.
func statex(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(os.TempDir(), "statex-e2e")
	cmd := exec.Command("go", "build", "-o", bin, "./pipelines/cmd/statex")
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build statex: %v\n%s", err, out)
	}
	return bin
}

// run runs the CLI with a JSON report on stdout and returns the result,
// exit code and stderr (progress).
func run(t *testing.T, bin string, args ...string) (*deploy.Result, int, string) {
	t.Helper()
	var res deploy.Result
	code, stderr := runJSON(t, bin, &res, args...)
	return &res, code, stderr
}

// runJSON runs the CLI with --output json and decodes stdout into v.
func runJSON(t *testing.T, bin string, v any, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(args, "--output", "json")...)
	cmd.Dir = repoRoot(t)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("statex %v: %v", args, err)
	}
	t.Logf("statex %s → exit %d\n%s", strings.Join(args, " "), code, lastLines(stderr.String(), 60))
	if err := json.Unmarshal(stdout.Bytes(), v); err != nil {
		t.Fatalf("statex %v: report is not JSON (%v):\n%s\n%s", args, err, stdout.String(), stderr.String())
	}
	return code, stderr.String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func workloads(res *deploy.Result) map[string]deploy.WorkloadStatus {
	out := map[string]deploy.WorkloadStatus{}
	for _, s := range res.Stages {
		for _, w := range s.Workloads {
			kind, rest, _ := strings.Cut(w.Object, "/")
			_, name, _ := strings.Cut(rest, "/")
			out[kind+"/"+name] = w
		}
	}
	return out
}

// The platform deployed by `statex up`: every service whose image is built
// offline reaches Ready with the seed's replicas and passes its
// service-level signal; upstream-only ones are "unavailable", never Ready; a
// second up changes nothing; prune and rollback work on the live platform.
func TestDeployPlatform(t *testing.T) {
	if os.Getenv("STATEX_E2E") != "1" {
		t.Skip("e2e needs a kind cluster: set STATEX_E2E=1 (tests/run e2e)")
	}
	bin := statex(t)

	res, code, _ := run(t, bin, "up", "--env", "kind", "--skip-images", "--junit", filepath.Join(t.TempDir(), "deploy.xml"))
	if code != 0 || res.Status != deploy.ReleaseSucceeded {
		t.Fatalf("up: exit %d, status %s, failure %+v", code, res.Status, res.Failure)
	}
	ws := workloads(res)
	for obj, want := range seedReplicas {
		w, ok := ws[obj]
		if !ok {
			t.Errorf("%s: not in the deploy result", obj)
			continue
		}
		if w.Desired != want {
			t.Errorf("%s: desired %d replicas, the seed says %d", obj, w.Desired, want)
		}
		if slices.Contains(offlineUnavailable, w.Service) {
			if w.Status != "unavailable" || !strings.Contains(w.Message, "image unavailable offline") {
				t.Errorf("%s: status %s (%s), want unavailable: image unavailable offline", obj, w.Status, w.Message)
			}
			continue
		}
		if w.Status != "ready" || w.Ready != want {
			t.Errorf("%s: %s %d/%d (%s), want ready %d/%d", obj, w.Status, w.Ready, w.Desired, w.Message, want, want)
		}
	}
	signals := map[string]string{}
	for _, s := range res.Stages {
		for _, sg := range s.Signals {
			signals[sg.Service] = sg.Status
		}
	}
	for _, svc := range []string{"postgres", "rabbitmq", "redis"} {
		if signals[svc] != "passed" {
			t.Errorf("service signal %s: %q, want passed", svc, signals[svc])
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	t.Run("every offline-buildable service passes its protocol check", func(t *testing.T) {
		var rep check.Report
		code, _ := runJSON(t, bin, &rep, "check", "--env", "kind")
		verdicts := map[string]check.Result{}
		for _, r := range rep.Results {
			verdicts[r.Service] = r
		}
		for _, svc := range check.Services() {
			r, ok := verdicts[svc]
			switch {
			case !ok:
				t.Errorf("%s: no result", svc)
			case slices.Contains(offlineUnavailable, svc):
				if r.Verdict != check.Skipped || !strings.Contains(r.Reason, "not buildable offline") {
					t.Errorf("%s: %s (%s), want SKIPPED: not buildable offline", svc, r.Verdict, r.Reason)
				}
			case r.Verdict != check.Pass:
				t.Errorf("%s: %s: %+v", svc, r.Verdict, r.Steps)
			}
		}
		if code != 0 {
			t.Errorf("statex check exit %d", code)
		}
		t.Logf("checks: %d passed, %d skipped in %.1fs", rep.Passed, rep.Skipped, rep.Seconds)
	})

	t.Run("no-change up applies nothing", func(t *testing.T) {
		start := time.Now()
		res, code, _ := run(t, bin, "up", "--env", "kind", "--skip-images")
		t.Logf("no-change up: %.1fs (deploy %.1fs)", time.Since(start).Seconds(), float64(res.Duration))
		if code != 0 || !res.Unchanged || res.Count("created")+res.Count("configured") != 0 {
			t.Errorf("exit %d, unchanged %v, %d created, %d configured", code, res.Unchanged, res.Count("created"), res.Count("configured"))
		}
	})

	t.Run("an object removed from the manifests is pruned", func(t *testing.T) {
		root := copyManifests(t, func(overlay string) {
			appendFile(t, filepath.Join(overlay, "kustomization.yaml"), `
  - e2e-extra.yaml
`, "  - ../../base\n")
			extra := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: statex-e2e-extra\n  namespace: statex-infrastructure\n  labels:\n    app.kubernetes.io/part-of: statex\ndata:\n  purpose: prune test\n"
			if err := os.WriteFile(filepath.Join(overlay, "e2e-extra.yaml"), []byte(extra), 0o644); err != nil {
				t.Fatal(err)
			}
		})
		res, code, _ := run(t, bin, "deploy", "--env", "kind", "--root", root)
		if code != 0 || !hasChange(res, "ConfigMap/statex-infrastructure/statex-e2e-extra", "created") {
			t.Fatalf("deploy with the extra ConfigMap: exit %d, failure %+v", code, res.Failure)
		}
		res, code, _ = run(t, bin, "deploy", "--env", "kind", "--dry-run")
		if code != 0 || len(res.Pruned) != 1 || res.Pruned[0].Object != "ConfigMap/statex-infrastructure/statex-e2e-extra" {
			t.Errorf("dry run: exit %d, prune plan %+v", code, res.Pruned)
		}
		res, code, _ = run(t, bin, "deploy", "--env", "kind")
		if code != 0 || len(res.Pruned) != 1 {
			t.Fatalf("deploy without it: exit %d, pruned %+v", code, res.Pruned)
		}
		_, err := kubeClient(t).CoreV1().ConfigMaps("statex-infrastructure").Get(context.Background(), "statex-e2e-extra", metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			t.Errorf("pruned ConfigMap still readable: %v", err)
		}
	})

	t.Run("a broken change fails its stage and rolls back", func(t *testing.T) {
		root := copyManifests(t, func(overlay string) {
			// An image that exists nowhere: the kubelet cannot pull it.
			appendFile(t, filepath.Join(overlay, "kustomization.yaml"), `
  - target: {kind: Deployment, name: roundcube}
    patch: |-
      - op: replace
        path: /spec/template/spec/containers/0/image
        value: statex/roundcube:0.0.0-does-not-exist
`, "  - path: patches/jaeger.yaml\n")
		})
		cs := kubeClient(t)
		before, err := cs.AppsV1().Deployments("statex-infrastructure").Get(context.Background(), "roundcube", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		res, code, _ := run(t, bin, "deploy", "--env", "kind", "--root", root, "--timeout", "5m")
		if code != 1 || res.Status != "rolled-back" || res.Failure == nil || res.Failure.Stage != "webmail" {
			t.Fatalf("exit %d, status %s, failure %+v; want exit 1, rolled-back, failed stage webmail", code, res.Status, res.Failure)
		}
		if !strings.Contains(res.Failure.Reason, "0.0.0-does-not-exist") {
			t.Errorf("failure reason does not name the image: %s", res.Failure.Reason)
		}
		if res.Rollback == nil || !res.Rollback.Ready || !slices.Contains(res.Rollback.Restored, "Deployment/statex-infrastructure/roundcube") {
			t.Errorf("rollback: %+v", res.Rollback)
		}
		after, err := cs.AppsV1().Deployments("statex-infrastructure").Get(context.Background(), "roundcube", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		img := after.Spec.Template.Spec.Containers[0].Image
		if img != before.Spec.Template.Spec.Containers[0].Image || after.Status.ReadyReplicas != 2 {
			t.Errorf("after rollback: image %s, %d ready; want %s, 2 ready", img, after.Status.ReadyReplicas, before.Spec.Template.Spec.Containers[0].Image)
		}
		// The next deploy of the good set is a normal, successful one.
		res, code, _ = run(t, bin, "deploy", "--env", "kind")
		if code != 0 || res.Status != deploy.ReleaseSucceeded {
			t.Errorf("deploy after rollback: exit %d, status %s", code, res.Status)
		}
	})
}

func hasChange(res *deploy.Result, obj, action string) bool {
	for _, s := range res.Stages {
		for _, c := range s.Changes {
			if c.Object == obj && c.Action == action {
				return true
			}
		}
	}
	return false
}

// copyManifests copies manifests/ into a temporary repository root and lets
// edit change the kind overlay there.
func copyManifests(t *testing.T, edit func(overlay string)) string {
	t.Helper()
	root := t.TempDir()
	if err := os.CopyFS(filepath.Join(root, "manifests"), os.DirFS(filepath.Join(repoRoot(t), "manifests"))); err != nil {
		t.Fatal(err)
	}
	edit(filepath.Join(root, "manifests", "overlays", "kind"))
	return root
}

// appendFile inserts text after the line anchor (which must exist).
func appendFile(t *testing.T, path, text, anchor string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(anchor)) {
		t.Fatalf("%s: anchor %q not found", path, anchor)
	}
	data = bytes.Replace(data, []byte(anchor), []byte(anchor+strings.TrimPrefix(text, "\n")), 1)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func kubeClient(t *testing.T) *kubernetes.Clientset {
	t.Helper()
	envs, err := manifest.LoadEnvironments(filepath.Join(repoRoot(t), manifest.EnvironmentsFile))
	if err != nil {
		t.Fatal(err)
	}
	env, err := envs.Get("kind")
	if err != nil {
		t.Fatal(err)
	}
	cs, err := cluster.Client(cluster.DefaultKubeconfig(env.Target.Kind.Cluster))
	if err != nil {
		t.Fatal(err)
	}
	return cs
}
