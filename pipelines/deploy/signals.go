package deploy

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/statex/infrastructure/pipelines/check"
	"github.com/statex/infrastructure/pipelines/kube"
)

// Signal is a service-level readiness check: pod readiness says a process
// answers, a signal says the cluster it forms is whole (a Patroni leader with
// streaming replicas, every RabbitMQ node joined). It runs a command in one
// ready pod of the service and judges the output against the workload's
// desired replica count.
type Signal struct {
	Service   string
	Name      string
	Container string
	Command   []string
	Check     func(out string, desired int) error
}

// DefaultSignals are the platform's signals. Commands use only what the
// service's own image ships, so no debug container is needed.
var DefaultSignals = []Signal{
	{
		Service: "postgres", Name: "patroni leader and streaming replicas", Container: "postgres",
		// Patroni's REST API answers on the pod's loopback; python3 is in
		// the image because Patroni is Python.
		Command: []string{"python3", "-c", "import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:8008/cluster',timeout=5).read().decode())"},
		Check:   checkPatroni,
	},
	{
		Service: "rabbitmq", Name: "all nodes joined and running", Container: "rabbitmq",
		Command: []string{"rabbitmqctl", "-q", "cluster_status", "--formatter", "json"},
		Check:   checkRabbitCluster,
	},
	{
		Service: "redis", Name: "sentinel sees master and replicas", Container: "sentinel",
		Command: []string{"sh", "-c", `redis-cli --no-auth-warning -p 26379 sentinel master "$MASTER_NAME"`},
		Check:   checkSentinel,
	},
}

// The Patroni and RabbitMQ judgements are the checks' own (pipelines/check):
// a stage is ready by the same standard `statex check` holds it to.
func checkPatroni(out string, desired int) error {
	members, err := check.ParsePatroniCluster([]byte(out))
	if err != nil {
		return err
	}
	_, _, _, err = check.JudgePatroni(members, desired)
	return err
}

func checkRabbitCluster(out string, desired int) error {
	_, err := check.JudgeRabbitCluster(out, desired)
	return err
}

// checkSentinel wants a master flagged healthy, desired-1 replicas and every
// other Sentinel known (quorum needs them).
func checkSentinel(out string, desired int) error {
	kv := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	var key string
	for i := 0; sc.Scan(); i++ {
		if i%2 == 0 {
			key = strings.TrimSpace(sc.Text())
		} else {
			kv[key] = strings.TrimSpace(sc.Text())
		}
	}
	if kv["flags"] != "master" {
		return fmt.Errorf("sentinel master flags %q (want master)", kv["flags"])
	}
	if kv["num-slaves"] != fmt.Sprint(desired-1) || kv["num-other-sentinels"] != fmt.Sprint(desired-1) {
		return fmt.Errorf("want %d replicas and %d other sentinels, have %s and %s", desired-1, desired-1, kv["num-slaves"], kv["num-other-sentinels"])
	}
	return nil
}

type signalRunner struct {
	cfg       *rest.Config
	cs        kubernetes.Interface
	namespace string
	signals   []Signal
	interval  time.Duration
	timeout   time.Duration
}

// run checks the signals of the stage's ready workloads, retrying until each
// passes or the timeout: replicas start streaming a little after their pods
// report ready.
func (r *signalRunner) run(ctx context.Context, stage string, ws []WorkloadStatus, progress func(string)) ([]SignalResult, error) {
	var out []SignalResult
	for _, sig := range r.signals {
		var w *WorkloadStatus
		for i := range ws {
			if ws[i].Service == sig.Service && ws[i].Desired > 0 {
				w = &ws[i]
			}
		}
		if w == nil {
			continue
		}
		if w.Status != "ready" {
			out = append(out, SignalResult{Service: sig.Service, Signal: sig.Name, Status: "skipped", Detail: "workload " + w.Status})
			continue
		}
		start := time.Now()
		progress(fmt.Sprintf("signal %s: %s", sig.Service, sig.Name))
		detail, err := r.poll(ctx, sig, w.Desired)
		res := SignalResult{Service: sig.Service, Signal: sig.Name, Status: "passed", Detail: detail, Seconds: secondsOf(time.Since(start))}
		if err != nil {
			res.Status, res.Detail = "failed", err.Error()
			out = append(out, res)
			return out, fmt.Errorf("%s: %s: %w", sig.Service, sig.Name, err)
		}
		out = append(out, res)
	}
	return out, nil
}

func (r *signalRunner) poll(ctx context.Context, sig Signal, desired int) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	var last error
	for {
		out, err := r.execInService(ctx, sig)
		if err == nil {
			if err = sig.Check(out, desired); err == nil {
				return fmt.Sprintf("%d/%d members", desired, desired), nil
			}
		}
		last = err
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("not healthy after %s: %w", r.timeout, last)
		case <-time.After(r.interval):
		}
	}
}

// execInService runs the signal's command in a ready pod of the service.
func (r *signalRunner) execInService(ctx context.Context, sig Signal) (string, error) {
	pods, err := r.cs.CoreV1().Pods(r.namespace).List(ctx, metav1.ListOptions{LabelSelector: serviceLabel + "=" + sig.Service})
	if err != nil {
		return "", err
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp != nil || !podReady(p) || !hasContainer(p, sig.Container) {
			continue
		}
		return kube.Exec(ctx, r.cfg, r.cs, r.namespace, p.Name, sig.Container, sig.Command)
	}
	return "", fmt.Errorf("no ready %s pod with container %s", sig.Service, sig.Container)
}

func hasContainer(p *corev1.Pod, name string) bool {
	for _, c := range p.Spec.Containers {
		if c.Name == name {
			return true
		}
	}
	return false
}
