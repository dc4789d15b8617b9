package e2e

// Runs after TestDeployPlatform (file order) on the deployed platform, and
// before the drills: each case breaks one thing a check exists to notice,
// watches that check FAIL naming it, repairs it and watches the check PASS
// again. A judge never seen failing is not a judge.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/minio/minio-go/v7"

	"github.com/statex/infrastructure/pipelines/check"
	"github.com/statex/infrastructure/pipelines/target"
)

const platformNS = "statex-infrastructure"

// checkServices runs `statex check` for services and returns the results
// by service; extra arguments (--root) come first.
func checkServices(t *testing.T, bin string, extra []string, services ...string) map[string]check.Result {
	t.Helper()
	var rep check.Report
	args := append(append([]string{"check", "--env", "kind"}, extra...), services...)
	code, _ := runJSON(t, bin, &rep, args...)
	out := map[string]check.Result{}
	for _, r := range rep.Results {
		out[r.Service] = r
	}
	if len(out) != len(services) {
		t.Fatalf("statex check %v: exit %d, results for %d of %d services", services, code, len(out), len(services))
	}
	return out
}

// failedSteps is every failing step of a result, name and error.
func failedSteps(r check.Result) string {
	var out []string
	for _, st := range r.Steps {
		if st.Verdict == check.Fail {
			out = append(out, fmt.Sprintf("%q: %s", st.Name, st.Error))
		}
	}
	return strings.Join(out, "; ")
}

// passesAgain retries a check a few times after a repair: policy agents,
// service discovery and scrapes take seconds to follow it.
func passesAgain(t *testing.T, bin string, service string, tries int, pause time.Duration) {
	t.Helper()
	var r check.Result
	for i := range tries {
		if i > 0 {
			time.Sleep(pause)
		}
		if r = checkServices(t, bin, nil, service)[service]; r.Verdict == check.Pass {
			return
		}
	}
	t.Errorf("%s after the repair: %s: %s", service, r.Verdict, failedSteps(r))
}

