// Render and validate the Statex infrastructure manifests, the same way on a
// laptop and in CI.
//
// Every function builds the statex CLI (pipelines/cmd/statex) from the
// repository source inside a Go container and runs one verb of it. A verb
// function returns a Report: the verb's report files (text, JSON, Markdown,
// JUnit, SARIF, its log) and its exit code, also when the verb failed;
// --fail-on-error fails the call on a non-zero exit instead. All logic lives
// in the CLI; this module only assembles the container, passes the
// arguments through and hands the files back.
//
// Render, Validate and the checks are pure functions of the source and
// cached by the engine; Up, Deploy, Test and Drill touch a live cluster or
// the host's Docker and run afresh on every call (plan.go).
//
// Examples:
//
//	dagger call render --env kind export --path ./rendered
//	dagger call validate --env staging sarif export --path validate.sarif
//	dagger call validate --env all --fail-on-error text contents
//	dagger check
//	dagger call up --docker unix:///var/run/docker.sock exit-code
package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"dagger/statex/internal/dagger"
)

const (
	// defaultGoImage is the Go toolchain image the CLI is built and run in.
	// Keep it in sync with the +default pragma of New (a unit test checks).
	defaultGoImage = "golang:1.26-bookworm"

	// cliPackage is the statex CLI, relative to the repository root.
	cliPackage = "./pipelines/cmd/statex"
	// cliPath is where the built CLI is installed in the container.
	cliPath = "/usr/local/bin/statex"
	// srcPath is where the repository source is placed in the container.
	srcPath = "/src"
	// renderOutPath is the directory `statex render` writes into.
	renderOutPath = "/out"

	// Cache volumes shared by every function of this module.
	goModCacheVolume   = "statex-gomod"
	goBuildCacheVolume = "statex-gobuild"
	goModCachePath     = "/go/pkg/mod"
	goBuildCachePath   = "/root/.cache/go-build"
)

// Statex runs the statex CLI's verbs in containers built from the repository
// source.
type Statex struct {
	// Go toolchain image the statex CLI is built and run in.
	// +private
	GoImage string
	// Repository root every verb runs on (New's source).
	// +private
	Source *dagger.Directory
}

// New configures the module (flags given before the function name, e.g.
// `dagger call --go-image=golang:1.26.1-bookworm render` or
// `dagger call --source=../other-checkout validate`).
func New(
	// Go toolchain image used to build and run the statex CLI. It must provide
	// at least the Go version required by the repository's go.mod: the build
	// runs with GOTOOLCHAIN=local and never downloads a toolchain.
	// +optional
	// +default="golang:1.26-bookworm"
	goImage string,
	// Repository root; defaults to the repository this module lives in. The
	// ignore list (sourceIgnore in ignore.go) is written here once, for
	// every function.
	// +defaultPath="/"
	// +ignore=[".git", ".dagger", "bin", "dist", "out", "images/*/bin", "**/*.test", "**/*.out"]
	source *dagger.Directory,
) *Statex {
	if goImage == "" {
		goImage = defaultGoImage
	}
	return &Statex{GoImage: goImage, Source: source}
}

// Render the Kubernetes manifests of one environment and return them as a
// directory.
//
// Runs `statex render --env ENV --output-dir /out` (kustomize overlays from manifests/,
// rendered in-process by the CLI) and returns /out, which holds ENV.yaml.
// Save it with `dagger call render --env kind export --path ./rendered`. The
// CLI also prints the content hash of the rendered set (visible in the trace).
// Its product is the rendered set, not a report, so a failure (a broken
// overlay: exit 2) fails the call with the CLI's error.
// Cached: the result is a pure function of the source and the arguments.
func (m *Statex) Render(
	ctx context.Context,
	// Environment to render: a name from manifests/environments.yaml (kind,
	// preview, staging, prod).
	// +default="kind"
	env string,
) (*dagger.Directory, error) {
	args, err := renderArgs(env, renderOutPath)
	if err != nil {
		return nil, err
	}
	cli, err := m.cli()
	if err != nil {
		return nil, err
	}
	ctr, err := cli.
		WithDirectory(renderOutPath, dag.Directory()).
		WithExec(args).
		Sync(ctx)
	if err != nil {
		return nil, execFailure("statex render --env "+env, err)
	}
	return ctr.Directory(renderOutPath), nil
}

