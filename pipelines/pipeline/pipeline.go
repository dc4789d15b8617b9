// Package pipeline composes the verbs into the ones a user runs end to end:
// Validated (render, then validate: what deploy applies is what passed),
// Cluster (a kind environment's cluster with the project's images), and Up
// (validate → images → cluster → deploy → check). Promotion and previews
// compose here too. It decides the order and what stops it; the verbs'
// packages decide everything else, and report prints the results.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/statex/infrastructure/pipelines/check"
	"github.com/statex/infrastructure/pipelines/cluster"
	"github.com/statex/infrastructure/pipelines/deploy"
	"github.com/statex/infrastructure/pipelines/images"
	"github.com/statex/infrastructure/pipelines/kube"
	"github.com/statex/infrastructure/pipelines/manifest"
	"github.com/statex/infrastructure/pipelines/target"
	"github.com/statex/infrastructure/pipelines/validate"
)

// Step names, as Error and the progress lines report them.
const (
	StepValidate = "validate"
	StepImages   = "images"
	StepCluster  = "cluster"
	StepDeploy   = "deploy"
	StepCheck    = "check"
)

// Error is a step that stopped a composed verb.
type Error struct {
	Step string
	// Findings: the step ran and found problems (validation errors, a
	// failed build, stage or check). Otherwise it could not run at all
	// (input that cannot be read or rendered, an unreachable cluster), and
	// nothing was changed by it.
	Findings bool
	Err      error
}

