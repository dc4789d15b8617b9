package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/statex/infrastructure/pipelines/poll"
)

// Client builds a clientset from a kubeconfig file.
func Client(kubeconfig string) (*kubernetes.Clientset, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	cfg.Timeout = 15 * time.Second
	return kubernetes.NewForConfig(cfg)
}

func nodesReady(ctx context.Context, kubeconfig string) (map[string]bool, error) {
	cs, err := Client(kubeconfig)
	if err != nil {
		return nil, err
	}
	list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, n := range list.Items {
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				out[n.Name] = c.Status == corev1.ConditionTrue
			}
		}
	}
	return out, nil
}

// waitReady waits until every node is Ready, every kube-system pod runs
// and is ready (DNS, CNI, proxy, storage provisioner) and a default
// StorageClass exists, so PVCs bind. On timeout it says what is missing.
func waitReady(ctx context.Context, kubeconfig string, timeout time.Duration) error {
	cs, err := Client(kubeconfig)
	if err != nil {
		return err
	}
	// Each look is bounded by the timeout too.
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err = poll.Until(ctx, timeout, 2*time.Second, func() error {
		if missing := readinessGaps(ctx, cs); len(missing) > 0 {
			return errors.New(strings.Join(missing, "; "))
		}
		return nil
	})
	if t, ok := errors.AsType[*poll.TimeoutError](err); ok {
		return fmt.Errorf("cluster not ready after %s: %v", timeout, t.Last)
	}
	return err
}

func readinessGaps(ctx context.Context, cs kubernetes.Interface) []string {
	var gaps []string
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return []string{"API server: " + err.Error()}
	}
	if len(nodes.Items) == 0 {
		gaps = append(gaps, "no nodes registered")
	}
	for _, n := range nodes.Items {
		ready := false
		for _, c := range n.Status.Conditions {
			ready = ready || (c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue)
		}
		if !ready {
			gaps = append(gaps, "node "+n.Name+" not Ready")
		}
	}
	pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return append(gaps, "list pods: "+err.Error())
	}
	system := 0
	for _, p := range pods.Items {
		if p.Namespace != "kube-system" && p.Namespace != "local-path-storage" {
			continue
		}
		system++
		if p.Status.Phase == corev1.PodSucceeded {
			continue
		}
		ready := p.Status.Phase == corev1.PodRunning
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status != corev1.ConditionTrue {
				ready = false
			}
		}
		if !ready {
			gaps = append(gaps, fmt.Sprintf("pod %s/%s %s", p.Namespace, p.Name, p.Status.Phase))
		}
	}
	if system == 0 {
		gaps = append(gaps, "no system pods yet")
	}
	classes, err := cs.StorageV1().StorageClasses().List(ctx, metav1.ListOptions{})
	if err != nil {
		return append(gaps, "list storage classes: "+err.Error())
	}
	hasDefault := false
	for _, c := range classes.Items {
		hasDefault = hasDefault || c.Annotations["storageclass.kubernetes.io/is-default-class"] == "true"
	}
	if !hasDefault {
		gaps = append(gaps, "no default StorageClass")
	}
	return gaps
}
