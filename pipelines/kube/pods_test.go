package kube

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

const testNS = "statex-infrastructure"

func redisPod(name string, phase corev1.PodPhase, owner, ip string) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS, Labels: map[string]string{"app.kubernetes.io/name": "redis"}},
		Status:     corev1.PodStatus{Phase: phase, PodIP: ip},
	}
	if owner != "" {
		p.OwnerReferences = []metav1.OwnerReference{{Kind: owner, Name: "x"}}
	}
	return p
}

// The pods of a Redis that has taken backups: the CronJob's pods carry
// app.kubernetes.io/name=redis (finished, and one still running), and the
// finished one kept an IP that a server pod now holds.
func redisWithBackups() []*corev1.Pod {
	return []*corev1.Pod{
		redisPod("redis-0", corev1.PodRunning, "StatefulSet", "10.0.0.10"),
		redisPod("redis-1", corev1.PodRunning, "StatefulSet", "10.0.0.11"),
		redisPod("redis-2", corev1.PodPending, "StatefulSet", ""),
		redisPod("redis-backup-29000000-abcde", corev1.PodSucceeded, "Job", "10.0.0.11"),
		redisPod("redis-backup-29000060-fghij", corev1.PodRunning, "Job", "10.0.0.12"),
	}
}

// Job pods are never a service's servers: not in Pods (the Sentinels the
// Redis check asks; before, a finished redis-backup pod was asked too and
// the check failed after the first backup), not behind a Service, not the
// pod an IP resolves to.
func TestJobPodsNeverCountAsServicePods(t *testing.T) {
	var objs []*corev1.Pod
	objs = append(objs, redisWithBackups()...)
	var names []string
	for _, p := range ServerPods(deref(objs)) {
		names = append(names, p.Name)
	}
	if want := []string{"redis-0", "redis-1", "redis-2"}; !slices.Equal(names, want) {
		t.Errorf("ServerPods = %v, want %v", names, want)
	}

	yes := true
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "redis-headless-x", Namespace: testNS, Labels: map[string]string{discoveryv1.LabelServiceName: "redis-headless"}},
	}
	for _, p := range objs {
		slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{
			Conditions: discoveryv1.EndpointConditions{Ready: &yes},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Name: p.Name},
		})
	}
	cs := fake.NewClientset(slice)
	for _, p := range objs {
		if _, err := cs.CoreV1().Pods(testNS).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	c := &Cluster{CS: cs, Namespace: testNS}
	pods, err := c.Pods(context.Background(), "redis")
	if err != nil {
		t.Fatal(err)
	}
	if len(pods) != 3 {
		t.Errorf("Cluster.Pods(redis): %d pods, want the 3 servers", len(pods))
	}
	behind, err := c.ServicePods(context.Background(), "redis-headless")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"redis-0", "redis-1", "redis-2"}; !slices.Equal(behind, want) {
		t.Errorf("ServicePods = %v, want %v", behind, want)
	}
	if got, err := podWithIP(deref(objs), "10.0.0.11", testNS); err != nil || got != "redis-1" {
		t.Errorf("pod with 10.0.0.11 = %q, %v; want redis-1, not the finished Job pod that had it", got, err)
	}
	if _, err := podWithIP(deref(objs), "10.0.0.12", testNS); err == nil {
		t.Error("an IP held only by a Job pod resolved to it")
	}
}

func deref(ps []*corev1.Pod) []corev1.Pod {
	out := make([]corev1.Pod, len(ps))
	for i, p := range ps {
		out[i] = *p
	}
	return out
}
