package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/statex/infrastructure/pipelines/cluster"
	"github.com/statex/infrastructure/pipelines/deploy"
	"github.com/statex/infrastructure/pipelines/images"
	"github.com/statex/infrastructure/pipelines/manifest"
	"github.com/statex/infrastructure/pipelines/report"
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
		repo, envs, err := a.loadRepo()
		if err != nil {
			fmt.Fprintln(stderr, "statex deploy:", err)
			return exitUsage, nil
		}
		env, err := envs.Get(f.env)
		if err != nil {
			fmt.Fprintln(stderr, "statex deploy:", err)
			return exitUsage, nil
		}
		rendered, code := renderValidated(cmd.Context(), repo, envs, env, "deploy", stderr)
		if code != exitOK {
			return code, nil
		}
		return a.deployEnv(cmd.Context(), envs, env, rendered, f), nil
	})
	return cmd
}

// renderValidated renders and validates an environment: the set it returns
// is the one to apply, so what is deployed is exactly what passed. On
// errors it prints the findings and returns the exit code.
func renderValidated(ctx context.Context, repo string, envs *manifest.Environments, env *manifest.Environment, verb string, stderr io.Writer) (*manifest.Rendered, int) {
	rep, rendered, err := validate.Environment(ctx, repo, envs, env.Name)
	if err != nil {
		fmt.Fprintf(stderr, "statex %s: %v\n", verb, err)
		return nil, exitUsage
	}
	if rep.Failed() {
		_ = report.ValidateText(stderr, rep, report.Style{Color: isTerminal(stderr)})
		fmt.Fprintf(stderr, "statex %s: %s has validation errors: nothing was built or applied (fix them, then run again)\n", verb, env.Name)
		return nil, exitFindings
	}
	fmt.Fprintf(stderr, "validate: %s %s\n", env.Name, report.ValidateSummary(rep, report.Style{}))
	return rendered, exitOK
}

// deployEnv deploys a validated set; shared by deploy and up.
func (a *app) deployEnv(ctx context.Context, envs *manifest.Environments, env *manifest.Environment, rendered *manifest.Rendered, f deployFlags) int {
	stdout, stderr := a.stdout, a.stderr
	cfg, err := a.restConfig(f.kube, env)
	if err != nil {
		fmt.Fprintln(stderr, "statex deploy:", err)
		return exitUsage
	}
	res, derr := deploy.Deploy(ctx, deploy.Options{
		Rendered: rendered, Env: env, Namespace: envs.NamespaceOf(env), Secrets: envs.GeneratedSecrets,
		Config: cfg, DryRun: f.dryRun, Force: f.force, StageTimeout: f.timeout,
		MayBeUnavailable: env.MayBeUnavailable,
		Progress:         deployProgress(stderr),
	})
	return emitDeploy(res, derr, f, a.warnings, stdout, stderr)
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
		if err := writeDeployReport(stdout, f.format, res, isTerminal(stdout)); err != nil {
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

// writeDeployReport writes the report in format.
func writeDeployReport(w io.Writer, format string, res *deploy.Result, color bool) error {
	switch format {
	case formatJSON:
		return report.WriteJSON(w, res)
	case formatMarkdown:
		_, err := io.WriteString(w, report.DeployMarkdown(res))
		return err
	}
	return report.DeployText(w, res, report.Style{Color: color})
}

// deployProgress prints stage messages and workload readiness changes.
func deployProgress(w io.Writer) func(deploy.Event) {
	return func(e deploy.Event) {
		t := e.Elapsed.Seconds()
		if e.Message != "" {
			fmt.Fprintf(w, "deploy: [%s] %s (%.1fs)\n", e.Stage, e.Message, t)
			return
		}
		var parts []string
		for _, wl := range e.Workloads {
			name := wl.Object[strings.LastIndexByte(wl.Object, '/')+1:]
			part := fmt.Sprintf("%s %d/%d", name, wl.Ready, wl.Desired)
			if wl.Status != "ready" && wl.Status != "progressing" {
				part += " " + wl.Status
			}
			parts = append(parts, part)
		}
		fmt.Fprintf(w, "deploy: [%s] %s (%.1fs)\n", e.Stage, strings.Join(parts, ", "), t)
	}
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
		start := time.Now()
		repo, envs, err := a.loadRepo()
		if err != nil {
			fmt.Fprintln(stderr, "statex up:", err)
			return exitUsage, nil
		}
		env, err := envs.Get(f.env)
		if err != nil {
			fmt.Fprintln(stderr, "statex up:", err)
			return exitUsage, nil
		}
		// Validate before building anything: a bad manifest fails in
		// milliseconds, not after minutes of image builds.
		rendered, code := renderValidated(ctx, repo, envs, env, "up", stderr)
		if code != exitOK {
			return code, nil
		}
		if env.Target.Kind != nil {
			if code := upCluster(ctx, repo, env, *f.kube.KubeConfig, skipImages, stderr); code != exitOK {
				return code, nil
			}
		} else {
			fmt.Fprintf(stderr, "up: %s targets context %q: no images or cluster to manage\n", env.Name, env.Target.Context)
		}
		code = a.deployEnv(ctx, envs, env, rendered, f)
		if code == exitOK && !skipChecks {
			// The checks' report goes to stderr: stdout carries the deploy
			// report in the format asked for (one JSON document).
			code = a.checkEnv(ctx, envs, checkOpts{env: env.Name, format: formatText, junit: checkJUnit, gh: f.gh, timeout: checkTimeout, kube: f.kube}, stderr)
		}
		fmt.Fprintf(stderr, "up: %s finished in %.1fs\n", env.Name, time.Since(start).Seconds())
		return code, nil
	})
	return cmd
}

// upCluster builds images and brings the kind cluster up with them loaded.
func upCluster(ctx context.Context, repo string, env *manifest.Environment, kubeconfig string, skipImages bool, stderr io.Writer) int {
	dir := filepath.Join(repo, "images")
	if !skipImages {
		res, err := images.Build(ctx, images.Options{Dir: dir, Progress: images.ProgressTo(stderr)})
		fmt.Fprintf(stderr, "up: images: %s (%.1fs)\n", res.Summary(), res.Duration.Seconds())
		if err != nil {
			fmt.Fprintln(stderr, "statex up: images:", err)
			return exitFindings
		}
	}
	nodeImage, load, err := images.ForKind(dir)
	if err != nil {
		fmt.Fprintln(stderr, "statex up:", err)
		return exitUsage
	}
	opts := cluster.Options{Name: env.Target.Kind.Cluster, Kubeconfig: kubeconfig, InternalAPI: os.Getenv("STATEX_KIND_API") == "internal",
		OfflineNodeImage: nodeImage, Images: load,
		Progress: func(e cluster.Event) { fmt.Fprintf(stderr, "cluster: %-60s (%.1fs)\n", e.Step, e.Elapsed.Seconds()) }}
	if _, err := cluster.Up(ctx, opts); err != nil {
		fmt.Fprintln(stderr, "statex up: cluster:", err)
		return exitFindings
	}
	return exitOK
}
