// Render and validate the Statex infrastructure manifests, the same way on a
// laptop and in CI.
//
// Every function builds the statex CLI (pipelines/cmd/statex) from the
// repository source inside a Go container, runs one verb of it and returns the
// verb's result. All logic lives in the CLI; this module only assembles the
// container, passes the arguments through and reports.
//
// Render and Validate are pure functions of the source and cached by the
// engine; Up, Deploy, Test and Drill touch a live cluster or the host's
// Docker and run afresh on every call (plan.go).
//
// Examples:
//
//	dagger call render --env kind export --path ./rendered
//	dagger call validate --env staging --format sarif
//	dagger check
//	dagger call up --docker unix:///var/run/docker.sock
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
}

// New configures the module (flags given before the function name, e.g.
// `dagger call --go-image=golang:1.26.1-bookworm render`).
func New(
	// Go toolchain image used to build and run the statex CLI. It must provide
	// at least the Go version required by the repository's go.mod: the build
	// runs with GOTOOLCHAIN=local and never downloads a toolchain.
	// +optional
	// +default="golang:1.26-bookworm"
	goImage string,
) *Statex {
	if goImage == "" {
		goImage = defaultGoImage
	}
	return &Statex{GoImage: goImage}
}

// Render the Kubernetes manifests of one environment and return them as a
// directory.
//
// Runs `statex render --env ENV --output-dir /out` (kustomize overlays from manifests/,
// rendered in-process by the CLI) and returns /out, which holds ENV.yaml.
// Save it with `dagger call render --env kind export --path ./rendered`. The
// CLI also prints the content hash of the rendered set (visible in the trace).
// Cached: the result is a pure function of the source and the arguments.
func (m *Statex) Render(
	ctx context.Context,
	// Repository root; defaults to the repository this module lives in.
	// +defaultPath="/"
	// +ignore=[".git", ".dagger", "bin", "dist", "out", "images/*/bin", "**/*.test", "**/*.out"]
	source *dagger.Directory,
	// Environment to render: a name from manifests/environments.yaml (kind,
	// preview, staging, prod).
	// +default="kind"
	env string,
) (*dagger.Directory, error) {
	args, err := renderArgs(env, renderOutPath)
	if err != nil {
		return nil, err
	}
	ctr, err := m.cli(source).
		WithDirectory(renderOutPath, dag.Directory()).
		WithExec(args).
		Sync(ctx)
	if err != nil {
		return nil, execFailure("statex render --env "+env, err)
	}
	return ctr.Directory(renderOutPath), nil
}

// Validate the rendered manifests of one or more environments and return the
// report.
//
// Runs `statex validate --env ENV --output FORMAT`. A clean set returns the
// report. If the validator finds errors (exit code 1) the function fails, and
// the error message carries the full report, so `dagger call` and
// `dagger check` go red in CI with the findings visible. Usage or I/O errors
// (exit code 2) fail with the CLI's error output. Cached like Render: the
// same source and arguments give the same report.
//
// +check
func (m *Statex) Validate(
	ctx context.Context,
	// Repository root; defaults to the repository this module lives in.
	// +defaultPath="/"
	// +ignore=[".git", ".dagger", "bin", "dist", "out", "images/*/bin", "**/*.test", "**/*.out"]
	source *dagger.Directory,
	// Environment(s) to validate: a name from manifests/environments.yaml
	// (kind, preview, staging, prod), several comma-separated, or "all".
	// +default="kind"
	env string,
	// Report format: text, json, sarif, junit or markdown.
	// +default="text"
	format string,
) (string, error) {
	args, err := validateArgs(env, format)
	if err != nil {
		return "", err
	}
	// Exit 1 means "findings": the report still comes back, in the error.
	return runVerb(ctx, m.cli(source), args, fmt.Sprintf("validate --env %q", env))
}

// Deploy an environment to its cluster and return the deploy report.
//
// Runs `statex deploy --env ENV --kubeconfig KUBECONFIG --output FORMAT`:
// render and validate (nothing is applied from a set with errors), then
// staged server-side apply with readiness waits, service signals, prune and
// rollback. The kubeconfig must reach the API server from inside a container:
// a staging or prod context, or, for a kind cluster on this host, one that
// names the control plane's address on kind's Docker network together with
// --docker (see the module README). A failed deploy (exit 1) fails the
// function with the report in the error. Never cached: every call deploys.
//
// +cache="never"
func (m *Statex) Deploy(
	ctx context.Context,
	// Repository root; defaults to the repository this module lives in.
	// +defaultPath="/"
	// +ignore=[".git", ".dagger", "bin", "dist", "out", "images/*/bin", "**/*.test", "**/*.out"]
	source *dagger.Directory,
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
	// Report format: text, json or markdown.
	// +default="text"
	format string,
	// The host's Docker engine socket, for a kind cluster on this host: the
	// Dagger engine's own container joins the "kind" network first, so the
	// kubeconfig's control-plane address is reachable. Omit for other
	// clusters.
	// +optional
	docker *dagger.Socket,
) (string, error) {
	p, err := deployPlan(newCallID(), env, format, dryRun, docker != nil)
	if err != nil {
		return "", err
	}
	return m.run(ctx, source, p, kubeconfig, docker)
}

