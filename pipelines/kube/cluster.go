package kube

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"

	"github.com/statex/infrastructure/pipelines/poll"
)

// Cluster is how the checks and drills reach one namespace of an
// environment: port-forwards to pods (bound to 127.0.0.1, reused per pod
// and port, closed by Close), Secrets (remembered for scrubbing), exec and
// the pods behind a Service.
type Cluster struct {
	Config    *rest.Config
	CS        kubernetes.Interface
	Namespace string

	mu       sync.Mutex
	forwards map[string]*forward

	// read holds every Secret value handed out, so results can be
	// scrubbed of them before they are reported (Scrubber).
	readMu sync.Mutex
	read   []string
}

type forward struct {
	addr string
	stop chan struct{}
}

// NewCluster connects to the environment's cluster.
func NewCluster(cfg *rest.Config, namespace string) (*Cluster, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 50, 100
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Cluster{Config: cfg, CS: cs, Namespace: namespace, forwards: map[string]*forward{}}, nil
}

// Close stops every port-forward.
func (c *Cluster) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, f := range c.forwards {
		close(f.stop)
		delete(c.forwards, k)
	}
}

// Forward returns a 127.0.0.1 address that reaches port of pod.
func (c *Cluster) Forward(ctx context.Context, pod string, port int) (string, error) {
	key := pod + ":" + strconv.Itoa(port)
	c.mu.Lock()
	if f, ok := c.forwards[key]; ok {
		c.mu.Unlock()
		return f.addr, nil
	}
	c.mu.Unlock()

	url := c.CS.CoreV1().RESTClient().Post().Resource("pods").Namespace(c.Namespace).Name(pod).SubResource("portforward").URL()
	dialer, err := portForwardDialer(c.Config, url)
	if err != nil {
		return "", err
	}
	stop, ready := make(chan struct{}), make(chan struct{})
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(port)}, stop, ready, io.Discard, io.Discard)
	if err != nil {
		return "", err
	}
	errc := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		err := fw.ForwardPorts()
		close(done)
		errc <- err
	}()
	select {
	case <-ready:
	case err := <-errc:
		return "", fmt.Errorf("port-forward %s:%d: %v", pod, port, err)
	case <-ctx.Done():
		close(stop)
		return "", ctx.Err()
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) == 0 {
		close(stop)
		return "", fmt.Errorf("port-forward %s:%d: no local port: %v", pod, port, err)
	}
	f := &forward{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(int(ports[0].Local))), stop: stop}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.forwards == nil {
		c.forwards = map[string]*forward{}
	}
	if old, ok := c.forwards[key]; ok {
		close(stop)
		return old.addr, nil
	}
	c.forwards[key] = f
	// A forward whose connection died (its pod was deleted) leaves the
	// cache, so the next Forward reaches the pod now bearing the name.
	go func() {
		<-done
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.forwards[key] == f {
			delete(c.forwards, key)
		}
	}()
	return f.addr, nil
}

// Forget stops the forwards to pod: after a pod is replaced, the next
// Forward reaches the new one even if the old connection has not noticed.
func (c *Cluster) Forget(pod string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, f := range c.forwards {
		if strings.HasPrefix(k, pod+":") {
			close(f.stop)
			delete(c.forwards, k)
		}
	}
}

// ServicePods are the ready pods behind a Service, from its EndpointSlices:
// what a client of the Service would reach. Job pods a selector happens to
// match (a backup carrying the service's labels) are left out: they are not
// the service's servers. No ready endpoint is an error.
func (c *Cluster) ServicePods(ctx context.Context, service string) ([]string, error) {
	slices, err := c.CS.DiscoveryV1().EndpointSlices(c.Namespace).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + service})
	if err != nil {
		return nil, err
	}
	all, err := c.CS.CoreV1().Pods(c.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	pods := readyEndpointPods(slices.Items, notServers(all.Items))
	if len(pods) == 0 {
		return nil, fmt.Errorf("service %s has no ready endpoints", service)
	}
	return pods, nil
}

// Pods are the server pods of a service label (app.kubernetes.io/name),
// ready or not: see ServerPods.
func (c *Cluster) Pods(ctx context.Context, service string) ([]corev1.Pod, error) {
	list, err := c.CS.CoreV1().Pods(c.Namespace).List(ctx, metav1.ListOptions{LabelSelector: ServiceLabel + "=" + service})
	if err != nil {
		return nil, err
	}
	return ServerPods(list.Items), nil
}

// Secret returns one key of a Secret in the namespace. Values are used, never
// reported.
func (c *Cluster) Secret(ctx context.Context, name, key string) (string, error) {
	s, err := c.CS.CoreV1().Secrets(c.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("secret %s: %w", name, err)
	}
	v, ok := s.Data[key]
	if !ok {
		return "", fmt.Errorf("secret %s has no key %s", name, key)
	}
	c.readMu.Lock()
	c.read = append(c.read, string(v))
	c.readMu.Unlock()
	return string(v), nil
}

// Scrubber removes every Secret value read so far from text: a client
// error, a command's stderr or a server's reply may quote one, and steps'
// evidence and errors are printed and uploaded.
func (c *Cluster) Scrubber() Scrubber {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	return NewScrubber(c.read...)
}

// Exec runs a command in a pod's container and returns stdout.
func (c *Cluster) Exec(ctx context.Context, pod, container string, cmd ...string) (string, error) {
	return Exec(ctx, c.Config, c.CS, c.Namespace, pod, container, cmd)
}

// WaitPodLog waits (up to timeout) for a pod to finish and returns its log;
// a failed pod is an error.
func (c *Cluster) WaitPodLog(ctx context.Context, name string, timeout time.Duration) (string, error) {
	err := poll.Until(ctx, timeout, time.Second, func() error {
		p, err := c.CS.CoreV1().Pods(c.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		switch p.Status.Phase {
		case corev1.PodSucceeded:
			return nil
		case corev1.PodFailed:
			return fmt.Errorf("pod %s failed", name)
		}
		return fmt.Errorf("pod %s is %s", name, p.Status.Phase)
	})
	if err != nil {
		return "", err
	}
	limit := int64(1 << 20)
	raw, err := c.CS.CoreV1().Pods(c.Namespace).GetLogs(name, &corev1.PodLogOptions{LimitBytes: &limit}).DoRaw(ctx)
	return string(raw), err
}

// PodDialer dials in-cluster addresses ("pod.headless.ns.svc...:port" or
// "pod:port", or a pod IP) through port-forwards, so a cluster-aware client
// (a Sentinel client following the master it is told about) works from
// outside.
func (c *Cluster) PodDialer() func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil, err
		}
		pod, _, _ := strings.Cut(host, ".")
		if ip := net.ParseIP(host); ip != nil {
			if pod, err = c.podByIP(ctx, host); err != nil {
				return nil, err
			}
		}
		local, err := c.Forward(ctx, pod, p)
		if err != nil {
			return nil, err
		}
		var d net.Dialer
		return d.DialContext(ctx, "tcp", local)
	}
}

func (c *Cluster) podByIP(ctx context.Context, ip string) (string, error) {
	list, err := c.CS.CoreV1().Pods(c.Namespace).List(ctx, metav1.ListOptions{FieldSelector: "status.podIP=" + ip})
	if err != nil {
		return "", err
	}
	return podWithIP(list.Items, ip, c.Namespace)
}
