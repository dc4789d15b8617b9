package deploy

// The deploy engine against a real kube-apiserver and etcd (envtest, from
// the project's own kind images: see pipelines/internal/envtest). Every case
// asserts what is on the API server afterwards, not only what the Result
// says. Run them alone with: go test -run Envtest -v ./pipelines/deploy/

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/statex/infrastructure/pipelines/manifest"
)

// Stages are applied in order, each waited for before the next: when the
// postgres stage waits, its foundation (ConfigMap, generated Secret) is
// there and the data stage's Deployment is not yet. A service signal runs
// in a ready pod of its service. A second deploy of the same set writes
// nothing and keeps the generated secret's value.
func TestEnvtestStagesApplyInOrderAndWaitForReadiness(t *testing.T) {
	f := newFixture(t, "staged")
	objs := set(t,
		deploymentObj(f.ns, "minio", "statex/minio:1", podsReady), // data stage, listed first on purpose
		statefulSetObj(f.ns, "postgres", okImage, podsReady),
		namespaceObj(f.ns),
		configMapObj(f.ns, "postgres-config", "v1"),
		serviceObj(f.ns, "minio"),
	)
	var seenAtPostgres []string
	f.hook = func(ev Event) {
		if ev.Stage != "postgres" || len(ev.Workloads) == 0 || seenAtPostgres != nil {
			return
		}
		seenAtPostgres = []string{}
		if f.get(&corev1.ConfigMap{}, "postgres-config") {
			seenAtPostgres = append(seenAtPostgres, "configmap")
		}
		if f.get(&corev1.Secret{}, "postgres-credentials") {
			seenAtPostgres = append(seenAtPostgres, "secret")
		}
		if f.get(&appsv1.Deployment{}, "minio") {
			seenAtPostgres = append(seenAtPostgres, "minio")
		}
	}
	var execs []string
	opts := f.options(objs)
	opts.Target.Secrets.Generated = []manifest.GeneratedSecret{{Name: "postgres-credentials", Keys: []string{"password"}}}
	opts.RuntimeConfigMaps = map[string]map[string]string{"backup-ca": {"ca.crt": "first CA"}}
	opts.Signals = []Signal{{Service: "postgres", Name: "leader elected", Container: "postgres",
		Command: []string{"patronictl", "list"},
		Check: func(out string, desired int) error {
			if out != "leader" || desired != 1 {
				return errors.New("no leader")
			}
			return nil
		}}}
	opts.Exec = func(_ context.Context, ns, pod, container string, cmd []string) (string, error) {
		execs = append(execs, ns+"/"+pod+"/"+container+": "+strings.Join(cmd, " "))
		return "leader", nil
	}

	res := f.mustDeploy(opts)
	if got := stageStatuses(res); got != "foundation=ready postgres=ready data=ready" {
		t.Errorf("stages: %s", got)
	}
	if got := strings.Join(seenAtPostgres, ","); got != "configmap,secret" {
		t.Errorf("while the postgres stage waited the API server had %q, want configmap,secret (and not the data stage's minio)", got)
	}
	if res.Revision != 1 || res.Previous != 0 || res.Count("created") != 5 {
		t.Errorf("revision %d previous %d created %d, want 1, 0, 5", res.Revision, res.Previous, res.Count("created"))
	}
	if want := []string{f.ns + "/postgres-0/postgres: patronictl list"}; !slices.Equal(execs, want) {
		t.Errorf("signal exec calls %q, want %q", execs, want)
	}
	if sig := res.Stages[1].Signals; len(sig) != 1 || sig[0].Status != "passed" {
		t.Errorf("postgres signals: %+v", sig)
	}
	for _, w := range res.Stages[1].Workloads {
		if w.Object != f.ref("StatefulSet", "postgres") || w.Status != "ready" || w.Ready != 1 || w.Desired != 1 {
			t.Errorf("postgres workload: %+v", w)
		}
	}
	secret := &corev1.Secret{}
	if !f.get(secret, "postgres-credentials") || len(secret.Data["password"]) < 32 {
		t.Fatalf("generated secret: %v", secret.Data)
	}
	password := string(secret.Data["password"])

	again := f.mustDeploy(opts)
	if !again.Unchanged || again.Revision != 2 || again.Previous != 1 || again.Count("unchanged") != 5 {
		t.Errorf("second deploy: unchanged %v revision %d previous %d unchanged objects %d; want true, 2, 1, 5 (actions %v)",
			again.Unchanged, again.Revision, again.Previous, again.Count("unchanged"), actions(again))
	}
	if !f.get(secret, "postgres-credentials") || string(secret.Data["password"]) != password {
		t.Error("second deploy changed the generated secret's value")
	}

	// A runtime ConfigMap is there from the first deploy, and follows a
	// change (a site's CA made again).
	ca := &corev1.ConfigMap{}
	if !f.get(ca, "backup-ca") || ca.Data["ca.crt"] != "first CA" || ca.Labels[ManagedByLabel] != "statex" {
		t.Fatalf("runtime configmap after deploy: %v %v", ca.Data, ca.Labels)
	}
	opts.RuntimeConfigMaps["backup-ca"] = map[string]string{"ca.crt": "second CA"}
	f.mustDeploy(opts)
	if !f.get(ca, "backup-ca") || ca.Data["ca.crt"] != "second CA" {
		t.Errorf("runtime configmap after a change: %v", ca.Data)
	}
}