// Test checks every deployed service at protocol level and returns the
// report.
//
// Runs `statex check --env ENV --kubeconfig KUBECONFIG --output FORMAT`:
// replication read-back, queues and dead-lettering, Sentinel agreement and
// more, through port-forwards from the container. Services whose image
// cannot be built offline report SKIPPED, never PASS. Any FAIL fails the
// function with the report in the error. Never cached: every call checks
// the cluster as it is now.
//
// +cache="never"
func (m *Statex) Test(
	ctx context.Context,
	// Repository root; defaults to the repository this module lives in.
	// +defaultPath="/"
	// +ignore=[".git", ".dagger", "bin", "dist", "out", "images/*/bin", "**/*.test", "**/*.out"]
	source *dagger.Directory,
	// Environment to check: a name from manifests/environments.yaml.
	// +default="kind"
	env string,
	// Kubeconfig for the environment's cluster (its content: file:./path,
	// or env:VAR holding the kubeconfig itself).
	kubeconfig *dagger.Secret,
	// Report format: text, json or markdown.
	// +default="text"
	format string,
	// The host's Docker engine socket, for a kind cluster on this host (see
	// Deploy).
	// +optional
	docker *dagger.Socket,
) (string, error) {
	p, err := testPlan(newCallID(), env, format, docker != nil)
	if err != nil {
		return "", err
	}
	return m.run(ctx, source, p, kubeconfig, docker)
}

// Drill rehearses failures on a deployed environment and returns the
// report with the measured RTO, recovery time and RPO of each scenario.
//
// Runs `statex drill --env ENV --kubeconfig KUBECONFIG --output FORMAT
// [SCENARIO…]`: while a client writes the way applications do, a leader's
// or master's pod is killed or its process crashed; a scenario whose RTO or
// RPO misses its gate fails the function with the report in the error.
// This breaks things on purpose: point it at an environment where that is
// acceptable (kind, a preview, a drill cluster). Never cached.
//
// +cache="never"
func (m *Statex) Drill(
	ctx context.Context,
	// Repository root; defaults to the repository this module lives in.
	// +defaultPath="/"
	// +ignore=[".git", ".dagger", "bin", "dist", "out", "images/*/bin", "**/*.test", "**/*.out"]
	source *dagger.Directory,
	// Environment to drill: a name from manifests/environments.yaml.
	// +default="kind"
	env string,
	// Kubeconfig for the environment's cluster (its content: file:./path,
	// or env:VAR holding the kubeconfig itself).
	kubeconfig *dagger.Secret,
	// Scenarios to run (default: all; see `statex drill --help`).
	// +optional
	scenarios []string,
	// Report format: text, json or markdown.
	// +default="text"
	format string,
	// The host's Docker engine socket, for a kind cluster on this host (see
	// Deploy).
	// +optional
	docker *dagger.Socket,
) (string, error) {
	p, err := drillPlan(newCallID(), env, format, scenarios, docker != nil)
	if err != nil {
		return "", err
	}
	return m.run(ctx, source, p, kubeconfig, docker)
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
	// Repository root; defaults to the repository this module lives in.
	// +defaultPath="/"
	// +ignore=[".git", ".dagger", "bin", "dist", "out", "images/*/bin", "**/*.test", "**/*.out"]
	source *dagger.Directory,
	// The host's Docker engine socket.
	docker *dagger.Socket,
	// Environment to bring up (its target must be a kind cluster).
	// +default="kind"
	env string,
	// Report format: text, json or markdown.
	// +default="text"
	format string,
) (string, error) {
	p, err := upPlan(newCallID(), env, format)
	if err != nil {
		return "", err
	}
	return m.run(ctx, source, p, nil, docker)
}

// run turns a plan into Dagger calls: the join (if any) to completion, then
// the CLI container's steps and the verb. Kept free of decisions; those are
// in the plan.
func (m *Statex) run(ctx context.Context, source *dagger.Directory, p plan, kubeconfig *dagger.Secret, docker *dagger.Socket) (string, error) {
	if len(p.join) > 0 {
		join, err := apply(dag.Container().From(dockerCLIImage), p.join, kubeconfig, docker)
		if err != nil {
			return "", err
		}
		// before the verb: it needs the network already joined
		if _, err := join.Sync(ctx); err != nil {
			return "", execFailure("join the kind network", err)
		}
	}
	ctr, err := apply(m.cli(source), p.cli, kubeconfig, docker)
	if err != nil {
		return "", err
	}
	return runVerb(ctx, ctr, p.verb, p.what, dagger.ContainerWithExecOpts{InsecureRootCapabilities: p.insecure})
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

// runVerb runs a CLI verb expecting any exit code and maps it to a result.
func runVerb(ctx context.Context, ctr *dagger.Container, args []string, what string, opts ...dagger.ContainerWithExecOpts) (string, error) {
	o := dagger.ContainerWithExecOpts{}
	if len(opts) > 0 {
		o = opts[0]
	}
	o.Expect = dagger.ReturnTypeAny
	ctr, err := ctr.WithExec(args, o).Sync(ctx)
	if err != nil {
		// a step before the verb failed (the Go build, an install)
		return "", execFailure("statex "+what, err)
	}
	code, err := ctr.ExitCode(ctx)
	if err != nil {
		return "", err
	}
	stdout, err := ctr.Stdout(ctx)
	if err != nil {
		return "", err
	}
	stderr, err := ctr.Stderr(ctx)
	if err != nil {
		return "", err
	}
	return verbResult(what, code, stdout, stderr)
}

// cli returns a container with the statex CLI built from source at cliPath and
// the source at srcPath as the working directory.
func (m *Statex) cli(source *dagger.Directory) *dagger.Container {
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
		WithDirectory(srcPath, source).
		WithWorkdir(srcPath).
		WithExec(buildArgs())
}
