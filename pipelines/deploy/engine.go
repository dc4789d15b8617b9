package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/pkg/ssa"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/statex/infrastructure/pipelines/kube"
	"github.com/statex/infrastructure/pipelines/manifest"
	"github.com/statex/infrastructure/pipelines/target"
)

// FieldManager owns every field the pipeline applies (server-side apply).
const FieldManager = "statex"

// ErrCluster marks errors reaching the cluster (as opposed to a deploy that
// ran and failed): nothing was applied.
var ErrCluster = errors.New("cluster unreachable")

// clusterError is an ErrCluster that prints only its cause, which already
// names the API server (kube.UnreachableError).
type clusterError struct{ err error }

func (e clusterError) Error() string   { return e.err.Error() }
func (e clusterError) Unwrap() []error { return []error{ErrCluster, e.err} }

// DefaultStageTimeout bounds each stage's wait unless Options say otherwise.
const DefaultStageTimeout = 10 * time.Minute

// Options configure one deploy.
type Options struct {
	// Rendered is the validated set to apply. Deploy never renders or
	// validates itself: nothing reaches a cluster that did not pass first.
	Rendered *manifest.Rendered
	// Target is the environment deployed to: its namespace, its cluster
	// (REST config), where its secrets come from, which images it may run
	// without.
	Target *target.Target

	DryRun bool
	// Force recreates objects whose immutable fields changed (a StatefulSet's
	// volumeClaimTemplates); off by default because it restarts pods.
	Force bool
	// StageTimeout bounds each stage's wait (default 10 minutes).
	StageTimeout time.Duration
	// PollInterval is how often readiness is polled (default 2 s).
	PollInterval time.Duration
	// Signals are the service-level readiness checks run after a stage's
	// workloads are ready (nil: DefaultSignals; empty: none).
	Signals []Signal
	// Exec runs a signal's command in a pod (default: kube.Exec through
	// the API server). Every other client is built from the target's REST
	// config; this one
	// can be handed in because a command needs a kubelet, and a test
	// control plane (envtest) has none.
	Exec ExecFunc
	// History is how many release records to keep (default 10).
	History int
	// Progress receives events as the deploy runs (may be nil).
	Progress func(Event)
	// RuntimeConfigMaps (name → data) are written once the namespace
	// exists, before any workload starts: configuration that is not in the
	// set because it belongs to this machine (a kind backup site's CA).
	// Like generated Secrets they are not pruned.
	RuntimeConfigMaps map[string]map[string]string
}

// ExecFunc runs command in a container of a pod and returns its output.
type ExecFunc func(ctx context.Context, namespace, pod, container string, command []string) (string, error)

// Event is a progress report.
type Event struct {
	Stage     string
	Message   string
	Workloads []WorkloadStatus
	Elapsed   time.Duration
}

// Kinds never deleted by prune or rollback: they hold data (PVCs), or
// everything else (the Namespace).
var keepKinds = []string{"PersistentVolumeClaim", "Namespace"}

type engine struct {
	opts    Options
	env, ns string // the target's name and namespace
	start   time.Time
	c       client.Client
	cs      kubernetes.Interface
	rm      *ssa.ResourceManager
	waiter  *waiter
	signals *signalRunner
}

// Deploy applies the rendered set stage by stage, waits for each stage to be
// ready, prunes what left the set and records the release. A failing stage is
// rolled back to the last successful release. The error is non-nil only when
// the deploy could not run or did not succeed; the Result is always returned
// and says what happened.
func Deploy(ctx context.Context, opts Options) (*Result, error) {
	if opts.Rendered == nil || opts.Target == nil {
		return nil, errors.New("deploy: a rendered set and a target are required")
	}
	if opts.StageTimeout <= 0 {
		opts.StageTimeout = DefaultStageTimeout
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 2 * time.Second
	}
	if opts.History <= 0 {
		opts.History = 10
	}
	e := &engine{opts: opts, start: time.Now(), env: opts.Target.Name, ns: opts.Target.Namespace}
	res := &Result{Env: e.env, Namespace: e.ns, Hash: opts.Rendered.Hash, DryRun: opts.DryRun}
	defer func() { res.Duration = secondsOf(time.Since(e.start)) }()

	if err := e.connect(ctx); err != nil {
		res.Status = ReleaseFailed
		return res, err
	}
	stages, err := Plan(opts.Rendered.Objects)
	if err != nil {
		res.Status = ReleaseFailed
		return res, err
	}
	staged, err := toUnstructured(stages)
	if err != nil {
		res.Status = ReleaseFailed
		return res, err
	}
	hist, err := LoadHistory(ctx, e.cs, e.ns, e.env)
	if err != nil {
		res.Status = ReleaseFailed
		return res, clusterError{err}
	}
	prev := hist.LastSucceeded()
	if prev != nil {
		res.Previous = prev.Revision
	}
	if opts.DryRun {
		return res, e.plan(ctx, res, staged, hist)
	}
	return res, e.run(ctx, res, staged, hist)
}

