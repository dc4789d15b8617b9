package check

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/statex/infrastructure/pipelines/internal/testrepo"
	"github.com/statex/infrastructure/pipelines/kube"
	"github.com/statex/infrastructure/pipelines/manifest"
)

func isProject(image string) bool { return strings.HasPrefix(image, "statex/") }

func waitingPod(name, image, reason string) corev1.Pod {
	return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.PodStatus{Phase: corev1.PodPending,
		ContainerStatuses: []corev1.ContainerStatus{{Image: image, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}}}}}
}

func runningPod(name, image string) corev1.Pod {
	return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.PodStatus{Phase: corev1.PodRunning,
		ContainerStatuses: []corev1.ContainerStatus{{Image: image, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}}
}

// imageOf is the image a service's workload runs in an environment's
// rendered set.
func imageOf(t *testing.T, env, kind, name string) string {
	t.Helper()
	for _, w := range testrepo.OfKind(testrepo.Rendered(t, env).Objects, kind) {
		if w.Name == name {
			var wl struct {
				Spec struct {
					Template corev1.PodTemplateSpec `json:"template"`
				} `json:"spec"`
			}
			if err := json.Unmarshal(w.JSON, &wl); err != nil {
				t.Fatal(err)
			}
			return wl.Spec.Template.Spec.Containers[0].Image
		}
	}
	t.Fatalf("%s: no %s/%s", env, kind, name)
	return ""
}

// An image that cannot be pulled is SKIPPED only where the environment
// says it may be unavailable (kind lists the upstream images); the same
// pods FAIL the check on staging, and a project image or an unlisted one
// FAILs it everywhere.
func TestUnpullableImagesSkipOnlyWhereTheEnvironmentAllows(t *testing.T) {
	es := imageOf(t, "kind", "StatefulSet", "elasticsearch")
	blocked := []corev1.Pod{waitingPod("elasticsearch-0", es, "ImagePullBackOff"), waitingPod("elasticsearch-1", es, "ErrImagePull"), waitingPod("elasticsearch-2", es, "ImagePullBackOff")}

	kind := testrepo.Env(t, "kind")
	v := judgePulls("kind", blocked, isProject, kind.MayBeUnavailable)
	if len(v.fail) > 0 || !strings.Contains(v.skip, "not buildable offline") || !strings.Contains(v.skip, es) {
		t.Errorf("kind: %+v, want SKIPPED naming %s", v, es)
	}
	for _, name := range []string{"staging", "prod", "preview"} {
		env := testrepo.Env(t, name)
		v := judgePulls(name, blocked, isProject, env.MayBeUnavailable)
		if v.skip != "" || len(v.fail) != 3 || !strings.Contains(v.fail[0], es) || !strings.Contains(v.fail[0], "environment "+name+" does not list") {
			t.Errorf("%s: %+v, want 3 failures naming %s and the environment", name, v, es)
		}
	}
	// No allowance at all (the default when Options leave it unset).
	if v := judgePulls("x", blocked, isProject, func(string) bool { return false }); v.skip != "" || len(v.fail) == 0 {
		t.Errorf("no allowance: %+v", v)
	}

	redis := imageOf(t, "kind", "StatefulSet", "redis")
	v = judgePulls("kind", []corev1.Pod{waitingPod("redis-0", redis, "ImagePullBackOff"), runningPod("redis-1", redis)}, isProject, kind.MayBeUnavailable)
	if v.skip != "" || len(v.fail) != 1 || !strings.Contains(v.fail[0], "project image is never excused") {
		t.Errorf("project image on kind: %+v, want FAIL", v)
	}
	v = judgePulls("kind", []corev1.Pod{waitingPod("x-0", "quay.io/other/thing:1.0", "ErrImagePull")}, isProject, kind.MayBeUnavailable)
	if v.skip != "" || len(v.fail) != 1 || !strings.Contains(v.fail[0], "quay.io/other/thing") {
		t.Errorf("unlisted external image on kind: %+v, want FAIL", v)
	}
	// Some pods serve: the check runs (and judges them), nothing is excused.
	v = judgePulls("kind", []corev1.Pod{blocked[0], runningPod("elasticsearch-1", es)}, isProject, kind.MayBeUnavailable)
	if v.skip != "" || len(v.fail) != 0 {
		t.Errorf("one of two pods running: %+v, want the check to run", v)
	}
}

// A service whose image cannot be pulled stays unavailable while a Job of
// the same service (a bootstrap re-run by a deploy) is running: Run judges
// server pods only. (The real thing: tests/e2e TestDeployPlatform, Grafana
// SKIPPED.)
func TestUnavailableIgnoresJobPods(t *testing.T) {
	grafana := imageOf(t, "kind", "Deployment", "grafana")
	job := runningPod("grafana-db-bootstrap-x", "statex/postgres:17")
	job.OwnerReferences = []metav1.OwnerReference{{Kind: "Job", Name: "grafana-db-bootstrap"}}
	pods := []corev1.Pod{waitingPod("grafana-a", grafana, "ImagePullBackOff"), job, waitingPod("grafana-b", grafana, "ImagePullBackOff")}
	kind := testrepo.Env(t, "kind")
	if v := judgePulls("kind", kube.ServerPods(pods), isProject, kind.MayBeUnavailable); !strings.Contains(v.skip, grafana) {
		t.Errorf("with a running Job pod: %+v, want the service unavailable", v)
	}
	job.OwnerReferences = nil
	pods[1] = job
	if v := judgePulls("kind", kube.ServerPods(pods), isProject, kind.MayBeUnavailable); v.skip != "" {
		t.Errorf("with a serving pod: %+v, want available", v)
	}
}

// The mail check covers Postfix, Dovecot and Postfixadmin: an image one of
// them cannot pull fails it before it runs.
func TestPullFailuresReachTheCheckOfTheirPods(t *testing.T) {
	pulls := map[string]pullVerdict{"dovecot": {fail: []string{"pod dovecot-0 cannot pull statex/dovecot:2"}}, "loki": {skip: "image not buildable offline"}}
	var mail, loki, network Check
	for _, c := range Checks {
		switch c.Service {
		case "mail":
			mail = c
		case "loki":
			loki = c
		case "networkpolicy":
			network = c
		}
	}
	if got := pullFailures(mail, pulls); len(got) != 1 {
		t.Errorf("mail: %v, want the Dovecot failure", got)
	}
	if got := skipReason(loki, pulls); got == "" {
		t.Error("loki: not skipped")
	}
	if got := pullFailures(network, pulls); len(got) != 0 || skipReason(network, pulls) != "" {
		t.Errorf("networkpolicy has no pods of its own: %v", got)
	}
}

// Every repository kind may run without is one its rendered set uses and
// none is a project image: a stale entry would excuse nothing, a project
// one would hide a build that did not happen.
func TestKindUnavailableImagesAreUpstreamImagesOfTheSet(t *testing.T) {
	var used []string
	for _, kind := range []string{"StatefulSet", "Deployment", "Job", "CronJob"} {
		for _, o := range testrepo.OfKind(testrepo.Rendered(t, "kind").Objects, kind) {
			for _, img := range imagesIn(o.JSON) {
				used = append(used, manifest.ImageRepository(img))
			}
		}
	}
	for _, repo := range testrepo.Env(t, "kind").UnavailableImages {
		if isProject(repo + ":x") {
			t.Errorf("%s: a project image listed as unavailable", repo)
		}
		if !slices.Contains(used, repo) {
			t.Errorf("%s: listed under kind's unavailableImages but no workload uses it", repo)
		}
	}
}

// imagesIn finds every "image" value in an object's JSON.
func imagesIn(doc []byte) []string {
	var out []string
	for _, part := range strings.Split(string(doc), `"image":"`)[1:] {
		out = append(out, part[:strings.IndexByte(part, '"')])
	}
	return out
}
