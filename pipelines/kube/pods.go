package kube

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/kubernetes"
)

// ServiceLabel names the service a pod belongs to (the manifests set it on
// every workload's pods, and on the pods of a service's Jobs).
const ServiceLabel = "app.kubernetes.io/name"

// PodReady is the pod's Ready condition: its readiness probe passes.
func PodReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// HasContainer reports whether the pod runs a container of that name.
func HasContainer(p *corev1.Pod, name string) bool {
	for _, c := range p.Spec.Containers {
		if c.Name == name {
			return true
		}
	}
	return false
}

// OwnedByJob reports whether a Job made the pod (a bootstrap, a bucket
// setup, a backup): such pods are not the service's servers.
func OwnedByJob(p *corev1.Pod) bool {
	for _, o := range p.OwnerReferences {
		if o.Kind == "Job" {
			return true
		}
	}
	return false
}

// ServerPods keeps the pods that serve: not made by a Job (bootstraps,
// bucket setup, backups carry their service's labels: a finished
// redis-backup pod is no Sentinel) and not finished. Dropping a finished
// server pod hides nothing: every check counts the servers it wants.
func ServerPods(pods []corev1.Pod) []corev1.Pod {
	var out []corev1.Pod
	for _, p := range pods {
		if !notServer(&p) {
			out = append(out, p)
		}
	}
	return out
}

func notServer(p *corev1.Pod) bool {
	return OwnedByJob(p) || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

func notServers(pods []corev1.Pod) map[string]bool {
	out := map[string]bool{}
	for _, p := range pods {
		if notServer(&p) {
			out[p.Name] = true
		}
	}
	return out
}

// readyEndpointPods are the ready pod endpoints of slices, except the pods
// named in exclude.
func readyEndpointPods(slices []discoveryv1.EndpointSlice, exclude map[string]bool) []string {
	var pods []string
	for _, s := range slices {
		for _, ep := range s.Endpoints {
			if ep.TargetRef == nil || ep.TargetRef.Kind != "Pod" || (ep.Conditions.Ready != nil && !*ep.Conditions.Ready) || exclude[ep.TargetRef.Name] {
				continue
			}
			pods = append(pods, ep.TargetRef.Name)
		}
	}
	return pods
}

// podWithIP is the server pod holding ip. A finished pod keeps its IP in
// its status after the address went to another pod, so without the filter
// a finished Job's pod could be the one dialled.
func podWithIP(pods []corev1.Pod, ip, namespace string) (string, error) {
	for _, p := range ServerPods(pods) {
		if p.Status.PodIP == ip {
			return p.Name, nil
		}
	}
	return "", fmt.Errorf("no serving pod with IP %s in %s", ip, namespace)
}

// logTailBytes bounds a log tail: a container that logs megabytes per line
// must not blow up a report.
const logTailBytes = 16 << 10

// LogTail is the last lines of a container's log, printable characters
// only (logs may carry terminal escapes); empty when the log cannot be
// read (a container that never started).
func LogTail(ctx context.Context, cs kubernetes.Interface, namespace, pod, container string, lines int) string {
	n, limit := int64(lines), int64(logTailBytes)
	raw, err := cs.CoreV1().Pods(namespace).GetLogs(pod, &corev1.PodLogOptions{Container: container, TailLines: &n, LimitBytes: &limit}).DoRaw(ctx)
	if err != nil {
		return ""
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		out = append(out, strings.Map(func(r rune) rune {
			if r < 0x20 && r != '\t' {
				return -1
			}
			return r
		}, sc.Text()))
	}
	return strings.Join(out, "\n")
}
