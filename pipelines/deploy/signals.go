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
		// Three views: the master, then every replica and every other
		// Sentinel this Sentinel remembers, each with its flags.
		Command: []string{"sh", "-c", `set -e; cli="redis-cli --no-auth-warning -p 26379"
echo '#master'; $cli sentinel master "$MASTER_NAME"
echo '#replicas'; $cli sentinel replicas "$MASTER_NAME"
echo '#sentinels'; $cli sentinel sentinels "$MASTER_NAME"`},
		Check: checkSentinel,
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

// checkSentinel wants a master flagged healthy, desired-1 healthy replicas
// and desired-1 healthy other Sentinels (quorum needs them). Healthy means
// flagged only "slave" (with its link to the master up) or only "sentinel".
// A Sentinel never forgets a peer: a pod that came back with a new IP (after
// a drill, a node loss) leaves its old address behind flagged s_down, so the
// totals (num-slaves, num-other-sentinels) would count it and never settle.
func checkSentinel(out string, desired int) error {
	sections := sentinelSections(out)
	master := sections["master"]
	if len(master) != 1 {
		return fmt.Errorf("sentinel master: unreadable answer %q", strings.TrimSpace(out))
	}
	if master[0]["flags"] != "master" {
		return fmt.Errorf("sentinel master flags %q (want master)", master[0]["flags"])
	}
	replicas, staleReplicas := countHealthy(sections["replicas"], "slave")
	sentinels, staleSentinels := countHealthy(sections["sentinels"], "sentinel")
	if replicas != desired-1 || sentinels != desired-1 {
		return fmt.Errorf("want %d healthy replicas and %d other sentinels, have %d and %d (%d and %d down or disconnected)",
			desired-1, desired-1, replicas, sentinels, staleReplicas, staleSentinels)
	}
	return nil
}

// sentinelSections splits the signal's output at its "#name" markers into
// entries: redis-cli prints replies one element per line, key then value,
// and an entry of SENTINEL REPLICAS/SENTINELS starts at its "name" key.
func sentinelSections(out string) map[string][]map[string]string {
	sections := map[string][]map[string]string{}
	var section, key string
	n := 0 // line index inside the section: even lines are keys
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") {
			section, n = strings.TrimPrefix(line, "#"), 0
			sections[section] = nil
			continue
		}
		if section == "" {
			continue
		}
		if n%2 == 0 {
			key = line
			if key == "name" || len(sections[section]) == 0 {
				sections[section] = append(sections[section], map[string]string{})
			}
		} else {
			entries := sections[section]
			entries[len(entries)-1][key] = line
		}
		n++
	}
	return sections
}

// countHealthy counts entries flagged exactly role (replicas also need
// master-link-status ok) and the rest.
func countHealthy(entries []map[string]string, role string) (healthy, other int) {
	for _, e := range entries {
		if e["flags"] == role && (role != "slave" || e["master-link-status"] == "ok") {
			healthy++
		} else {
			other++
		}
	}
	return healthy, other
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
