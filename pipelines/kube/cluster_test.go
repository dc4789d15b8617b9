package kube

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// WaitPodLog hands back the log of a pod that finished, and fails on one
// that failed or never finishes (bounded).
func TestWaitPodLogFailsClosed(t *testing.T) {
	pod := func(name string, phase corev1.PodPhase) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}, Status: corev1.PodStatus{Phase: phase}}
	}
	c := &Cluster{Namespace: "ns", CS: fake.NewClientset(pod("done", corev1.PodSucceeded), pod("broken", corev1.PodFailed), pod("stuck", corev1.PodPending))}
	ctx := context.Background()
	if out, err := c.WaitPodLog(ctx, "done", time.Second); err != nil || out == "" {
		t.Errorf("finished pod: %q, %v", out, err)
	}
	if _, err := c.WaitPodLog(ctx, "broken", time.Second); err == nil || !strings.Contains(err.Error(), "failed") {
		t.Errorf("failed pod: %v", err)
	}
	if _, err := c.WaitPodLog(ctx, "stuck", 50*time.Millisecond); err == nil || !strings.Contains(err.Error(), "Pending") {
		t.Errorf("pending pod: %v", err)
	}
	if _, err := c.WaitPodLog(ctx, "absent", 50*time.Millisecond); err == nil {
		t.Error("a pod that does not exist gave a log")
	}
}

// Secret values handed out are scrubbed from what is reported.
func TestSecretsReadAreScrubbed(t *testing.T) {
	c := &Cluster{Namespace: "ns", CS: fake.NewClientset(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "redis-credentials", Namespace: "ns"},
		Data:       map[string][]byte{"password": []byte("a-long-generated-value")},
	})}
	if _, err := c.Secret(context.Background(), "redis-credentials", "nope"); err == nil || !strings.Contains(err.Error(), "no key nope") {
		t.Errorf("missing key: %v", err)
	}
	v, err := c.Secret(context.Background(), "redis-credentials", "password")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Scrubber().String("AUTH " + v + " failed"); strings.Contains(got, v) {
		t.Errorf("scrubbed %q", got)
	}
}
