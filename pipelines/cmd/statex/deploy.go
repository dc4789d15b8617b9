package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/statex/infrastructure/pipelines/deploy"
	"github.com/statex/infrastructure/pipelines/images"
	"github.com/statex/infrastructure/pipelines/manifest"
	"github.com/statex/infrastructure/pipelines/pipeline"
	"github.com/statex/infrastructure/pipelines/report"
	"github.com/statex/infrastructure/pipelines/target"
	"github.com/statex/infrastructure/pipelines/validate"
)

const deployHelp = `Deploy an environment: render, validate (nothing is applied from a set with
errors), then server-side apply in stages, each waiting for real readiness:

  foundation      namespace, RBAC, config, policies, Services, PVCs; secrets
  postgres        Patroni leader + streaming replicas
  data            Redis (Sentinel), RabbitMQ (all nodes joined), MinIO, Elasticsearch
  observability   Prometheus, Loki, Jaeger
  grafana · mail-bootstrap · dovecot · postfix · webmail

Generated secrets are created once (random, never printed) and kept. Each
deploy is recorded in the namespace as a release (Secrets statex-release.*);
objects of the last release that left the set are pruned (PVCs and the
Namespace are kept: they hold data). A stage that fails (not ready within
--timeout, an image that cannot be pulled, a crash loop) is rolled back to
the last successful release, and the failure shows the events and last log
lines of the failing pods. On a kind environment, external images that
cannot be pulled offline are applied and reported "unavailable", never Ready.

Usage:
  statex deploy [--env ENV] [--dry-run] [--output text|json|markdown] [--junit FILE]
                [--kubeconfig FILE] [--context NAME] [--timeout D]

Examples:
  statex deploy --env kind --dry-run         # per-object diff, prune list, drift
  statex deploy --env kind
  statex deploy --env staging --kubeconfig ~/.kube/staging -o json

The cluster is the environment's kind cluster (the kubeconfig 'statex
cluster up' wrote, or with --context kind-<cluster> the context it merged
into $KUBECONFIG) or its kube context (in --kubeconfig, else $KUBECONFIG,
else ~/.kube/config); --context, --cluster and --user choose others, as
for kubectl. Progress goes to stderr, the report to stdout.
Exit codes: 0 deployed (or planned), 1 validation errors or a failed deploy,
2 usage errors, a report file that cannot be written, or an unreachable
cluster (the API server's URL is named; nothing is applied or planned).
`

type deployFlags struct {
	env, format, junit string
	dryRun, force, gh  bool
	timeout            time.Duration
	kube               *genericclioptions.ConfigFlags
}

// addDeployFlags registers what deploy and up share.
func (a *app) addDeployFlags(cmd *cobra.Command, f *deployFlags) {
	fl := cmd.Flags()
	a.addEnv(cmd, &f.env, defaultEnv, "environment to deploy (see manifests/environments.yaml)")
	addOutput(cmd, &f.format, formatText, reportFormats, "report format on stdout")
	fl.StringVar(&f.junit, "junit", "", "also write a JUnit XML report to FILE")
	fl.BoolVar(&f.dryRun, "dry-run", false, "server-side dry run: print what would change, write nothing")
	fl.BoolVar(&f.force, "force", false, "recreate objects whose immutable fields changed (restarts their pods)")
	fl.BoolVar(&f.gh, "github", os.Getenv("GITHUB_ACTIONS") == "true", "write a GitHub Actions step summary")
	fl.DurationVar(&f.timeout, "timeout", stageTimeout, "how long each stage may take to become ready")
	f.kube = a.addKubeFlags(cmd)
}