// A signal that never passes fails its stage like an unready workload: the
// later stages are skipped and nothing of them reaches the API server.
func TestEnvtestFailingSignalFailsTheStage(t *testing.T) {
	f := newFixture(t, "signal")
	opts := f.options(set(t, namespaceObj(f.ns),
		statefulSetObj(f.ns, "postgres", okImage, podsReady),
		deploymentObj(f.ns, "minio", "statex/minio:1", podsReady)))
	opts.StageTimeout = 2 * time.Second
	checks := 0
	opts.Signals = []Signal{{Service: "postgres", Name: "leader elected", Container: "postgres", Command: []string{"true"},
		Check: func(string, int) error { checks++; return errors.New("no leader") }}}
	opts.Exec = func(context.Context, string, string, string, []string) (string, error) { return "", nil }

	res, err := f.deploy(opts)
	if err == nil || !strings.Contains(err.Error(), "stage postgres failed: postgres: leader elected") {
		t.Fatalf("err %v, want the postgres stage failed on its signal", err)
	}
	if got := stageStatuses(res); got != "foundation=ready postgres=failed data=skipped" {
		t.Errorf("stages: %s", got)
	}
	// The detail is the judgement, even when the deadline cut the last
	// attempt short.
	if sig := res.Stages[1].Signals; len(sig) != 1 || sig[0].Status != "failed" || !strings.Contains(sig[0].Detail, "not healthy after 2s: no leader") || checks == 0 {
		t.Errorf("signals: %+v after %d judgements, want failed", sig, checks)
	}
	if f.get(&appsv1.Deployment{}, "minio") {
		t.Error("the data stage was applied after the postgres stage failed")
	}
	if res.Status != ReleaseFailed || res.Rollback != nil {
		t.Errorf("status %s rollback %+v: a first release has nothing to roll back to", res.Status, res.Rollback)
	}
}