// connect makes the clients, after asking the API server whether it is
// there at all: without that, an unreachable server surfaces as whatever
// read fails first (a dry run even reported "planned").
func (e *engine) connect(ctx context.Context) error {
	base, err := e.opts.Target.RESTConfig()
	if err != nil {
		return clusterError{err}
	}
	if err := kube.Reachable(ctx, base); err != nil {
		return clusterError{err}
	}
	cfg := rest.CopyConfig(base)
	// Defaults (5 QPS) make a 124-object deploy wait on the client limiter.
	cfg.QPS, cfg.Burst = 50, 100
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return clusterError{fmt.Errorf("API server %s: %w", kube.ServerURL(cfg), err)}
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return clusterError{fmt.Errorf("API server %s: %w", kube.ServerURL(cfg), err)}
	}
	e.c, e.cs = c, cs
	poller := polling.NewStatusPoller(c, c.RESTMapper(), polling.Options{})
	e.rm = ssa.NewResourceManager(c, poller, ssa.Owner{Field: FieldManager, Group: "statex.io"})
	e.rm.SetConcurrency(4)
	e.waiter = &waiter{c: c, interval: e.opts.PollInterval, timeout: e.opts.StageTimeout,
		mayBeUnavailable: e.opts.Target.Images.MayBeUnavailable, isProject: e.opts.Target.Images.Project,
		progress: func(stage string, ws []WorkloadStatus) {
			e.emit(Event{Stage: stage, Workloads: ws})
		}}
	sigs := e.opts.Signals
	if sigs == nil {
		sigs = DefaultSignals
	}
	e.signals = &signalRunner{cfg: cfg, cs: cs, exec: e.opts.Exec, namespace: e.ns, signals: sigs,
		interval: e.opts.PollInterval, timeout: e.opts.StageTimeout}
	return nil
}

func (e *engine) emit(ev Event) {
	if e.opts.Progress != nil {
		ev.Elapsed = time.Since(e.start)
		e.opts.Progress(ev)
	}
}

type stagedObjects struct {
	stage   Stage
	objects []*unstructured.Unstructured
}

func toUnstructured(stages []StagedObjects) ([]stagedObjects, error) {
	out := make([]stagedObjects, len(stages))
	for i, s := range stages {
		out[i].stage = s.Stage
		for _, o := range s.Objects {
			u := &unstructured.Unstructured{}
			if err := u.UnmarshalJSON(o.JSON); err != nil {
				return nil, fmt.Errorf("%s (%s:%d): %w", o.Ref(), o.File, o.Line, err)
			}
			out[i].objects = append(out[i].objects, u)
		}
	}
	return out, nil
}

