package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/statex/infrastructure/pipelines/kube"
	"github.com/statex/infrastructure/pipelines/poll"
)

// Workload kinds are what a stage waits for; everything else (Services,
// PVCs bound on first consumer, ConfigMaps) is ready once applied.
var workloadKinds = []string{"Deployment", "StatefulSet", "DaemonSet", "Job"}

func isWorkload(u *unstructured.Unstructured) bool {
	return slices.Contains(workloadKinds, u.GetKind())
}

// Pod states that will not fix themselves: waiting longer only delays the
// rollback. Pull failures are judged separately (kube.PullFailing): an
// external image may be excused on an offline cluster.
var fatalWaiting = map[string]bool{
	"CreateContainerConfigError": true,
	"CreateContainerError":       true,
	"InvalidImageName":           true,
	"ErrImageNeverPull":          true,
}

// crashLoopLimit is how many restarts of a crash-looping container make the
// stage fail rather than wait: a couple of restarts are normal while a peer
// (Patroni leader, RabbitMQ seed) is still starting.
const crashLoopLimit = 4

// waiter polls a stage's workloads until every one is ready, one fails, or
// the timeout passes.
type waiter struct {
	c                client.Client
	interval         time.Duration
	timeout          time.Duration
	mayBeUnavailable func(image string) bool // external images that may fail to pull: "unavailable", not failures
	isProject        func(image string) bool
	progress         func(stage string, ws []WorkloadStatus)
}

// wait returns the last status of every workload and an error naming the
// failing ones. Unavailable workloads do not fail the stage.
func (w *waiter) wait(ctx context.Context, stage string, objs []*unstructured.Unstructured) ([]WorkloadStatus, error) {
	var workloads []*unstructured.Unstructured
	for _, u := range objs {
		if isWorkload(u) {
			workloads = append(workloads, u)
		}
	}
	if len(workloads) == 0 {
		return nil, nil
	}
	// Each observation is bounded by the stage's timeout too.
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	var last []WorkloadStatus
	var lastKey string
	errNotReady := errors.New("workloads progressing")
	err := poll.Until(ctx, w.timeout, w.interval, func() error {
		cur := make([]WorkloadStatus, len(workloads))
		done := true
		var failed []string
		for i, u := range workloads {
			cur[i] = w.observe(ctx, u)
			switch cur[i].Status {
			case "failed":
				failed = append(failed, cur[i].Object+": "+cur[i].Message)
			case "progressing":
				done = false
			}
		}
		if key := statusKey(cur); key != lastKey && w.progress != nil {
			w.progress(stage, cur)
			lastKey = key
		}
		last = cur
		if len(failed) > 0 {
			return poll.Stop(fmt.Errorf("%s", strings.Join(failed, "; ")))
		}
		if !done {
			return errNotReady
		}
		return nil
	})
	if _, ok := errors.AsType[*poll.TimeoutError](err); ok {
		var slow []string
		for _, s := range last {
			if s.Status == "progressing" {
				slow = append(slow, fmt.Sprintf("%s %d/%d ready (%s)", s.Object, s.Ready, s.Desired, s.Message))
			}
		}
		return last, fmt.Errorf("not ready after %s: %s", w.timeout, strings.Join(slow, "; "))
	}
	return last, err
}

func statusKey(ws []WorkloadStatus) string {
	var b strings.Builder
	for _, s := range ws {
		fmt.Fprintf(&b, "%s %d/%d %s|", s.Object, s.Ready, s.Desired, s.Status)
	}
	return b.String()
}

// observe reads one workload and its pods.
func (w *waiter) observe(ctx context.Context, want *unstructured.Unstructured) WorkloadStatus {
	ws := WorkloadStatus{Object: refOf(want), Service: want.GetLabels()[serviceLabel], Status: "progressing"}
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(want.GroupVersionKind())
	if err := w.c.Get(ctx, client.ObjectKeyFromObject(want), live); err != nil {
		ws.Message = "not readable: " + err.Error()
		return ws
	}
	ws.Ready, ws.Desired = readyCounts(live)
	res, err := status.Compute(live)
	if err != nil {
		ws.Message = err.Error()
		return ws
	}
	ws.Message = res.Message
	if res.Status == status.CurrentStatus {
		ws.Status = "ready"
		return ws
	}
	// kstatus never reports a StatefulSet whose pods cannot start as failed
	// (a Deployment only after its 10-minute progress deadline): the pods
	// say what will not heal, and whether it is only an image an offline
	// cluster cannot pull (which outranks a passed deadline).
	if st, msg := w.podTrouble(ctx, live); st != "" {
		ws.Status, ws.Message = st, msg
		return ws
	}
	if res.Status == status.FailedStatus {
		ws.Status = "failed"
	}
	return ws
}