// A stage whose workload never becomes ready fails after its timeout and
// everything the deploy changed goes back to the last successful release:
// the configured ConfigMap and StatefulSet get their old content, the
// created ConfigMap is deleted, the created PVC kept (data), the
// StatefulSet pod stuck on the failed revision is deleted so the old
// template runs again, and the later stage is never touched. The failed
// release is recorded with its failure.
func TestEnvtestFailedStageRollsBackToPreviousRelease(t *testing.T) {
	f := newFixture(t, "rollback")
	good := f.options(set(t, namespaceObj(f.ns),
		configMapObj(f.ns, "postgres-config", "v1"),
		statefulSetObj(f.ns, "postgres", okImage, podsReady),
		deploymentObj(f.ns, "minio", "statex/minio:1", podsReady)))
	f.mustDeploy(good)
	sts := &appsv1.StatefulSet{}
	f.get(sts, "postgres")
	stsUID := sts.UID

	bad := f.options(set(t, namespaceObj(f.ns),
		configMapObj(f.ns, "postgres-config", "v2"),
		configMapObj(f.ns, "postgres-extra", "v2"),
		pvcObj(f.ns, "postgres-wal"),
		statefulSetObj(f.ns, "postgres", brokenImage, podsUnready),
		deploymentObj(f.ns, "minio", "statex/minio:2", podsReady)))
	bad.StageTimeout = 2 * time.Second
	// The pod as rollback starts: the failed revision's, never ready.
	var stuckPod string
	f.hook = func(ev Event) {
		if ev.Stage == "rollback" && stuckPod == "" {
			p := &corev1.Pod{}
			if f.get(p, "postgres-0") {
				stuckPod = p.Spec.Containers[0].Image
			}
		}
	}
	start := time.Now()
	res, err := f.deploy(bad)
	if err == nil || !strings.Contains(err.Error(), "stage postgres failed: not ready after 2s") {
		t.Fatalf("err %v, want the postgres stage not ready after 2s", err)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("failed deploy took %s with a 2 s stage timeout", took)
	}
	if res.Status != "rolled-back" || res.Rollback == nil || !res.Rollback.Ready || res.Rollback.To != 1 || res.Rollback.Error != "" {
		t.Fatalf("status %s rollback %+v, want rolled-back to 1 and ready", res.Status, res.Rollback)
	}
	if got := stageStatuses(res); got != "foundation=ready postgres=failed data=skipped" {
		t.Errorf("stages: %s", got)
	}
	if res.Failure == nil || res.Failure.Stage != "postgres" || !slices.Equal(res.Failure.Objects, []string{f.ref("StatefulSet", "postgres")}) {
		t.Errorf("failure: %+v", res.Failure)
	}
	wantRestored := []string{f.ref("ConfigMap", "postgres-config"), f.ref("StatefulSet", "postgres")}
	if got := slices.Sorted(slices.Values(res.Rollback.Restored)); !slices.Equal(got, wantRestored) {
		t.Errorf("restored %v, want %v", got, wantRestored)
	}
	if !slices.Equal(res.Rollback.Deleted, []string{f.ref("ConfigMap", "postgres-extra")}) {
		t.Errorf("deleted %v, want only the created ConfigMap", res.Rollback.Deleted)
	}
	if stuckPod != brokenImage {
		t.Fatalf("the failed revision's pod ran %q, want %q (the test's kubelet did not play its part)", stuckPod, brokenImage)
	}

	// What the API server holds now.
	cm := &corev1.ConfigMap{}
	if !f.get(cm, "postgres-config") || cm.Data["version"] != "v1" {
		t.Errorf("postgres-config = %v, want version v1 restored", cm.Data)
	}
	if f.get(&corev1.ConfigMap{}, "postgres-extra") {
		t.Error("postgres-extra, created by the failed deploy, still exists")
	}
	pvc := &corev1.PersistentVolumeClaim{}
	if !f.get(pvc, "postgres-wal") || pvc.DeletionTimestamp != nil {
		t.Error("the PVC the failed deploy created was deleted: rollback must keep data")
	}
	if !f.get(sts, "postgres") || sts.UID != stsUID || sts.Spec.Template.Spec.Containers[0].Image != okImage ||
		sts.Spec.Template.Annotations[behaviourAnnotation] != podsReady {
		t.Errorf("StatefulSet after rollback: uid %s (was %s), image %s, want the same object with %s",
			sts.UID, stsUID, sts.Spec.Template.Spec.Containers[0].Image, okImage)
	}
	pod := &corev1.Pod{}
	if !f.get(pod, "postgres-0") || pod.Spec.Containers[0].Image != okImage || !podReady(pod) {
		t.Errorf("postgres-0 after rollback runs %s (ready %v), want the restored %s ready: the stuck pod was not restarted",
			pod.Spec.Containers[0].Image, podReady(pod), okImage)
	}
	minio := &appsv1.Deployment{}
	if !f.get(minio, "minio") || minio.Spec.Template.Spec.Containers[0].Image != "statex/minio:1" {
		t.Errorf("minio runs %s: the skipped stage was applied", minio.Spec.Template.Spec.Containers[0].Image)
	}

	h, err := LoadHistory(context.Background(), f.cs, f.ns, testEnvName)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Releases) != 2 || h.Releases[1].Status != ReleaseFailed || h.Releases[1].Failure == nil ||
		h.Releases[1].Failure.Stage != "postgres" || h.LastSucceeded().Revision != 1 {
		t.Errorf("history: %d releases, last %+v", len(h.Releases), h.Releases[len(h.Releases)-1])
	}

	// The next good deploy starts from revision 1's objects and succeeds.
	if res := f.mustDeploy(good); res.Revision != 3 || res.Previous != 1 {
		t.Errorf("after the rollback: revision %d previous %d, want 3 and 1", res.Revision, res.Previous)
	}
}

