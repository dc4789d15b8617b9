package deploy

import (
	"context"
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/statex/infrastructure/pipelines/kube"
	"github.com/statex/infrastructure/pipelines/poll"
	"github.com/statex/infrastructure/pipelines/service"
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

// DefaultSignals are the platform's signals. Commands and judgements are
// pipelines/service's: they use only what the service's own image ships
// (no debug container), and a stage is ready by the same standard `statex
// check` holds it to.
var DefaultSignals = []Signal{
	{
		Service: service.PostgresService, Name: "patroni leader and streaming replicas", Container: service.PostgresContainer,
		Command: service.PatroniClusterCommand(),
		Check:   checkPatroni,
	},
	{
		Service: service.RabbitService, Name: "all nodes joined and running", Container: service.RabbitContainer,
		Command: service.RabbitClusterStatusCommand(),
		Check:   checkRabbitCluster,
	},
	{
		Service: service.RedisService, Name: "sentinel sees master and replicas", Container: service.SentinelContainer,
		Command: service.SentinelViewCommand(),
		Check:   checkSentinel,
	},
}

func checkPatroni(out string, desired int) error {
	members, err := service.ParsePatroniCluster([]byte(out))
	if err != nil {
		return err
	}
	_, _, _, err = service.JudgePatroni(members, desired)
	return err
}

func checkRabbitCluster(out string, desired int) error {
	_, err := service.JudgeRabbitCluster(out, desired)
	return err
}

// checkSentinel counts only healthy peers: see service.JudgeSentinelView.
func checkSentinel(out string, desired int) error { return service.JudgeSentinelView(out, desired) }

type signalRunner struct {
	cfg       *rest.Config
	cs        kubernetes.Interface
	exec      ExecFunc // nil: kube.Exec
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
	// Each exec is bounded by the signal's timeout too.
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	// The attempt the deadline cuts short fails with the deadline ("rate
	// limiter Wait … would exceed context deadline"), not a judgement: the
	// reason given is the last answer that was not cut short.
	var judged error
	err := poll.Until(ctx, r.timeout, r.interval, func() error {
		out, err := r.execInService(ctx, sig)
		if err == nil {
			err = sig.Check(out, desired)
		}
		if err != nil && ctx.Err() == nil {
			judged = err
		}
		return err
	})
	if t, ok := errors.AsType[*poll.TimeoutError](err); ok {
		last := t.Last
		if judged != nil {
			last = judged
		}
		return "", fmt.Errorf("not healthy after %s: %w", r.timeout, last)
	}
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d/%d members", desired, desired), nil
}

// execInService runs the signal's command in a ready pod of the service.
func (r *signalRunner) execInService(ctx context.Context, sig Signal) (string, error) {
	pods, err := r.cs.CoreV1().Pods(r.namespace).List(ctx, metav1.ListOptions{LabelSelector: kube.ServiceLabel + "=" + sig.Service})
	if err != nil {
		return "", err
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp != nil || !kube.PodReady(p) || !kube.HasContainer(p, sig.Container) {
			continue
		}
		if r.exec != nil {
			return r.exec(ctx, r.namespace, p.Name, sig.Container, sig.Command)
		}
		return kube.Exec(ctx, r.cfg, r.cs, r.namespace, p.Name, sig.Container, sig.Command)
	}
	return "", fmt.Errorf("no ready %s pod with container %s", sig.Service, sig.Container)
}