// readyCounts is ready/desired for the workload kinds.
func readyCounts(u *unstructured.Unstructured) (int, int) {
	num := func(path ...string) int {
		v, _, _ := unstructured.NestedInt64(u.Object, path...)
		return int(v)
	}
	switch u.GetKind() {
	case "Deployment", "StatefulSet":
		desired := 1
		if v, ok, _ := unstructured.NestedInt64(u.Object, "spec", "replicas"); ok {
			desired = int(v)
		}
		return num("status", "readyReplicas"), desired
	case "DaemonSet":
		return num("status", "numberReady"), num("status", "desiredNumberScheduled")
	case "Job":
		desired := 1
		if v, ok, _ := unstructured.NestedInt64(u.Object, "spec", "completions"); ok {
			desired = int(v)
		}
		return num("status", "succeeded"), desired
	}
	return 0, 0
}

// podTrouble returns ("failed"|"unavailable", reason) when a pod of the
// workload is stuck in a state that waiting will not fix.
func (w *waiter) podTrouble(ctx context.Context, live *unstructured.Unstructured) (string, string) {
	sel, err := podSelector(live)
	if err != nil || sel == nil {
		return "", ""
	}
	pods := &corev1.PodList{}
	if err := w.c.List(ctx, pods, client.InNamespace(live.GetNamespace()), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return "", ""
	}
	current := templateImages(live)
	var unpullable []string
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil || !ofTemplate(&p, current) {
			continue
		}
		for _, cs := range append(slices.Clone(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...) {
			wt := cs.State.Waiting
			switch {
			case wt != nil && fatalWaiting[wt.Reason]:
				return "failed", fmt.Sprintf("pod %s container %s: %s: %s", p.Name, cs.Name, wt.Reason, wt.Message)
			case wt != nil && kube.PullFailing(wt.Reason):
				if w.mayBeUnavailable != nil && w.mayBeUnavailable(cs.Image) && !w.isProject(cs.Image) {
					unpullable = append(unpullable, cs.Image)
					continue
				}
				return "failed", fmt.Sprintf("pod %s container %s: image %s cannot be pulled: %s", p.Name, cs.Name, cs.Image, wt.Message)
			case wt != nil && wt.Reason == "CrashLoopBackOff" && cs.RestartCount >= crashLoopLimit:
				return "failed", fmt.Sprintf("pod %s container %s is crash-looping (%d restarts)", p.Name, cs.Name, cs.RestartCount)
			}
		}
	}
	if len(unpullable) > 0 {
		slices.Sort(unpullable)
		return "unavailable", "image unavailable offline: " + strings.Join(slices.Compact(unpullable), ", ")
	}
	return "", ""
}

// templateImages are the images of the workload's current pod template.
func templateImages(u *unstructured.Unstructured) map[string]bool {
	out := map[string]bool{}
	for _, field := range []string{"containers", "initContainers"} {
		list, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", field)
		for _, c := range list {
			if m, ok := c.(map[string]any); ok {
				if img, ok := m["image"].(string); ok {
					out[img] = true
				}
			}
		}
	}
	return out
}

// ofTemplate says whether a pod runs the current template's images: pods of
// an older revision (the failed one, right after a rollback) are going away
// and say nothing about the current one.
func ofTemplate(p *corev1.Pod, images map[string]bool) bool {
	if len(images) == 0 {
		return true
	}
	for _, c := range append(slices.Clone(p.Spec.InitContainers), p.Spec.Containers...) {
		if !images[c.Image] {
			return false
		}
	}
	return true
}

// podSelector is the label selector of a workload's pods.
func podSelector(u *unstructured.Unstructured) (labels.Selector, error) {
	if u.GetKind() == "Job" {
		return labels.SelectorFromSet(labels.Set{"batch.kubernetes.io/job-name": u.GetName()}), nil
	}
	raw, ok, _ := unstructured.NestedMap(u.Object, "spec", "selector")
	if !ok {
		return nil, nil
	}
	var ls metav1.LabelSelector
	if err := runtimeFromUnstructured(raw, &ls); err != nil {
		return nil, err
	}
	return metav1.LabelSelectorAsSelector(&ls)
}

func refOf(u *unstructured.Unstructured) string {
	if u.GetNamespace() == "" {
		return u.GetKind() + "/" + u.GetName()
	}
	return u.GetKind() + "/" + u.GetNamespace() + "/" + u.GetName()
}