// Objects of the last release that left the set are deleted from the API
// server; PVCs and Namespaces that left are kept and reported; an object
// already deleted by hand is not reported.
func TestEnvtestPruneDeletesWhatLeftTheInventoryButKeepsData(t *testing.T) {
	f := newFixture(t, "prune")
	extraNS := f.ns + "-extra"
	f.mustDeploy(f.options(set(t, namespaceObj(f.ns), namespaceObj(extraNS),
		configMapObj(f.ns, "minio-config", "v1"),
		configMapObj(f.ns, "minio-old", "v1"),
		configMapObj(f.ns, "minio-gone", "v1"),
		pvcObj(f.ns, "minio-data"),
		serviceObj(f.ns, "minio"),
		deploymentObj(f.ns, "minio", "statex/minio:1", podsReady))))
	if err := f.c.Delete(context.Background(), configMapObj(f.ns, "minio-gone", "")); err != nil {
		t.Fatal(err)
	}

	res := f.mustDeploy(f.options(set(t, namespaceObj(f.ns), configMapObj(f.ns, "minio-config", "v1"))))
	wantPruned := []string{f.ref("ConfigMap", "minio-old"), f.ref("Deployment", "minio"), f.ref("Service", "minio")}
	if got := refs(res.Pruned); !slices.Equal(got, wantPruned) {
		t.Errorf("pruned %v, want %v", got, wantPruned)
	}
	wantKept := []string{"Namespace/" + extraNS, f.ref("PersistentVolumeClaim", "minio-data")}
	if got := refs(res.Kept); !slices.Equal(got, wantKept) {
		t.Errorf("kept %v, want %v", got, wantKept)
	}
	if f.get(&corev1.ConfigMap{}, "minio-old") || f.get(&appsv1.Deployment{}, "minio") || f.get(&corev1.Service{}, "minio") {
		t.Error("a pruned object is still on the API server")
	}
	if !f.get(&corev1.ConfigMap{}, "minio-config") {
		t.Error("minio-config, still in the set, is gone")
	}
	pvc := &corev1.PersistentVolumeClaim{}
	if !f.get(pvc, "minio-data") || pvc.DeletionTimestamp != nil {
		t.Error("the PVC that left the set was deleted")
	}
	ns := &corev1.Namespace{}
	if !f.cluster(ns, extraNS) || ns.DeletionTimestamp != nil {
		t.Error("the Namespace that left the set was deleted")
	}
	// Pruned objects are out of the inventory: the next deploy prunes nothing.
	if again := f.mustDeploy(f.options(set(t, namespaceObj(f.ns), configMapObj(f.ns, "minio-config", "v1")))); len(again.Pruned) != 0 {
		t.Errorf("second prune: %v", refs(again.Pruned))
	}
}

// Every deploy is one release Secret in the namespace, readable back with
// the exact objects applied; History trims the oldest.
func TestEnvtestReleaseHistoryIsRecordedAndTrimmed(t *testing.T) {
	f := newFixture(t, "history")
	var hashes []string
	for i, v := range []string{"v1", "v2", "v3"} {
		opts := f.options(set(t, namespaceObj(f.ns), configMapObj(f.ns, "postgres-config", v)))
		opts.History = 2
		res := f.mustDeploy(opts)
		if res.Revision != i+1 || res.Previous != i {
			t.Errorf("deploy %d: revision %d previous %d", i+1, res.Revision, res.Previous)
		}
		hashes = append(hashes, opts.Rendered.Hash)
	}
	secrets, err := f.cs.CoreV1().Secrets(f.ns).List(context.Background(), metav1.ListOptions{LabelSelector: releaseLabel + "=" + testEnvName})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range secrets.Items {
		names = append(names, s.Name)
		if s.Type != releaseType || s.Labels[statusLabel] != ReleaseSucceeded || s.Labels[ManagedByLabel] != "statex" {
			t.Errorf("%s: type %s labels %v", s.Name, s.Type, s.Labels)
		}
	}
	slices.Sort(names)
	if want := []string{"statex-release.envtest.v2", "statex-release.envtest.v3"}; !slices.Equal(names, want) {
		t.Errorf("release records %v, want %v", names, want)
	}
	h, err := LoadHistory(context.Background(), f.cs, f.ns, testEnvName)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Releases) != 2 {
		t.Fatalf("history has %d releases, want 2", len(h.Releases))
	}
	for i, r := range h.Releases {
		if r.Revision != i+2 || r.Hash != hashes[i+1] || r.Env != testEnvName || r.Status != ReleaseSucceeded {
			t.Errorf("release %d: revision %d hash %s env %s status %s", i, r.Revision, r.Hash, r.Env, r.Status)
		}
		var got []string
		for _, o := range r.Objects {
			got = append(got, o.Ref)
		}
		if want := []string{"Namespace/" + f.ns, f.ref("ConfigMap", "postgres-config")}; !slices.Equal(got, want) {
			t.Errorf("release %d objects %v, want %v", r.Revision, got, want)
		}
	}
	if raw, ok := h.LastSucceeded().Find(f.ref("ConfigMap", "postgres-config")); !ok || !strings.Contains(string(raw), `"version":"v3"`) {
		t.Errorf("last release's ConfigMap: %s", raw)
	}
}

