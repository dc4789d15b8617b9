// Package kube is the pipeline's one way into a cluster: whether the API
// server answers (Reachable), port-forward and exec with the transports
// kubectl uses, the pods that serve a service (not its Jobs' pods), log
// tails, and scrubbing Secret values from what is reported. The deploy
// engine, the checks and the drills all reach pods through it.
package kube

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	streamhttp "k8s.io/streaming/pkg/httpstream"
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
	ex, err := executor(cfg, req.URL())
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

// executor speaks WebSocket first and falls back to SPDY when the server
// refuses the upgrade, as kubectl >= 1.31 does: SPDY is deprecated
// upstream, and proxies in front of API servers often pass only WebSocket.
// WebSocket exec needs GET (RFC 6455), SPDY POST.
func executor(cfg *rest.Config, u *url.URL) (remotecommand.Executor, error) {
	spdyExec, err := remotecommand.NewSPDYExecutor(cfg, "POST", u)
	if err != nil {
		return nil, err
	}
	wsExec, err := remotecommand.NewWebSocketExecutor(cfg, "GET", u.String())
	if err != nil {
		return nil, err
	}
	return remotecommand.NewFallbackExecutor(wsExec, spdyExec, shouldFallback)
}

// portForwardDialer tunnels SPDY over WebSocket first and falls back to
// plain SPDY, as kubectl port-forward does.
func portForwardDialer(cfg *rest.Config, u *url.URL) (httpstream.Dialer, error) {
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return nil, err
	}
	spdyDialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	wsDialer, err := portforward.NewSPDYOverWebsocketDialer(u, cfg)
	if err != nil {
		return nil, err
	}
	return portforward.NewFallbackDialer(wsDialer, spdyDialer, shouldFallback), nil
}

// shouldFallback is kubectl's test: the server (or a proxy) refused the
// WebSocket upgrade. client-go's WebSocket transport reports that with
// k8s.io/streaming's error type; apimachinery's twin is accepted too, so
// the fallback does not depend on which of the two a version returns.
func shouldFallback(err error) bool {
	return streamhttp.IsUpgradeFailure(err) || streamhttp.IsHTTPSProxyError(err) ||
		httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
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
