package check

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/statex/infrastructure/pipelines/kube"
	"github.com/statex/infrastructure/pipelines/manifest"
	"github.com/statex/infrastructure/pipelines/target"
	"github.com/statex/infrastructure/pipelines/verdict"
)

// Env is what a check gets: the cluster, this run's unique ID and the
// rendered manifests the environment was deployed from.
type Env struct {
	Cluster *kube.Cluster
	RunID   string
	// Unavailable maps services whose image cannot be pulled here, and
	// which the environment allows to be unavailable, to the reason (their
	// checks are SKIPPED; others excuse their absence by name).
	Unavailable map[string]string
	// Manifests is the environment's rendered set: what should be running.
	Manifests []*manifest.Object

	// mailAdmin serialises Postfixadmin changes: concurrent checks would
	// race to create the shared test domain.
	mailAdmin sync.Mutex
}

// Check is one service's check.
type Check struct {
	Service string
	Run     func(ctx context.Context, e *Env) Result
	// Pods are the app.kubernetes.io/name values of the pods the check is
	// about, when not just Service: an image they cannot pull decides the
	// check before it runs.
	Pods []string
}

// Checks are every service's checks, in the order they run (the deploy's).
var Checks = []Check{
	{Service: "postgres", Run: checkPostgres},
	{Service: "redis", Run: checkRedis},
	{Service: "rabbitmq", Run: checkRabbitMQ},
	{Service: "minio", Run: checkMinIO},
	{Service: "elasticsearch", Run: checkElasticsearch},
	{Service: "prometheus", Run: checkPrometheus},
	{Service: "loki", Run: checkLoki},
	{Service: "jaeger", Run: checkJaeger},
	{Service: "grafana", Run: checkGrafana},
	{Service: "mail", Run: checkMail, Pods: []string{"postfix", "dovecot", "postfixadmin"}},
	{Service: "roundcube", Run: checkRoundcube},
	// Its probes borrow Redis' image; Redis' own check judges that.
	{Service: "networkpolicy", Run: checkNetworkPolicy, Pods: []string{}},
}

func (c Check) pods() []string {
	if c.Pods == nil {
		return []string{c.Service}
	}
	return c.Pods
}

// DefaultTimeout bounds one service's check unless Options say otherwise.
const DefaultTimeout = 3 * time.Minute

// Options configure a check run.
type Options struct {
	// Target is the environment checked: its namespace, its cluster, and
	// its image policy (a project image that cannot be pulled always fails
	// its check; a service whose every pod waits on an image the
	// environment may run without is SKIPPED).
	Target *target.Target
	// Services limits the run (empty: all).
	Services []string
	// Manifests is the environment's rendered set; Prometheus' expected
	// targets are derived from it (without it, that step fails).
	Manifests []*manifest.Object
	// Timeout bounds each service's check (default 3 minutes).
	Timeout time.Duration
	// Parallel is how many checks run at once (default 4).
	Parallel int
	Progress func(Result)
}

// Services lists the services that have a check.
func Services() []string {
	var out []string
	for _, c := range Checks {
		out = append(out, c.Service)
	}
	return out
}