// A Job whose template changed is deleted and created again (templates are
// immutable); any other immutable change fails without Force and is
// replaced with it.
func TestEnvtestChangedJobIsReplaced(t *testing.T) {
	f := newFixture(t, "job")
	first := f.mustDeploy(f.options(set(t, namespaceObj(f.ns), jobObj(f.ns, "mail-ops-bootstrap", "mail-ops", "--revision=1"))))
	if got := stageStatuses(first); got != "foundation=ready mail-bootstrap=ready" {
		t.Errorf("stages: %s", got)
	}
	job := &batchv1.Job{}
	f.get(job, "mail-ops-bootstrap")
	oldUID := job.UID

	res := f.mustDeploy(f.options(set(t, namespaceObj(f.ns), jobObj(f.ns, "mail-ops-bootstrap", "mail-ops", "--revision=2"))))
	if got := actions(res)[f.ref("Job", "mail-ops-bootstrap")]; got != "created" {
		t.Errorf("Job action %q, want created (replaced)", got)
	}
	if !f.get(job, "mail-ops-bootstrap") || job.UID == oldUID || !slices.Equal(job.Spec.Template.Spec.Containers[0].Args, []string{"--revision=2"}) {
		t.Errorf("Job after deploy: uid %s (old %s) args %v, want a new Job with --revision=2", job.UID, oldUID, job.Spec.Template.Spec.Containers[0].Args)
	}

	// A Deployment's selector is immutable too, but not replaced unasked.
	withSelector := func(track string) *appsv1.Deployment {
		d := deploymentObj(f.ns, "minio", "statex/minio:1", podsReady)
		d.Spec.Selector.MatchLabels["track"] = track
		d.Spec.Template.Labels["track"] = track
		return d
	}
	f.mustDeploy(f.options(set(t, namespaceObj(f.ns), withSelector("a"))))
	d := &appsv1.Deployment{}
	f.get(d, "minio")
	depUID := d.UID
	changed := f.options(set(t, namespaceObj(f.ns), withSelector("b")))
	res, err := f.deploy(changed)
	if err == nil || !strings.Contains(err.Error(), "Deployment/"+f.ns+"/minio") || !strings.Contains(err.Error(), "immutable") || res.Status != ReleaseFailed {
		t.Fatalf("immutable selector without Force: status %s err %v, want a failure naming the Deployment", res.Status, err)
	}
	if !f.get(d, "minio") || d.UID != depUID || d.Spec.Selector.MatchLabels["track"] != "a" {
		t.Errorf("the Deployment was replaced without Force")
	}
	changed.Force = true
	f.mustDeploy(changed)
	if !f.get(d, "minio") || d.UID == depUID || d.Spec.Selector.MatchLabels["track"] != "b" {
		t.Errorf("with Force the Deployment was not replaced: uid %s selector %v", d.UID, d.Spec.Selector.MatchLabels)
	}
}