// Validate the rendered manifests of one or more environments and return the
// report in every format.
//
// Runs `statex validate --env ENV` once per format: the Report's text, json,
// markdown, junit and sarif files, its log and exit code (0 clean, 1 error
// findings, 2 usage or I/O error). Findings do not fail the call unless
// --fail-on-error is given; then the error carries the text report. Cached:
// the same source and arguments give the same report.
func (m *Statex) Validate(
	ctx context.Context,
	// Environment(s) to validate: a name from manifests/environments.yaml
	// (kind, preview, staging, prod), several comma-separated, or "all".
	// +default="kind"
	env string,
	// Fail the call when the validator exits non-zero (for CI), with the
	// report in the error, instead of returning the Report.
	// +optional
	failOnError bool,
) (*Report, error) {
	p, err := validatePlan(env)
	if err != nil {
		return nil, err
	}
	return m.run(ctx, p, nil, nil, failOnError)
}

// ValidateAll validates every environment and fails on any error finding,
// with the report in the error: what `dagger check` runs (and CI).
//
// +check
func (m *Statex) ValidateAll(ctx context.Context) error {
	p, err := validatePlan("all")
	if err != nil {
		return err
	}
	_, err = m.run(ctx, p, nil, nil, true)
	return err
}

// UnitTests runs this module's own unit tests (`go test ./...` in .dagger:
// argument mapping, plans, ignore list, generated-code drift, the join
// script against a fake docker), so `dagger check` covers them too. Cached
// like Validate: a pure function of the module and repository source.
//
// +check
func (m *Statex) UnitTests(ctx context.Context) error {
	cli, err := m.goContainer()
	if err != nil {
		return err
	}
	// the tests read ../dagger.json: the module goes where it sits in the
	// repository
	_, err = cli.
		WithDirectory(moduleTestPath, dag.CurrentModule().Source()).
		WithWorkdir(moduleTestPath).
		WithExec(moduleTestArgs()).
		Sync(ctx)
	if err != nil {
		return execFailure("go test ./... (the module's unit tests)", err)
	}
	return nil
}

// Deploy an environment to its cluster and return the deploy report.
//
// Runs `statex deploy --env ENV --kubeconfig KUBECONFIG --output FORMAT`:
// render and validate (nothing is applied from a set with errors), then
// staged server-side apply with readiness waits, service signals, prune and
// rollback. The kubeconfig must reach the API server from inside a container:
// a staging or prod context, or, for a kind cluster on this host, one that
// names the control plane's address on kind's Docker network together with
// --docker (see the module README). The Report carries the exit code (1: the
// deploy failed and was rolled back) and the files; --fail-on-error fails
// the call on a non-zero exit. Never cached: every call deploys.
//
// +cache="never"
func (m *Statex) Deploy(
	ctx context.Context,
	// Environment to deploy: a name from manifests/environments.yaml.
	// +default="kind"
	env string,
	// Kubeconfig for the environment's cluster: its content, e.g.
	// file:./kubeconfig, or env:VAR where VAR holds the kubeconfig itself
	// (not a path to it).
	kubeconfig *dagger.Secret,
	// Server-side dry run: report the per-object diff, write nothing.
	// +optional
	dryRun bool,
	// Stdout format, kept as the Report's text or json file: text or json
	// (the verb runs once; markdown and junit are always written).
	// +default="text"
	format string,
	// The host's Docker engine socket, for a kind cluster on this host: the
	// Dagger engine's own container joins the "kind" network first, so the
	// kubeconfig's control-plane address is reachable. Omit for other
	// clusters.
	// +optional
	docker *dagger.Socket,
	// Fail the call when the deploy exits non-zero (for CI), with the
	// report in the error, instead of returning the Report.
	// +optional
	failOnError bool,
) (*Report, error) {
	p, err := deployPlan(newCallID(), env, format, dryRun, docker != nil)
	if err != nil {
		return nil, err
	}
	return m.run(ctx, p, kubeconfig, docker, failOnError)
}

// Test checks every deployed service at protocol level and returns the
// report.
//
// Runs `statex check --env ENV --kubeconfig KUBECONFIG --output FORMAT`:
// replication read-back, queues and dead-lettering, Sentinel agreement and
// more, through port-forwards from the container. Services whose image
// cannot be built offline report SKIPPED, never PASS. Exit 1 (a FAIL) is in
// the Report; --fail-on-error fails the call instead. Never cached: every
// call checks the cluster as it is now.
//
// +cache="never"
func (m *Statex) Test(
	ctx context.Context,
	// Environment to check: a name from manifests/environments.yaml.
	// +default="kind"
	env string,
	// Kubeconfig for the environment's cluster (its content: file:./path,
	// or env:VAR holding the kubeconfig itself).
	kubeconfig *dagger.Secret,
	// Stdout format, kept as the Report's text or json file: text or json.
	// +default="text"
	format string,
	// The host's Docker engine socket, for a kind cluster on this host (see
	// Deploy).
	// +optional
	docker *dagger.Socket,
	// Fail the call when a check fails or cannot run (non-zero exit).
	// +optional
	failOnError bool,
) (*Report, error) {
	p, err := testPlan(newCallID(), env, format, docker != nil)
	if err != nil {
		return nil, err
	}
	return m.run(ctx, p, kubeconfig, docker, failOnError)
}