// run is the real deploy.
func (e *engine) run(ctx context.Context, res *Result, staged []stagedObjects, hist *History) error {
	prev := hist.LastSucceeded()
	rel := &Release{Env: e.env, Revision: hist.NextRevision(), Hash: e.opts.Rendered.Hash,
		Status: ReleasePending, Created: time.Now().UTC()}
	for _, s := range staged {
		for _, u := range s.objects {
			raw, err := u.MarshalJSON()
			if err != nil {
				return err
			}
			rel.Objects = append(rel.Objects, StoredObject{Ref: refOf(u), Object: raw})
		}
	}
	res.Revision = rel.Revision
	var applied []appliedObject
	external := e.opts.Target.Secrets.External
	if external {
		// Secrets from an external store are a precondition: check them
		// before anything is applied, not after the foundation stage.
		nsExists, err := e.namespaceExists(ctx)
		if err != nil {
			res.Status = ReleaseFailed
			return err
		}
		plan, err := PlanSecrets(ctx, e.cs, e.ns, e.opts.Target.Secrets.Generated, true, nsExists)
		if err != nil {
			res.Status = ReleaseFailed
			return err
		}
		var missing []string
		for _, a := range plan {
			if a.Action == "missing" {
				missing = append(missing, fmt.Sprintf("%s %v", a.Name, a.NewKeys))
			}
		}
		if len(missing) > 0 {
			res.Status, res.Secrets = ReleaseFailed, plan
			return fmt.Errorf("secrets: external, but missing in %s: %s (provide them from the secret store; nothing was applied)", e.ns, strings.Join(missing, "; "))
		}
	}

	for i, s := range staged {
		stageStart := time.Now()
		sr := StageResult{Name: s.stage.Name, Status: "ready"}
		e.emit(Event{Stage: s.stage.Name, Message: fmt.Sprintf("apply %d objects", len(s.objects))})
		cs, err := e.apply(ctx, s.objects, i == 0)
		for _, entry := range cs {
			sr.Changes = append(sr.Changes, entry)
			if entry.Action == string(ssa.CreatedAction) || entry.Action == string(ssa.ConfiguredAction) {
				applied = append(applied, appliedObject{ref: entry.Object, created: entry.Action == string(ssa.CreatedAction)})
				if entry.Action == string(ssa.ConfiguredAction) {
					cur, _ := rel.Find(entry.Object)
					if old, ok := prev.Find(entry.Object); ok && jsonEqual(old, cur) {
						res.Drift = append(res.Drift, entry.Object)
					}
				}
			}
		}
		if err == nil && i == 0 {
			// The namespace exists now: secrets before any workload starts,
			// then the pending record so an interrupted deploy is prunable.
			res.Secrets, err = EnsureSecrets(ctx, e.cs, e.ns, e.opts.Target.Secrets.Generated, external)
			if err == nil {
				err = EnsureConfigMaps(ctx, e.cs, e.ns, e.opts.RuntimeConfigMaps)
			}
			if err == nil {
				err = saveRelease(ctx, e.cs, e.ns, rel)
			}
		}
		if err == nil {
			sr.Workloads, err = e.waiter.wait(ctx, s.stage.Name, s.objects)
		}
		if err == nil {
			sr.Signals, err = e.signals.run(ctx, s.stage.Name, sr.Workloads, func(msg string) {
				e.emit(Event{Stage: s.stage.Name, Message: msg})
			})
		}
		sr.Duration = secondsOf(time.Since(stageStart))
		if err != nil {
			sr.Status = "failed"
			res.Stages = append(res.Stages, sr)
			for _, rest := range staged[i+1:] {
				res.Stages = append(res.Stages, StageResult{Name: rest.stage.Name, Status: "skipped"})
			}
			// What is reported, stored in the release and returned is
			// scrubbed of the namespace's secret values (see scrub.go).
			scrub, logsOK := e.failureScrubber(ctx)
			err = scrub.Error(err)
			res.Failure = scrubFailure(e.diagnose(ctx, s.stage.Name, err, sr.Workloads, s.objects), scrub, logsOK)
			res.Status = ReleaseFailed
			if prev != nil && len(applied) > 0 {
				res.Rollback = e.rollback(ctx, prev, applied, staged)
				res.Rollback.Error = scrub.String(res.Rollback.Error)
				if res.Rollback.Error == "" {
					res.Status = "rolled-back"
				}
			}
			rel.Status, rel.Failure = ReleaseFailed, res.Failure
			if rel.secret != nil || i > 0 {
				if serr := saveRelease(ctx, e.cs, e.ns, rel); serr != nil {
					err = errors.Join(err, serr)
				}
			}
			return fmt.Errorf("stage %s failed: %w", s.stage.Name, err)
		}
		res.Stages = append(res.Stages, sr)
		e.emit(Event{Stage: s.stage.Name, Message: fmt.Sprintf("ready in %.1fs", float64(sr.Duration))})
	}

	if err := e.prune(ctx, res, hist, rel); err != nil {
		res.Status = ReleaseFailed
		rel.Status = ReleaseFailed
		_ = saveRelease(ctx, e.cs, e.ns, rel)
		return err
	}
	rel.Status = ReleaseSucceeded
	if err := saveRelease(ctx, e.cs, e.ns, rel); err != nil {
		res.Status = ReleaseFailed
		return err
	}
	hist.Releases = append(hist.Releases, rel)
	if err := trimHistory(ctx, e.cs, e.ns, hist, e.opts.History); err != nil {
		e.emit(Event{Message: "warning: " + err.Error()})
	}
	res.Status = ReleaseSucceeded
	res.Unchanged = prev != nil && prev.Hash == rel.Hash && res.Count("created")+res.Count("configured") == 0 && len(res.Pruned) == 0
	return nil
}