// A dry run reports what a deploy would do — created, configured with a
// diff, unchanged, pruned, secrets to create — and writes nothing: not
// into a namespace that does not exist yet, not into one that does. (An
// unreachable API server is an error, never "planned":
// TestDeployStopsOnUnreachableAPIServer, no control plane needed.)
func TestEnvtestDryRunPlansWithoutWriting(t *testing.T) {
	f := newFixture(t, "dryrun")
	v1 := set(t, namespaceObj(f.ns),
		configMapObj(f.ns, "minio-config", "v1"),
		configMapObj(f.ns, "minio-old", "v1"),
		deploymentObj(f.ns, "minio", "statex/minio:1", podsReady))

	plan := f.options(v1)
	plan.DryRun = true
	plan.Target.Secrets.Generated = []manifest.GeneratedSecret{{Name: "minio-credentials", Keys: []string{"root-password"}}}
	res, err := f.deploy(plan)
	if err != nil || res.Status != "planned" || res.Revision != 0 || res.Count("created") != 4 {
		t.Fatalf("dry run into no namespace: status %s revision %d created %d err %v", res.Status, res.Revision, res.Count("created"), err)
	}
	if len(res.Secrets) != 1 || res.Secrets[0].Action != "create" {
		t.Errorf("secrets plan: %+v", res.Secrets)
	}
	if f.cluster(&corev1.Namespace{}, f.ns) {
		t.Fatal("the dry run created the namespace")
	}

	f.mustDeploy(f.options(v1))
	v2 := set(t, namespaceObj(f.ns),
		configMapObj(f.ns, "minio-config", "v2"),
		configMapObj(f.ns, "minio-new", "v2"),
		deploymentObj(f.ns, "minio", "statex/minio:1", podsReady))
	plan = f.options(v2)
	plan.DryRun = true
	res, err = f.deploy(plan)
	if err != nil || res.Status != "planned" {
		t.Fatalf("dry run: status %s err %v", res.Status, err)
	}
	want := map[string]string{
		"Namespace/" + f.ns:                "unchanged",
		f.ref("ConfigMap", "minio-config"): "configured",
		f.ref("ConfigMap", "minio-new"):    "created",
		f.ref("Deployment", "minio"):       "unchanged",
	}
	if got := actions(res); len(got) != len(want) {
		t.Errorf("planned %v, want %v", got, want)
	} else {
		for ref, a := range want {
			if got[ref] != a {
				t.Errorf("%s planned %q, want %q", ref, got[ref], a)
			}
		}
	}
	for _, s := range res.Stages {
		for _, c := range s.Changes {
			if c.Object == f.ref("ConfigMap", "minio-config") && !strings.Contains(c.Diff, `~ /data/version: "v2"`) {
				t.Errorf("minio-config diff:\n%s", c.Diff)
			}
		}
	}
	if got := refs(res.Pruned); !slices.Equal(got, []string{f.ref("ConfigMap", "minio-old")}) {
		t.Errorf("planned prune %v", got)
	}

	cm := &corev1.ConfigMap{}
	if !f.get(cm, "minio-config") || cm.Data["version"] != "v1" {
		t.Errorf("the dry run changed minio-config: %v", cm.Data)
	}
	if f.get(&corev1.ConfigMap{}, "minio-new") {
		t.Error("the dry run created minio-new")
	}
	if !f.get(&corev1.ConfigMap{}, "minio-old") {
		t.Error("the dry run pruned minio-old")
	}
	if h, err := LoadHistory(context.Background(), f.cs, f.ns, testEnvName); err != nil || len(h.Releases) != 1 {
		t.Errorf("the dry run recorded a release: %d releases, %v", len(h.Releases), err)
	}
}

// Pods that will not heal fail the stage at once, long before its timeout;
// an external image an environment may run without makes its workload
// "unavailable" and the deploy goes on; a project image never gets that
// allowance.
func TestEnvtestPodTroubleFailsTheStageEarly(t *testing.T) {
	for _, tc := range []struct {
		name, image, pods string
		wantStatus        string // of the workload
		wantErr           string // "" for a successful deploy
	}{
		{"crash loop", "statex/minio:1", podsCrash, "failed", "is crash-looping (5 restarts)"},
		{"project image not pullable", "statex/minio:1", podsNoPull, "failed", "image statex/minio:1 cannot be pulled"},
		{"external image not pullable", externalImage, podsNoPull, "unavailable", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "pods")
			opts := f.options(set(t, namespaceObj(f.ns), deploymentObj(f.ns, "minio", tc.image, tc.pods)))
			opts.StageTimeout = time.Minute
			// The environment tolerates both repositories: only the
			// external one may use that.
			opts.Target.Images.Unavailable = []string{manifest.ImageRepository(externalImage), "statex/minio"}
			start := time.Now()
			res, err := f.deploy(opts)
			if took := time.Since(start); took > 20*time.Second {
				t.Errorf("took %s: the pods' state should decide, not the 1 min timeout", took)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("deploy failed: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
			if len(res.Stages) == 0 {
				t.Fatalf("no stages in the result (err %v)", err)
			}
			data := res.Stages[len(res.Stages)-1]
			if data.Name != "data" || len(data.Workloads) != 1 || data.Workloads[0].Status != tc.wantStatus {
				t.Errorf("data stage: %+v, want the workload %s", data, tc.wantStatus)
			}
		})
	}
}