func (a *app) deployCommand() *cobra.Command {
	var f deployFlags
	cmd := &cobra.Command{
		Use: "deploy", Short: "deploy an environment in stages: apply, wait for readiness, prune, roll back", Long: deployHelp,
		Args: cobra.NoArgs,
	}
	a.addDeployFlags(cmd, &f)
	cmd.RunE = a.verb(func(cmd *cobra.Command, _ []string) (int, error) {
		stderr := a.stderr
		if err := checkOutput(f.format, reportFormats); err != nil {
			return 0, err
		}
		if code := preflightReports("deploy", stderr, reportFile{"junit", f.junit}); code >= 0 {
			return code, nil
		}
		t, err := a.resolve(f.env, f.kube)
		if err != nil {
			fmt.Fprintln(stderr, "statex deploy:", err)
			return exitUsage, nil
		}
		rep, rendered, err := pipeline.Validated(cmd.Context(), t)
		a.printValidated(rep, "deploy")
		if err != nil {
			return a.stepFailed("deploy", err), nil
		}
		res, derr := pipeline.Deploy(cmd.Context(), t, f.options(t, rendered, stderr))
		return emitDeploy(res, derr, f, a.warnings, a.stdout, stderr), nil
	})
	return cmd
}

// printValidated prints what validation found, on stderr: the findings
// when the set has errors (nothing is applied from it), else one line.
func (a *app) printValidated(rep *validate.Report, verb string) {
	if rep == nil {
		return
	}
	if rep.Failed() {
		_ = report.ValidateText(a.stderr, rep, report.Style{Color: isTerminal(a.stderr)})
		return
	}
	fmt.Fprintf(a.stderr, "validate: %s %s\n", rep.Target, report.ValidateSummary(rep, report.Style{}))
}

// stepFailed prints the step of a composed verb that stopped it and
// returns the exit code: 1 when it ran and found problems, 2 when it could
// not run (input, an unreachable cluster).
func (a *app) stepFailed(verb string, err error) int {
	fmt.Fprintf(a.stderr, "statex %s: %v\n", verb, err)
	var step *pipeline.Error
	if errors.As(err, &step) && step.Findings {
		return exitFindings
	}
	return exitUsage
}

// options are the deploy options the flags ask for.
func (f deployFlags) options(t *target.Target, rendered *manifest.Rendered, progress io.Writer) deploy.Options {
	return deploy.Options{Target: t, Rendered: rendered, DryRun: f.dryRun, Force: f.force, StageTimeout: f.timeout,
		Progress: report.DeployProgress(progress)}
}

// emitDeploy reports a deploy and returns the exit code. A cluster that
// could not be reached is exit 2 with no report at all: nothing was read,
// applied or planned, and a report would say otherwise ("planned"). The
// JUnit file is written before stdout; if it fails, stdout stays empty and
// the exit is 2.
func emitDeploy(res *deploy.Result, derr error, f deployFlags, warnings *apiWarnings, stdout, stderr io.Writer) int {
	if errors.Is(derr, deploy.ErrCluster) {
		fmt.Fprintln(stderr, "statex deploy:", derr)
		return exitUsage
	}
	if res != nil {
		res.Warnings = warnings.list()
		if f.junit != "" {
			if err := writeFile(f.junit, func(w io.Writer) error { return report.DeployJUnit(w, res) }); err != nil {
				fmt.Fprintf(stderr, "statex deploy: --junit %s: report not written: %v (what ran is in the progress lines above; the release record is in the namespace)\n", f.junit, err)
				if derr != nil {
					fmt.Fprintln(stderr, "statex deploy:", derr)
				}
				return exitUsage
			}
		}
		if err := report.Deploy(stdout, f.format, res, report.Style{Color: isTerminal(stdout)}); err != nil {
			fmt.Fprintln(stderr, "statex deploy: report not written to stdout:", err)
			return exitUsage
		}
		if f.gh {
			stepSummary("deploy", report.DeployMarkdown(res), stderr)
		}
	}
	if derr != nil {
		fmt.Fprintln(stderr, "statex deploy:", derr)
		return exitFindings
	}
	return exitOK
}

