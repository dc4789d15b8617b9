package check

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/statex/infrastructure/pipelines/kube"
)

// Env is what a check gets: the cluster and this run's unique ID.
type Env struct {
	Cluster *Cluster
	RunID   string
	// Unavailable maps services whose image cannot be pulled here to the
	// reason (their checks are SKIPPED; others excuse their absence by name).
	Unavailable map[string]string
}

// Check is one service's check.
type Check struct {
	Service string
	Run     func(ctx context.Context, e *Env) Result
}

// Checks are every service's checks, in the order they run (the deploy's).
var Checks = []Check{
	{"postgres", checkPostgres},
	{"redis", checkRedis},
	{"rabbitmq", checkRabbitMQ},
	{"minio", checkMinIO},
	{"elasticsearch", checkElasticsearch},
	{"prometheus", checkPrometheus},
	{"loki", checkLoki},
	{"jaeger", checkJaeger},
	{"grafana", checkGrafana},
	{"mail", checkMail},
	{"roundcube", checkRoundcube},
	{"networkpolicy", checkNetworkPolicy},
}

// Options configure a check run.
type Options struct {
	Env       string
	Namespace string
	Config    *rest.Config
	// Services limits the run (empty: all).
	Services []string
	// ProjectImage says whether an image is built by this project; pods
	// that cannot pull another image make their check SKIPPED.
	ProjectImage func(string) bool
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
		opts.Timeout = 3 * time.Minute
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 4
	}
	if opts.ProjectImage == nil {
		opts.ProjectImage = func(image string) bool { return strings.HasPrefix(image, "statex/") }
	}
	c, err := NewCluster(opts.Config, opts.Namespace)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	rep := &Report{Env: opts.Env, Namespace: opts.Namespace, RunID: NewRunID()}
	e := &Env{Cluster: c, RunID: rep.RunID, Unavailable: map[string]string{}}
	all, err := c.CS.CoreV1().Pods(opts.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list pods in %s: %w", opts.Namespace, err)
	}
	byService := map[string][]corev1.Pod{}
	for _, p := range all.Items {
		if svc := p.Labels["app.kubernetes.io/name"]; svc != "" {
			byService[svc] = append(byService[svc], p)
		}
	}
	for svc, pods := range byService {
		if reason := unavailable(pods, opts.ProjectImage); reason != "" {
			e.Unavailable[svc] = reason
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
			if reason := e.Unavailable[chk.Service]; reason != "" {
				res = Result{Service: chk.Service, Verdict: Skipped, Reason: reason}
			} else {
				cctx, cancel := context.WithTimeout(ctx, opts.Timeout)
				res = chk.Run(cctx, e)
				cancel()
			}
			results[i] = res
			if opts.Progress != nil {
				mu.Lock()
				opts.Progress(res)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, res := range results {
		switch res.Verdict {
		case Pass:
			rep.Passed++
		case Fail:
			rep.Failed++
		default:
			rep.Skipped++
		}
	}
	rep.Results = results
	rep.Seconds = Seconds(time.Since(start))
	return rep, nil
}

// unavailable returns why a service cannot be checked: its pods wait on an
// image that is not the project's and cannot be pulled (an upstream image on
// an offline cluster). Pods that are merely broken are checked, and fail.
func unavailable(pods []corev1.Pod, project func(string) bool) string {
	var images []string
	for _, p := range pods {
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || OwnedByJob(&p) {
			// A Job's pod (a bootstrap re-run by a deploy, even one still
			// running) says nothing about the service's own image.
			continue
		}
		blocked := kube.UnpullableExternal(&p, project)
		if len(blocked) == 0 {
			return ""
		}
		images = append(images, blocked...)
	}
	if len(images) == 0 {
		return ""
	}
	slices.Sort(images)
	return "image not buildable offline and not pullable here: " + strings.Join(slices.Compact(images), ", ")
}

// OwnedByJob reports whether a Job made the pod (a bootstrap, a bucket
// setup): such pods are not the service's servers.
func OwnedByJob(p *corev1.Pod) bool {
	for _, o := range p.OwnerReferences {
		if o.Kind == "Job" {
			return true
		}
	}
	return false
}