func (e *Error) Error() string { return e.Step + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// ErrInvalid is the error of a set with validation errors: nothing was
// built or applied from it.
var ErrInvalid = errors.New("validation errors: nothing was built or applied (fix them, then run again)")

// Validated renders the target's overlay and validates it against the
// target's namespace, generated secrets and Kubernetes version. The set is
// returned only when it has no errors: it is the one to apply. The report
// is returned whenever validation ran.
func Validated(ctx context.Context, t *target.Target) (*validate.Report, *manifest.Rendered, error) {
	rendered, err := t.Render(ctx)
	if err != nil {
		return nil, nil, &Error{Step: StepValidate, Err: err}
	}
	rep, err := validate.Validate(ctx, &manifest.Set{Objects: rendered.Objects}, validate.Options{
		Target:            t.Name,
		KubernetesVersion: t.KubernetesVersion,
		DefaultNamespace:  t.Namespace,
		GeneratedSecrets:  t.Secrets.Generated,
		Backup:            validate.BackupTargetOf(t.Environment()),
	})
	if err != nil {
		return nil, nil, &Error{Step: StepValidate, Err: err}
	}
	if rep.Failed() {
		return rep, nil, &Error{Step: StepValidate, Findings: true, Err: fmt.Errorf("%s has %w", t.Name, ErrInvalid)}
	}
	return rep, rendered, nil
}

// ClusterOptions configure Cluster.
type ClusterOptions struct {
	// NodeImage forces a node image ("" detects one: cluster.ResolveNodeImage).
	NodeImage string
	// NoLoad leaves the project's images out of the nodes.
	NoLoad bool
	// Retain keeps the nodes of a failed create for inspection.
	Retain       bool
	ReadyTimeout time.Duration
	Progress     func(cluster.Event)
	// Warn receives what is worth saying but does not stop the cluster
	// (no image recipes to load from).
	Warn func(msg string, err error)
}

// Cluster brings a kind target's cluster up (created, or started and
// reused) with the project's service images loaded, and its kubeconfig
// written where the target reads it; then its backup site (BackupSite).
func Cluster(ctx context.Context, t *target.Target, opts ClusterOptions) (*cluster.UpResult, error) {
	if t.Kind == nil {
		return nil, &Error{Step: StepCluster, Err: fmt.Errorf("environment %q targets kube context %q, not a kind cluster the pipeline manages", t.Name, t.Context)}
	}
	up := cluster.Options{Name: t.Kind.Cluster, NodeImage: opts.NodeImage, Kubeconfig: t.Kind.Kubeconfig,
		InternalAPI: t.Kind.InternalAPI, ReadyTimeout: opts.ReadyTimeout, Retain: opts.Retain, Progress: opts.Progress}
	// No recipes (a copy of the CLI alone) is no reason not to have a
	// cluster: it comes up with nothing loaded.
	nodeImage, load, err := t.Kind.Images()
	if err != nil && opts.Warn != nil {
		opts.Warn("no images to load", err)
	}
	up.OfflineNodeImage = nodeImage
	if !opts.NoLoad {
		up.Images = load
	}
	res, err := cluster.Up(ctx, up)
	if err != nil {
		return res, &Error{Step: StepCluster, Findings: true, Err: err}
	}
	if t.Backup != nil && t.Backup.Offsite != nil && opts.Progress != nil {
		opts.Progress(cluster.Event{Step: "backup site " + t.Backup.Offsite.Container})
	}
	return res, BackupSite(ctx, t)
}

// ClusterStatus reports a kind target's cluster: its nodes, and whether its
// API server answers through the target's kubeconfig. A cluster that could
// not be read, or is not healthy, is a finding; an API server that does
// not answer is not (nodes "not ready" could mean a stopped node or an API
// server nobody can reach, and the second says nothing about the nodes).
func ClusterStatus(ctx context.Context, t *target.Target) (*cluster.Status, error) {
	if t.Kind == nil {
		return nil, &Error{Step: StepCluster, Err: fmt.Errorf("environment %q targets kube context %q, not a kind cluster the pipeline manages", t.Name, t.Context)}
	}
	st, err := cluster.GetStatus(ctx, t.Kind.Cluster, t.Kind.Kubeconfig)
	if err != nil {
		return nil, &Error{Step: StepCluster, Findings: true, Err: err}
	}
	if st.Exists && (st.Kubeconfig != "" || t.Access().Context != "") {
		cfg, err := t.RESTConfig()
		if err == nil {
			err = kube.Reachable(ctx, cfg)
		}
		if err != nil {
			return st, &Error{Step: StepCluster, Err: err}
		}
	}
	if !st.Healthy {
		return st, &Error{Step: StepCluster, Findings: true, Err: fmt.Errorf("cluster %s is not healthy", t.Kind.Cluster)}
	}
	return st, nil
}

// UpOptions configure Up. Deploy and Check are the options of those
// steps; their Target and Rendered are Up's to set.
type UpOptions struct {
	SkipImages, SkipChecks bool
	Images                 images.Options
	Cluster                ClusterOptions
	Deploy                 deploy.Options
	Check                  check.Options
	// Progress receives one line per step of Up's own (each step's
	// detailed progress goes to its own options' Progress).
	Progress func(step, message string)
	// OnValidated receives the validation report as soon as it is made,
	// before anything is built.
	OnValidated func(*validate.Report)
}

// UpResult is what each step of Up produced; a step that did not run is nil.
type UpResult struct {
	Validate *validate.Report  `json:"validate,omitempty"`
	Images   *images.Result    `json:"-"`
	Cluster  *cluster.UpResult `json:"cluster,omitempty"`
	Deploy   *deploy.Result    `json:"deploy,omitempty"`
	Check    *check.Report     `json:"check,omitempty"`
	Seconds  float64           `json:"seconds"`
}

// Up brings an environment up, idempotently: validate (before anything
// is built: a bad manifest fails in milliseconds) → images (skipped when
// unchanged) → cluster (kind targets only) → deploy → check. It stops at
// the first step that fails, with an *Error naming it.
func Up(ctx context.Context, t *target.Target, opts UpOptions) (*UpResult, error) {
	start := time.Now()
	res := &UpResult{}
	defer func() { res.Seconds = time.Since(start).Seconds() }()
	say := func(step, format string, a ...any) {
		if opts.Progress != nil {
			opts.Progress(step, fmt.Sprintf(format, a...))
		}
	}
	rep, rendered, err := Validated(ctx, t)
	res.Validate = rep
	if rep != nil && opts.OnValidated != nil {
		opts.OnValidated(rep)
	}
	if err != nil {
		return res, err
	}
	if t.Kind != nil {
		if !opts.SkipImages {
			io := opts.Images
			io.Dir = t.Kind.ImagesDir
			built, err := images.Build(ctx, io)
			res.Images = &built
			say(StepImages, "%s (%.1fs)", built.Summary(), built.Duration.Seconds())
			if err != nil {
				return res, &Error{Step: StepImages, Findings: len(built.Images) > 0, Err: err}
			}
		}
		if res.Cluster, err = Cluster(ctx, t, opts.Cluster); err != nil {
			return res, err
		}
	} else {
		say(StepCluster, "%s targets context %q: no images or cluster to manage", t.Name, t.Context)
	}
	do := opts.Deploy
	do.Rendered = rendered
	res.Deploy, err = Deploy(ctx, t, do)
	var step *Error
	switch {
	case errors.As(err, &step):
		return res, err
	case err != nil:
		return res, &Error{Step: StepDeploy, Findings: !errors.Is(err, deploy.ErrCluster), Err: err}
	}
	if opts.SkipChecks {
		return res, nil
	}
	co := opts.Check
	co.Target, co.Manifests = t, rendered.Objects
	res.Check, err = check.Run(ctx, co)
	if err != nil {
		return res, &Error{Step: StepCheck, Err: err}
	}
	if failed := res.Check.FailedSubjects(); len(failed) > 0 {
		return res, &Error{Step: StepCheck, Findings: true, Err: fmt.Errorf("failed: %s", strings.Join(failed, ", "))}
	}
	return res, nil
}