const upHelp = `Bring an environment up with one command, idempotently:

  validate → images (built offline, skipped when unchanged) → cluster (kind:
  created or reused, images loaded) → deploy (staged, readiness, prune,
  rollback) → check (protocol-level, every service; report on stderr)

STATEX_KIND_API=internal makes the kubeconfig reach the API server on the
kind Docker network (for running inside a container on that network, as the
Dagger module's Up does).

A second run with nothing changed skips every build, reuses the cluster and
applies nothing. For an environment that targets an existing cluster
(context), the images and cluster steps are skipped.

Usage:
  statex up [--env kind] [--skip-images] [--skip-checks] [--output text|json|markdown]
            [--junit FILE] [--check-junit FILE]

Exit codes: 0 up and every check passed, 1 a step failed (validation, build,
readiness, a check), 2 usage errors, a report file that cannot be written,
or an unreachable cluster.
`

func (a *app) upCommand() *cobra.Command {
	var (
		f                      deployFlags
		skipImages, skipChecks bool
		checkJUnit             string
	)
	cmd := &cobra.Command{
		Use: "up", Short: "one command: validate, build images, bring the kind cluster up, deploy, check", Long: upHelp,
		Args: cobra.NoArgs,
	}
	a.addDeployFlags(cmd, &f)
	_ = cmd.Flags().MarkHidden("dry-run") // shared with deploy, refused here
	cmd.Flags().BoolVar(&skipImages, "skip-images", false, "do not build images (use what Docker has)")
	cmd.Flags().BoolVar(&skipChecks, "skip-checks", false, "do not run the protocol checks after deploying")
	cmd.Flags().StringVar(&checkJUnit, "check-junit", "", "also write the checks' JUnit XML report to FILE")
	cmd.RunE = a.verb(func(cmd *cobra.Command, _ []string) (int, error) {
		ctx, stderr := cmd.Context(), a.stderr
		if f.dryRun {
			return 0, usagef("no --dry-run (use statex deploy --dry-run)")
		}
		if err := checkOutput(f.format, reportFormats); err != nil {
			return 0, err
		}
		if code := preflightReports("up", stderr, reportFile{"junit", f.junit}, reportFile{"check-junit", checkJUnit}); code >= 0 {
			return code, nil
		}
		t, err := a.resolve(f.env, f.kube)
		if err != nil {
			fmt.Fprintln(stderr, "statex up:", err)
			return exitUsage, nil
		}
		res, err := pipeline.Up(ctx, t, pipeline.UpOptions{
			SkipImages: skipImages, SkipChecks: skipChecks,
			Images:      images.Options{Progress: images.ProgressTo(stderr)},
			Cluster:     pipeline.ClusterOptions{Progress: report.ClusterProgress(stderr), Warn: a.warn},
			Deploy:      f.options(nil, nil, stderr),
			Check:       checkOpts{timeout: checkTimeout}.options(nil, nil, stderr),
			Progress:    report.StepProgress(stderr, "up"),
			OnValidated: func(rep *validate.Report) { a.printValidated(rep, "up") },
		})
		code := a.emitUp(res, err, f, checkJUnit)
		fmt.Fprintf(stderr, "up: %s finished in %.1fs\n", t.Name, res.Seconds)
		return code, nil
	})
	return cmd
}

// emitUp reports each step up ran and returns the exit code. The deploy
// report goes to stdout in the format asked for (one JSON document); the
// checks' report to stderr.
func (a *app) emitUp(res *pipeline.UpResult, err error, f deployFlags, checkJUnit string) int {
	if res.Deploy == nil {
		// Stopped before deploying: the step says why.
		return a.stepFailed("up", err)
	}
	var step *pipeline.Error
	errors.As(err, &step)
	var deployErr error
	if step != nil && step.Step == pipeline.StepDeploy {
		deployErr = step.Err
	}
	if code := emitDeploy(res.Deploy, deployErr, f, a.warnings, a.stdout, a.stderr); code != exitOK {
		return code
	}
	if res.Check == nil {
		if err != nil {
			return a.stepFailed("up", err) // the checks could not run
		}
		return exitOK // --skip-checks
	}
	return a.emitCheck(res.Check, checkOpts{format: formatText, junit: checkJUnit, gh: f.gh}, a.stderr)
}