type appliedObject struct {
	ref     string
	created bool
}

// apply server-side applies a stage. The first stage goes through ssa's
// staged apply, which creates namespaces (and CRDs) and waits for them
// before the namespaced objects.
func (e *engine) apply(ctx context.Context, objs []*unstructured.Unstructured, first bool) ([]Change, error) {
	opts := ssa.DefaultApplyOptions()
	opts.Force = e.opts.Force
	opts.WaitTimeout = e.opts.StageTimeout
	// A Job's template is immutable: a changed Job (new script ConfigMap
	// name) is replaced, which is safe because the platform's Jobs are
	// idempotent bootstraps. Everything else recreates only with --force.
	var jobs, rest []*unstructured.Unstructured
	for _, u := range objs {
		if u.GetKind() == "Job" {
			jobs = append(jobs, u)
		} else {
			rest = append(rest, u)
		}
	}
	var out []Change
	collect := func(cs *ssa.ChangeSet) {
		if cs != nil {
			for _, entry := range cs.Entries {
				out = append(out, Change{Object: changeRef(entry), Action: string(entry.Action)})
			}
		}
	}
	var cs *ssa.ChangeSet
	var err error
	if first {
		cs, err = e.rm.ApplyAllStaged(ctx, rest, opts)
	} else if len(rest) > 0 {
		cs, err = e.rm.ApplyAll(ctx, rest, opts)
	}
	collect(cs)
	if err == nil && len(jobs) > 0 {
		jobOpts := opts
		jobOpts.Force = true
		cs, err = e.rm.ApplyAll(ctx, jobs, jobOpts)
		collect(cs)
	}
	if err != nil {
		return out, fmt.Errorf("apply: %w", err)
	}
	return out, nil
}

func changeRef(e ssa.ChangeSetEntry) string {
	if e.ObjMetadata.Namespace == "" {
		return e.ObjMetadata.GroupKind.Kind + "/" + e.ObjMetadata.Name
	}
	return e.ObjMetadata.GroupKind.Kind + "/" + e.ObjMetadata.Namespace + "/" + e.ObjMetadata.Name
}

// prune deletes objects of earlier releases that left the set, except the
// ones that hold data.
func (e *engine) prune(ctx context.Context, res *Result, hist *History, rel *Release) error {
	for _, old := range hist.Inventory() {
		if _, ok := rel.Find(old.Ref); ok {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(old.Object); err != nil {
			return fmt.Errorf("release history: %s: %w", old.Ref, err)
		}
		if slices.Contains(keepKinds, u.GetKind()) {
			res.Kept = append(res.Kept, Change{Object: old.Ref, Action: "kept"})
			continue
		}
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(u.GroupVersionKind())
		if err := e.c.Get(ctx, client.ObjectKeyFromObject(u), live); isNotFound(err) {
			continue // already gone: nothing to report
		}
		entry, err := e.rm.Delete(ctx, u, ssa.DefaultDeleteOptions())
		if err != nil {
			return fmt.Errorf("prune %s: %w", old.Ref, err)
		}
		if entry != nil && entry.Action == ssa.DeletedAction {
			res.Pruned = append(res.Pruned, Change{Object: old.Ref, Action: "deleted"})
			e.emit(Event{Stage: "prune", Message: "deleted " + old.Ref})
		}
	}
	return nil
}

func runtimeFromUnstructured(raw map[string]any, into any) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructured(raw, into)
}

// isNotFound is true for API errors that mean "does not exist".
func isNotFound(err error) bool { return apierrors.IsNotFound(err) }