func TestChecksFailOnBrokenServices(t *testing.T) {
	if os.Getenv("STATEX_E2E") != "1" {
		t.Skip("e2e needs a kind cluster: set STATEX_E2E=1 (tests/run e2e)")
	}
	bin := statex(t)
	cs := kubeClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	// A mutation proves something only from a passing start.
	for svc, r := range checkServices(t, bin, nil, "networkpolicy", "redis", "prometheus") {
		if r.Verdict != check.Pass {
			t.Fatalf("before breaking anything: %s %s: %s (needs the platform TestDeployPlatform deploys)", svc, r.Verdict, failedSteps(r))
		}
	}

	t.Run("networkpolicy FAILs while PostgreSQL and Redis admit every pod", func(t *testing.T) {
		var created []string
		del := func() {
			for _, name := range created {
				if err := cs.NetworkingV1().NetworkPolicies(platformNS).Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
					t.Errorf("delete %s: %v", name, err)
				}
			}
		}
		t.Cleanup(del)
		for _, svc := range []string{"postgres", "redis"} {
			// One rule with no peers and no ports: every source, every port.
			np := &networkingv1.NetworkPolicy{
				ObjectMeta: metav1.ObjectMeta{Name: "e2e-admit-all-" + svc, Namespace: platformNS},
				Spec: networkingv1.NetworkPolicySpec{
					PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": svc, "app.kubernetes.io/instance": svc}},
					PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
					Ingress:     []networkingv1.NetworkPolicyIngressRule{{}},
				},
			}
			if _, err := cs.NetworkingV1().NetworkPolicies(platformNS).Create(ctx, np, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			created = append(created, np.Name)
		}
		r := checkServices(t, bin, nil, "networkpolicy")["networkpolicy"]
		failed := failedSteps(r)
		if r.Verdict != check.Fail || !strings.Contains(failed, "PostgreSQL (postgres:5432) open") || !strings.Contains(failed, "Redis (redis-headless:6379) open") {
			t.Fatalf("with PostgreSQL and Redis open to all: %s, failing steps: %s; want FAIL naming both", r.Verdict, failed)
		}
		if strings.Contains(failed, "RabbitMQ") || strings.Contains(failed, "allowed client") {
			t.Errorf("more failed than was broken: %s", failed)
		}
		del()
		created = nil
		passesAgain(t, bin, "networkpolicy", 3, 10*time.Second)
	})

	t.Run("a finished backup Job's pod is no Redis server", func(t *testing.T) {
		started := time.Now().Add(-time.Minute)
		pod := runBackupJob(t, ctx, cs, "redis-backup")
		if pod.Labels["app.kubernetes.io/name"] != "redis" {
			t.Fatalf("backup pod %s has labels %v: not the case this proves", pod.Name, pod.Labels)
		}
		// The backup reached the other site, as the job's own user.
		if pod.Status.Phase != corev1.PodSucceeded {
			t.Errorf("backup pod %s: %s, want Succeeded", pod.Name, pod.Status.Phase)
		}
		assertOffsiteBackup(t, ctx, "redis/", started)
		for svc, r := range checkServices(t, bin, nil, "redis", "networkpolicy") {
			if r.Verdict != check.Pass {
				t.Errorf("%s with finished pod %s (%s) present: %s: %s", svc, pod.Name, pod.Status.Phase, r.Verdict, failedSteps(r))
			}
		}
	})

	t.Run("prometheus FAILs while a target the manifests expect is missing", func(t *testing.T) {
		sts := cs.AppsV1().StatefulSets(platformNS)
		scale, err := sts.GetScale(ctx, "jaeger", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := scale.Spec.Replicas
		setReplicas := func(n int32) {
			s, err := sts.GetScale(context.Background(), "jaeger", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			s.Spec.Replicas = n
			if _, err := sts.UpdateScale(context.Background(), "jaeger", s, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		t.Cleanup(func() { setReplicas(want) })
		setReplicas(0)
		// Discovery drops the target once the pod is gone.
		var r check.Result
		for range 10 {
			if r = checkServices(t, bin, nil, "prometheus")["prometheus"]; r.Verdict == check.Fail {
				break
			}
			time.Sleep(6 * time.Second)
		}
		if failed := failedSteps(r); r.Verdict != check.Fail || !strings.Contains(failed, "jaeger") || !strings.Contains(failed, "missing") {
			t.Fatalf("Jaeger scaled to 0: %s, failing steps: %s; want FAIL naming the missing jaeger target", r.Verdict, failed)
		}
		setReplicas(want)
		waitReady(t, ctx, cs, "jaeger", want)
		// The new pod's target is scraped within one interval (30 s).
		passesAgain(t, bin, "prometheus", 4, 15*time.Second)
	})

	t.Run("an unpullable image FAILs where the environment does not allow it", func(t *testing.T) {
		if r := checkServices(t, bin, nil, "elasticsearch")["elasticsearch"]; r.Verdict != check.Skipped {
			t.Skipf("elasticsearch is %s here (its image can be pulled?): nothing unavailable to judge", r.Verdict)
		}
		// The same cluster judged by an environments file that allows no
		// image to be unavailable.
		root := copyManifests(t, func(overlay string) {
			dropUnavailableImages(t, filepath.Join(overlay, "..", "..", "environments.yaml"))
		})
		for svc, r := range checkServices(t, bin, []string{"--root", root}, "elasticsearch", "grafana", "loki") {
			failed := failedSteps(r)
			if r.Verdict != check.Fail || !strings.Contains(failed, "does not list") || !strings.Contains(failed, "cannot pull") {
				t.Errorf("%s without the allowance: %s (%s), failing steps: %s; want FAIL naming the image", svc, r.Verdict, r.Reason, failed)
			}
		}
	})
}

// assertOffsiteBackup finds an object under prefix, newer than since, in
// the kind environment's backup site (read as the site's root, through the
// port it publishes here).
func assertOffsiteBackup(t *testing.T, ctx context.Context, prefix string, since time.Time) {
	t.Helper()
	tgt := kindTarget(t)
	if tgt.Backup == nil || tgt.Backup.Offsite == nil {
		t.Fatal("the kind environment declares no backup site of the pipeline's")
	}
	mc, err := tgt.Backup.Offsite.RootClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for o := range mc.ListObjects(ctx, tgt.Backup.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			t.Fatalf("list %s%s at %s: %v", tgt.Backup.Bucket, prefix, tgt.Backup.Offsite.Container, o.Err)
		}
		if o.LastModified.After(since) {
			found = append(found, o.Key)
		}
	}
	if len(found) == 0 {
		t.Errorf("no backup under %s%s newer than %s at %s", tgt.Backup.Bucket, prefix, since.Format(time.RFC3339), tgt.Backup.Offsite.Container)
	}
}

// runBackupJob starts a Job from a CronJob's template (what the schedule
// would do) and returns its pod once it finished; the Job is deleted at
// the end of the test.
func runBackupJob(t *testing.T, ctx context.Context, cs kubernetes.Interface, cronJob string) corev1.Pod {
	t.Helper()
	cj, err := cs.BatchV1().CronJobs(platformNS).Get(ctx, cronJob, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("e2e-%s-%d", cronJob, time.Now().Unix()), Namespace: platformNS,
			Labels: cj.Spec.JobTemplate.Labels, Annotations: cj.Spec.JobTemplate.Annotations},
		Spec: cj.Spec.JobTemplate.Spec,
	}
	if _, err := cs.BatchV1().Jobs(platformNS).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		bg := metav1.DeletePropagationBackground
		_ = cs.BatchV1().Jobs(platformNS).Delete(context.Background(), job.Name, metav1.DeleteOptions{PropagationPolicy: &bg})
	})
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		pods, err := cs.CoreV1().Pods(platformNS).List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + job.Name})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
				t.Logf("backup pod %s: %s", p.Name, p.Status.Phase)
				return p
			}
		}
		time.Sleep(3 * time.Second)
	}
	t.Fatalf("job %s: no pod finished in 5 min", job.Name)
	return corev1.Pod{}
}

func waitReady(t *testing.T, ctx context.Context, cs kubernetes.Interface, statefulSet string, want int32) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		s, err := cs.AppsV1().StatefulSets(platformNS).Get(ctx, statefulSet, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if s.Status.ReadyReplicas == want && s.Status.ObservedGeneration >= s.Generation {
			return
		}
		time.Sleep(3 * time.Second)
	}
	t.Fatalf("%s: not %d ready in 5 min", statefulSet, want)
}

// dropUnavailableImages removes every environment's unavailableImages list
// from an environments file.
func dropUnavailableImages(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	dropping, dropped := false, false
	for _, l := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(l) == "unavailableImages:" {
			dropping, dropped = true, true
			continue
		}
		if dropping && strings.HasPrefix(strings.TrimSpace(l), "- ") {
			continue
		}
		dropping = false
		out = append(out, l)
	}
	if !dropped {
		t.Fatalf("%s: no unavailableImages list to drop", path)
	}
	if err := os.WriteFile(path, []byte(strings.Join(out, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
}

// kindTarget is the kind environment, resolved as the CLI resolves it.
func kindTarget(t *testing.T) *target.Target {
	t.Helper()
	repo, err := target.Open(repoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	tgt, err := repo.Resolve("kind", target.Kubectl{})
	if err != nil {
		t.Fatal(err)
	}
	return tgt
}
