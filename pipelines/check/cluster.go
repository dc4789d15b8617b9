package check

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"

	"github.com/statex/infrastructure/pipelines/kube"
)

// Cluster is how checks reach the environment: port-forwards to pods,
// Secrets, exec. Forwards are reused per pod and port and closed by Close.
type Cluster struct {
	Config    *rest.Config
	CS        kubernetes.Interface
	Namespace string

	mu       sync.Mutex
	forwards map[string]*forward
	// mailAdmin serialises Postfixadmin changes: concurrent checks would
	// race to create the shared test domain.
	mailAdmin sync.Mutex

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

	transport, upgrader, err := spdy.RoundTripperFor(c.Config)
	if err != nil {
		return "", err
	}
	url := c.CS.CoreV1().RESTClient().Post().Resource("pods").Namespace(c.Namespace).Name(pod).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, url)
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
// the service's servers.
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

// Pods are the server pods of a service label (app.kubernetes.io/name),
// ready or not: see ServerPods.
func (c *Cluster) Pods(ctx context.Context, service string) ([]corev1.Pod, error) {
	list, err := c.CS.CoreV1().Pods(c.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=" + service})
	if err != nil {
		return nil, err
	}
	return ServerPods(list.Items), nil
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
func (c *Cluster) Scrubber() kube.Scrubber {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	return kube.NewScrubber(c.read...)
}

// ScrubSteps scrubs the evidence and errors of steps in place.
func ScrubSteps(s kube.Scrubber, steps []Step) {
	for i := range steps {
		steps[i].Evidence = s.String(steps[i].Evidence)
		steps[i].Error = s.String(steps[i].Error)
	}
}

// Exec runs a command in a pod's container and returns stdout.
func (c *Cluster) Exec(ctx context.Context, pod, container string, cmd ...string) (string, error) {
	return kube.Exec(ctx, c.Config, c.CS, c.Namespace, pod, container, cmd)
}

// PodDialer dials in-cluster addresses ("pod.headless.ns.svc...:port" or
// "pod:port") through port-forwards, so a cluster-aware client (a Sentinel
// client following the master it is told about) works from outside.
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