// Drill rehearses failures on a deployed environment and returns the
// report with the measured RTO, recovery time and RPO of each scenario.
//
// Runs `statex drill --env ENV --kubeconfig KUBECONFIG --output FORMAT
// [SCENARIO…]`: while a client writes the way applications do, a leader's
// or master's pod is killed or its process crashed; a scenario whose RTO or
// RPO misses its gate makes exit code 1 (--fail-on-error: the call fails).
// This breaks things on purpose: point it at an environment where that is
// acceptable (kind, a preview, a drill cluster). Never cached.
//
// +cache="never"
func (m *Statex) Drill(
	ctx context.Context,
	// Environment to drill: a name from manifests/environments.yaml.
	// +default="kind"
	env string,
	// Kubeconfig for the environment's cluster (its content: file:./path,
	// or env:VAR holding the kubeconfig itself).
	kubeconfig *dagger.Secret,
	// Scenarios to run (default: all; see `statex drill --help`).
	// +optional
	scenarios []string,
	// Stdout format, kept as the Report's text or json file: text or json.
	// +default="text"
	format string,
	// The host's Docker engine socket, for a kind cluster on this host (see
	// Deploy).
	// +optional
	docker *dagger.Socket,
	// Fail the call when a scenario misses its gate (non-zero exit).
	// +optional
	failOnError bool,
) (*Report, error) {
	p, err := drillPlan(newCallID(), env, format, scenarios, docker != nil)
	if err != nil {
		return nil, err
	}
	return m.run(ctx, p, kubeconfig, docker, failOnError)
}

// Backup takes every service's backup now and returns the report: each
// job run from its CronJob, its backup found at the environment's backup
// site and read back as the job's own user; with list, only what the site
// holds, judged (missing, empty or stale fails).
//
// Runs `statex backup --env ENV --kubeconfig KUBECONFIG --output FORMAT
// [--list] [SERVICE…]`. A kind environment's site is the container beside
// its cluster: give the Docker socket so the call joins the kind network
// and reaches it by name. Never cached.
//
// +cache="never"
func (m *Statex) Backup(
	ctx context.Context,
	// Environment whose backups to take: a name from manifests/environments.yaml.
	// +default="kind"
	env string,
	// Kubeconfig for the environment's cluster (its content: file:./path,
	// or env:VAR holding the kubeconfig itself).
	kubeconfig *dagger.Secret,
	// Services to back up (default: all; see `statex backup --help`).
	// +optional
	services []string,
	// Take nothing: list what the site holds and judge it.
	// +optional
	list bool,
	// Stdout format, kept as the Report's text or json file: text or json.
	// +default="text"
	format string,
	// The host's Docker engine socket, for a kind cluster on this host (see
	// Deploy).
	// +optional
	docker *dagger.Socket,
	// Fail the call when a backup fails (non-zero exit).
	// +optional
	failOnError bool,
) (*Report, error) {
	p, err := backupPlan(newCallID(), env, format, services, list, docker != nil)
	if err != nil {
		return nil, err
	}
	return m.run(ctx, p, kubeconfig, docker, failOnError)
}

// Up brings the local kind environment up with one command and returns the
// deploy report: validate, build images, create or reuse the kind cluster,
// load images, deploy.
//
// Runs `statex up --env ENV` against the host's Docker engine (pass its
// socket: --docker unix:///var/run/docker.sock). kind's nodes and the
// images live on the host, so a second call reuses them. First this
// engine's own container joins the "kind" Docker network (created if
// missing), so the CLI reaches the API server at the control plane's
// address there (STATEX_KIND_API=internal). Never cached.
//
// +cache="never"
func (m *Statex) Up(
	ctx context.Context,
	// The host's Docker engine socket.
	docker *dagger.Socket,
	// Environment to bring up (its target must be a kind cluster).
	// +default="kind"
	env string,
	// Stdout format, kept as the Report's text or json file: text or json.
	// +default="text"
	format string,
	// Fail the call when up exits non-zero (for CI).
	// +optional
	failOnError bool,
) (*Report, error) {
	p, err := upPlan(newCallID(), env, format)
	if err != nil {
		return nil, err
	}
	return m.run(ctx, p, nil, docker, failOnError)
}

