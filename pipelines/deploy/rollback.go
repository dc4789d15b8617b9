package deploy

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/fluxcd/pkg/ssa"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/statex/infrastructure/pipelines/kube"
)

// rollback restores what this deploy changed to the last successful release:
// objects it configured get their previous version re-applied (server-side
// apply with the same field manager also removes fields the failed version
// added); objects it created are deleted, except data-holding kinds. Then the
// restored workloads are waited for, so "rolled back" means serving again.
func (e *engine) rollback(ctx context.Context, prev *Release, applied []appliedObject, staged []stagedObjects) *Rollback {
	rb := &Rollback{To: prev.Revision}
	e.emit(Event{Stage: "rollback", Message: fmt.Sprintf("restore %d objects to revision %d", len(applied), prev.Revision)})
	var restore []*unstructured.Unstructured
	var errs []string
	for _, a := range applied {
		raw, ok := prev.Find(a.ref)
		if !ok {
			u := findStaged(staged, a.ref)
			if u == nil || slices.Contains(keepKinds, u.GetKind()) {
				continue
			}
			if _, err := e.rm.Delete(ctx, u, ssa.DefaultDeleteOptions()); err != nil {
				errs = append(errs, err.Error())
				continue
			}
			rb.Deleted = append(rb.Deleted, a.ref)
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(raw); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", a.ref, err))
			continue
		}
		restore = append(restore, u)
		rb.Restored = append(rb.Restored, a.ref)
	}
	if len(restore) > 0 {
		opts := ssa.DefaultApplyOptions()
		opts.Force = true // the previous version was valid; an immutable field may have changed since
		if _, err := e.rm.ApplyAll(ctx, restore, opts); err != nil {
			errs = append(errs, "re-apply: "+err.Error())
		}
		for _, u := range restore {
			if u.GetKind() == "StatefulSet" {
				errs = append(errs, e.restartStuckPods(ctx, u)...)
			}
		}
	}
	if len(errs) == 0 {
		if _, err := e.waiter.wait(ctx, "rollback", restore); err != nil {
			errs = append(errs, "restored workloads not ready: "+err.Error())
		}
	}
	if len(errs) > 0 {
		rb.Error = strings.Join(errs, "; ")
	} else {
		rb.Ready = true
	}
	return rb
}

// restartStuckPods deletes a restored StatefulSet's pods that are not ready:
// the StatefulSet controller never replaces a pod of the failed revision
// that cannot become ready (Kubernetes' "forced rollback"), so the previous
// template would otherwise never run. Ready pods are left alone.
func (e *engine) restartStuckPods(ctx context.Context, sts *unstructured.Unstructured) []string {
	sel, err := podSelector(sts)
	if err != nil || sel == nil {
		return nil
	}
	pods := &corev1.PodList{}
	if err := e.c.List(ctx, pods, client.InNamespace(sts.GetNamespace()), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return []string{err.Error()}
	}
	var errs []string
	for i := range pods.Items {
		p := &pods.Items[i]
		if podReady(p) || p.DeletionTimestamp != nil {
			continue
		}
		if err := e.c.Delete(ctx, p); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Sprintf("restart stuck pod %s: %v", p.Name, err))
		}
	}
	return errs
}

func findStaged(staged []stagedObjects, ref string) *unstructured.Unstructured {
	for _, s := range staged {
		for _, u := range s.objects {
			if refOf(u) == ref {
				return u
			}
		}
	}
	return nil
}

// logLines is how much of each failing container's log a failure carries.
const logLines = 20

// diagnose gathers what the cluster says about a failed stage: warning
// events of its workloads and their pods, and the last log lines of pods
// that are not ready.
func (e *engine) diagnose(ctx context.Context, stage string, cause error, ws []WorkloadStatus, objs []*unstructured.Unstructured) *Failure {
	f := &Failure{Stage: stage, Reason: cause.Error()}
	var failing []*unstructured.Unstructured
	for _, u := range objs {
		if !isWorkload(u) {
			continue
		}
		for _, s := range ws {
			if s.Object == refOf(u) && s.Status != "ready" && s.Status != "unavailable" {
				failing = append(failing, u)
				f.Objects = append(f.Objects, s.Object)
			}
		}
	}
	if len(ws) == 0 {
		// The apply itself failed: the error names the object.
		return f
	}
	ns := e.ns
	evs, err := e.cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("type", corev1.EventTypeWarning).String()})
	if err == nil {
		sort.Slice(evs.Items, func(i, j int) bool { return evs.Items[i].LastTimestamp.Before(&evs.Items[j].LastTimestamp) })
		for _, ev := range evs.Items {
			for _, u := range failing {
				if strings.HasPrefix(ev.InvolvedObject.Name, u.GetName()) {
					f.Events = append(f.Events, fmt.Sprintf("%s/%s: %s: %s", ev.InvolvedObject.Kind, ev.InvolvedObject.Name, ev.Reason, ev.Message))
					break
				}
			}
		}
		if len(f.Events) > 20 {
			f.Events = f.Events[len(f.Events)-20:]
		}
	}
	f.Logs = map[string]string{}
	for _, u := range failing {
		sel, err := podSelector(u)
		if err != nil || sel == nil {
			continue
		}
		pods := &corev1.PodList{}
		if err := e.c.List(ctx, pods, client.InNamespace(ns), client.MatchingLabelsSelector{Selector: sel}); err != nil {
			continue
		}
		for _, p := range pods.Items {
			if podReady(&p) {
				continue
			}
			for _, c := range p.Spec.Containers {
				if tail := e.tailLog(ctx, ns, p.Name, c.Name); tail != "" {
					f.Logs[p.Name+"/"+c.Name] = tail
				}
			}
		}
	}
	return f
}

func podReady(p *corev1.Pod) bool { return kube.PodReady(p) }

func (e *engine) tailLog(ctx context.Context, ns, pod, container string) string {
	return kube.LogTail(ctx, e.cs, ns, pod, container, logLines)
}