// Run runs the checks and returns the report; an error means the checks
// could not run at all (unknown service, unreachable cluster).
func Run(ctx context.Context, opts Options) (*Report, error) {
	start := time.Now()
	for _, s := range opts.Services {
		if !slices.Contains(Services(), s) {
			return nil, fmt.Errorf("no check for service %q (have: %s)", s, strings.Join(Services(), ", "))
		}
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 4
	}
	if opts.Target == nil {
		return nil, errors.New("check: a target is required")
	}
	t := opts.Target
	cfg, err := t.RESTConfig()
	if err != nil {
		return nil, err
	}
	// Nothing below says "unreachable" as plainly: the first list would
	// fail with a bare dial error.
	if err := kube.Reachable(ctx, cfg); err != nil {
		return nil, err
	}
	c, err := kube.NewCluster(cfg, t.Namespace)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	rep := &Report{Env: t.Name, Namespace: t.Namespace, RunID: verdict.NewRunID()}
	e := &Env{Cluster: c, RunID: rep.RunID, Unavailable: map[string]string{}, Manifests: opts.Manifests}
	all, err := c.CS.CoreV1().Pods(t.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list pods in %s: %w", t.Namespace, err)
	}
	byService := map[string][]corev1.Pod{}
	for _, p := range kube.ServerPods(all.Items) {
		if svc := p.Labels[kube.ServiceLabel]; svc != "" {
			byService[svc] = append(byService[svc], p)
		}
	}
	pulls := map[string]pullVerdict{}
	for svc, pods := range byService {
		v := judgePulls(t.Name, pods, t.Images.Project, t.Images.MayBeUnavailable)
		pulls[svc] = v
		if v.skip != "" {
			e.Unavailable[svc] = v.skip
		}
	}
	var selected []Check
	for _, chk := range Checks {
		if len(opts.Services) == 0 || slices.Contains(opts.Services, chk.Service) {
			selected = append(selected, chk)
		}
	}
	// Checks touch disjoint data (unique names per run and service), so
	// they run concurrently; most of their time is waiting on servers.
	// Results keep the declared order.
	results := make([]Result, len(selected))
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, opts.Parallel)
	for i, chk := range selected {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			var res Result
			if failed := pullFailures(chk, pulls); len(failed) > 0 {
				// Decided before it runs: the steps would only fail on the
				// missing pods, naming less than this does.
				res = Result{Service: chk.Service, Verdict: Fail, Steps: []Step{{
					Name: "every image of the service's pods can be pulled", Verdict: Fail, Error: strings.Join(failed, "; "),
				}}}
			} else if reason := skipReason(chk, pulls); reason != "" {
				res = Result{Service: chk.Service, Verdict: Skipped, Reason: reason}
			} else {
				cctx, cancel := context.WithTimeout(ctx, opts.Timeout)
				res = chk.Run(cctx, e)
				cancel()
			}
			res.Reason = c.Scrubber().String(res.Reason)
			verdict.Scrub(res.Steps, c.Scrubber().String)
			results[i] = res
			if opts.Progress != nil {
				mu.Lock()
				opts.Progress(res)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	rep.Results = make([]Result, 0, len(results))
	for _, res := range results {
		rep.Add(res)
	}
	rep.Seconds = verdict.Seconds(time.Since(start))
	return rep, nil
}

// pullVerdict is what the images a service's server pods cannot pull mean
// for its check: fail lists the images nothing excuses; skip is the reason
// when every pod waits on an image the environment may run without.
type pullVerdict struct {
	fail []string
	skip string
}

// judgePulls reads the server pods of one service (see ServerPods). A
// project image that cannot be pulled is always a failure (it is built
// here); another image is excused only where the environment lists it,
// and only when every pod waits on one (a service some pods of which run
// is checked, and fails if it is broken). Pods that are merely broken are
// checked, and fail.
func judgePulls(env string, pods []corev1.Pod, project, mayBeUnavailable func(string) bool) pullVerdict {
	var v pullVerdict
	var excused []string
	blockedPods := 0
	for _, p := range pods {
		var blocked []string
		for _, cs := range append(slices.Clone(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...) {
			w := cs.State.Waiting
			if w == nil || !kube.PullFailing(w.Reason) {
				continue
			}
			blocked = append(blocked, cs.Image)
			switch {
			case project(cs.Image):
				v.fail = append(v.fail, fmt.Sprintf("pod %s cannot pull %s (%s): a project image is never excused", p.Name, cs.Image, w.Reason))
			case !mayBeUnavailable(cs.Image):
				v.fail = append(v.fail, fmt.Sprintf("pod %s cannot pull %s (%s) and environment %s does not list %s under unavailableImages",
					p.Name, cs.Image, w.Reason, env, manifest.ImageRepository(cs.Image)))
			default:
				excused = append(excused, cs.Image)
			}
		}
		if len(blocked) > 0 {
			blockedPods++
		}
	}
	if len(v.fail) == 0 && blockedPods == len(pods) && len(excused) > 0 {
		slices.Sort(excused)
		v.skip = "image not buildable offline and not pullable here: " + strings.Join(slices.Compact(excused), ", ") +
			" (environment " + env + " lists it under unavailableImages)"
	}
	return v
}

// pullFailures are the images no one excuses among a check's pods.
func pullFailures(chk Check, pulls map[string]pullVerdict) []string {
	var out []string
	for _, svc := range chk.pods() {
		out = append(out, pulls[svc].fail...)
	}
	return out
}

// skipReason is why a check is SKIPPED: one of its services waits only on
// images the environment may run without.
func skipReason(chk Check, pulls map[string]pullVerdict) string {
	for _, svc := range chk.pods() {
		if r := pulls[svc].skip; r != "" {
			return r
		}
	}
	return ""
}
