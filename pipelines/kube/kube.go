// Package kube holds the few pod-level operations both the deploy engine
// and the checks need: running a command in a container, and telling a pod
// that cannot pull its image.
package kube

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
)

// execTimeout bounds one command: a hung exec must not hang a deploy or a
// check.
const execTimeout = 30 * time.Second

// Exec runs a command in a container and returns its stdout; a non-zero exit
// is an error carrying stderr.
func Exec(ctx context.Context, cfg *rest.Config, cs kubernetes.Interface, namespace, pod, container string, cmd []string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, execTimeout)
	defer cancel()
	req := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(namespace).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: container, Command: cmd, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	ex, err := remotecommand.NewSPDYExecutor(cfg, "POST", req.URL())
	if err != nil {
		return "", err
	}
	var stdout, stderr bytes.Buffer
	if err := ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr}); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 500 {
			msg = msg[len(msg)-500:]
		}
		return stdout.String(), fmt.Errorf("exec %s in %s/%s: %v: %s", cmd[0], pod, container, err, msg)
	}
	return stdout.String(), nil
}

// PullFailing is the kubelet's waiting reason for an image it cannot pull.
func PullFailing(reason string) bool {
	return reason == "ErrImagePull" || reason == "ImagePullBackOff"
}

// UnpullableExternal returns the images a pod waits on that cannot be
// pulled and are not built by the project (project says which are). Only
// those may be excused as "unavailable offline"; a project image that
// cannot be pulled is a failure.
func UnpullableExternal(p *corev1.Pod, project func(image string) bool) []string {
	var images []string
	for _, cs := range append(slices.Clone(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...) {
		if w := cs.State.Waiting; w != nil && PullFailing(w.Reason) && !project(cs.Image) {
			images = append(images, cs.Image)
		}
	}
	return images
}