// run turns a plan into Dagger calls: the join (if any) to completion, then
// the CLI container's steps and the verbs, each with any exit code; then the
// Report, or, under failOnError and a non-zero exit, an error quoting it.
// Kept free of decisions; those are in the plan and reportOutcome.
func (m *Statex) run(ctx context.Context, p plan, kubeconfig *dagger.Secret, docker *dagger.Socket, failOnError bool) (*Report, error) {
	if len(p.join) > 0 {
		join, err := apply(dag.Container().From(dockerCLIImage), p.join, kubeconfig, docker)
		if err != nil {
			return nil, err
		}
		// before the verb: it needs the network already joined
		if _, err := join.Sync(ctx); err != nil {
			return nil, execFailure("join the kind network", err)
		}
	}
	ctr, err := m.cli()
	if err != nil {
		return nil, err
	}
	if ctr, err = apply(ctr, p.cli, kubeconfig, docker); err != nil {
		return nil, err
	}
	var codes []int
	for _, v := range p.verbs {
		ctr, err = ctr.WithExec(v.args, dagger.ContainerWithExecOpts{
			Expect:                   dagger.ReturnTypeAny,
			RedirectStdout:           v.stdout,
			RedirectStderr:           v.stderr,
			InsecureRootCapabilities: p.insecure,
		}).Sync(ctx)
		if err != nil {
			// a step before the verb failed (the Go build, an install)
			return nil, execFailure("statex "+p.what, err)
		}
		code, err := ctr.ExitCode(ctx)
		if err != nil {
			return nil, err
		}
		codes = append(codes, code)
	}
	code, err := sameExitCode(p.what, codes)
	if err != nil {
		return nil, err
	}
	dir := ctr.Directory(reportDir)
	err = reportOutcome(p.what, code, failOnError, func() (string, string, error) {
		report, err := dir.File(p.report).Contents(ctx)
		if err != nil {
			return "", "", err
		}
		log, err := dir.File(reportLog).Contents(ctx)
		return report, log, err
	})
	if err != nil {
		return nil, err
	}
	return newReport(p.what, code, dir, dir.File), nil
}

// apply adds a plan's steps to a container, in order.
func apply(ctr *dagger.Container, ops []op, kubeconfig *dagger.Secret, docker *dagger.Socket) (*dagger.Container, error) {
	for _, o := range ops {
		switch o.kind {
		case opExec:
			ctr = ctr.WithExec(o.args)
		case opEnv:
			ctr = ctr.WithEnvVariable(o.name, o.value)
		case opKubeconfig:
			if kubeconfig == nil {
				return nil, errors.New("no kubeconfig given")
			}
			ctr = ctr.WithMountedSecret(kubeconfigPath, kubeconfig)
		case opDocker:
			if docker == nil {
				return nil, errors.New("no Docker socket given (--docker unix:///var/run/docker.sock)")
			}
			ctr = ctr.WithUnixSocket(dockerSocketPath, docker)
		case opReportDir:
			ctr = ctr.WithDirectory(reportDir, reportSkeleton())
		default:
			return nil, fmt.Errorf("unknown step kind %d", o.kind)
		}
	}
	return ctr, nil
}

// execFailure keeps the failed command's output in the error: the SDK's
// ExecError message alone says only "exit code: 1".
func execFailure(what string, err error) error {
	var ee *dagger.ExecError
	if !errors.As(err, &ee) {
		return fmt.Errorf("%s: %w", what, err)
	}
	out := lastLines(strings.TrimSpace(ee.Stderr), 40)
	if out == "" {
		out = lastLines(strings.TrimSpace(ee.Stdout), 40)
	}
	// not the command line: the join's is a whole script
	return fmt.Errorf("%s: exit code %d: %s", what, ee.ExitCode, out)
}

// goContainer is the Go toolchain image with the module and build caches
// and the repository source at srcPath as the working directory.
func (m *Statex) goContainer() (*dagger.Container, error) {
	if m.Source == nil {
		return nil, errors.New("no repository source: construct the module with New (dagger call passes the repository root, or --source DIR)")
	}
	image := m.GoImage
	if image == "" {
		image = defaultGoImage
	}
	return dag.Container().
		From(image).
		WithMountedCache(goModCachePath, dag.CacheVolume(goModCacheVolume)).
		WithMountedCache(goBuildCachePath, dag.CacheVolume(goBuildCacheVolume)).
		WithEnvVariable("GOTOOLCHAIN", "local").
		WithEnvVariable("CGO_ENABLED", "0").
		WithDirectory(srcPath, m.Source).
		WithWorkdir(srcPath), nil
}

// cli is goContainer with the statex CLI built from source at cliPath.
func (m *Statex) cli() (*dagger.Container, error) {
	ctr, err := m.goContainer()
	if err != nil {
		return nil, err
	}
	return ctr.WithExec(buildArgs()), nil
}
