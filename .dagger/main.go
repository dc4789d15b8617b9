// Render and validate the Statex infrastructure manifests, the same way on a
// laptop and in CI.
//
// Every function builds the statex CLI (pipelines/cmd/statex) from the
// repository source inside a Go container, runs one verb of it and returns the
// verb's result. All logic lives in the CLI; this module only assembles the
// container, passes the arguments through and reports.
//
// Examples:
//
//	dagger call render --env kind export --path ./rendered
//	dagger call validate --env staging --format sarif
//	dagger check
package main

import (
	"context"
	"fmt"

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
// Runs `statex render --env ENV -o /out` (kustomize overlays from manifests/,
// rendered in-process by the CLI) and returns /out, which holds ENV.yaml.
// Save it with `dagger call render --env kind export --path ./rendered`. The
// CLI also prints the content hash of the rendered set (visible in the trace).
func (m *Statex) Render(
	ctx context.Context,
	// Repository root; defaults to the repository this module lives in.
	// +defaultPath="/"
	// +ignore=[".git", "**/bin", "**/dist", "**/.cache", "**/node_modules", "**/*.test", ".dagger"]
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
		return nil, fmt.Errorf("statex render --env %s: %w", env, err)
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
// (exit code 2) fail with the CLI's error output.
//
// +check
func (m *Statex) Validate(
	ctx context.Context,
	// Repository root; defaults to the repository this module lives in.
	// +defaultPath="/"
	// +ignore=[".git", "**/bin", "**/dist", "**/.cache", "**/node_modules", "**/*.test", ".dagger"]
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
// rollback. The kubeconfig must reach the API server from inside a container
// (a staging or prod context; for the local kind cluster use Up). A failed
// deploy (exit 1) fails the function with the report in the error.
func (m *Statex) Deploy(
	ctx context.Context,
	// Repository root; defaults to the repository this module lives in.
	// +defaultPath="/"
	// +ignore=[".git", "**/bin", "**/dist", "**/.cache", "**/node_modules", "**/*.test", ".dagger"]
	source *dagger.Directory,
	// Environment to deploy: a name from manifests/environments.yaml.
	// +default="kind"
	env string,
	// Kubeconfig for the environment's cluster (e.g. env:KUBECONFIG_STAGING).
	kubeconfig *dagger.Secret,
	// Server-side dry run: report the per-object diff, write nothing.
	// +optional
	dryRun bool,
	// Report format: text, json or markdown.
	// +default="text"
	format string,
) (string, error) {
	args, err := deployArgs(env, kubeconfigPath, format, dryRun)
	if err != nil {
		return "", err
	}
	ctr := m.cli(source).WithMountedSecret(kubeconfigPath, kubeconfig)
	return runVerb(ctx, ctr, args, "deploy --env "+env)
}

// Test checks every deployed service at protocol level and returns the
// report.
//
// Runs `statex check --env ENV --kubeconfig KUBECONFIG --output FORMAT`:
// replication read-back, queues and dead-lettering, Sentinel agreement and
// more, through port-forwards from the container. Services whose image
// cannot be built offline report SKIPPED, never PASS. Any FAIL fails the
// function with the report in the error.
func (m *Statex) Test(
	ctx context.Context,
	// Repository root; defaults to the repository this module lives in.
	// +defaultPath="/"
	// +ignore=[".git", "**/bin", "**/dist", "**/.cache", "**/node_modules", "**/*.test", ".dagger"]
	source *dagger.Directory,
	// Environment to check: a name from manifests/environments.yaml.
	// +default="kind"
	env string,
	// Kubeconfig for the environment's cluster.
	kubeconfig *dagger.Secret,
	// Report format: text, json or markdown.
	// +default="text"
	format string,
) (string, error) {
	args, err := checkArgs(env, kubeconfigPath, format)
	if err != nil {
		return "", err
	}
	ctr := m.cli(source).WithMountedSecret(kubeconfigPath, kubeconfig)
	return runVerb(ctx, ctr, args, "check --env "+env)
}

// Drill rehearses failures on a deployed environment and returns the
// report with the measured RTO, recovery time and RPO of each scenario.
//
// Runs `statex drill --env ENV --kubeconfig KUBECONFIG --output FORMAT
// [SCENARIO…]`: while a client writes the way applications do, a leader's
// or master's pod is killed or its process crashed; a scenario whose RTO or
// RPO misses its gate fails the function with the report in the error.
// This breaks things on purpose: point it at an environment where that is
// acceptable (kind, a preview, a drill cluster).
func (m *Statex) Drill(
	ctx context.Context,
	// Repository root; defaults to the repository this module lives in.
	// +defaultPath="/"
	// +ignore=[".git", "**/bin", "**/dist", "**/.cache", "**/node_modules", "**/*.test", ".dagger"]
	source *dagger.Directory,
	// Environment to drill: a name from manifests/environments.yaml.
	// +default="kind"
	env string,
	// Kubeconfig for the environment's cluster.
	kubeconfig *dagger.Secret,
	// Scenarios to run (default: all; see `statex drill --help`).
	// +optional
	scenarios []string,
	// Report format: text, json or markdown.
	// +default="text"
	format string,
) (string, error) {
	args, err := drillArgs(env, kubeconfigPath, format, scenarios)
	if err != nil {
		return "", err
	}
	ctr := m.cli(source).WithMountedSecret(kubeconfigPath, kubeconfig)
	return runVerb(ctx, ctr, args, "drill --env "+env)
}

// Up brings the local kind environment up with one command and returns the
// deploy report: validate, build images, create or reuse the kind cluster,
// load images, deploy.
//
// Runs `statex up --env ENV` against the host's Docker engine (pass its
// socket: --docker unix:///var/run/docker.sock). kind's nodes and the
// images live on the host, so a second call reuses them. The function joins
// the Dagger engine's container to the "kind" Docker network so the CLI
// reaches the API server at the control-plane's address there
// (STATEX_KIND_API=internal).
func (m *Statex) Up(
	ctx context.Context,
	// Repository root; defaults to the repository this module lives in.
	// +defaultPath="/"
	// +ignore=[".git", "**/bin", "**/dist", "**/.cache", "**/node_modules", "**/*.test", ".dagger"]
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
	args, err := upArgs(env, format)
	if err != nil {
		return "", err
	}
	ctr := m.cli(source).
		// kind and the image builder drive Docker through its CLI;
		// debootstrap builds the Debian base image.
		WithExec([]string{"sh", "-c", "apt-get update -qq && apt-get install -y -qq --no-install-recommends docker.io debootstrap >/dev/null"}).
		WithUnixSocket(dockerSocketPath, docker).
		WithEnvVariable("STATEX_KIND_API", "internal").
		WithExec([]string{"sh", "-c", joinKindNetwork})
	return runVerb(ctx, ctr, args, "up --env "+env, dagger.ContainerWithExecOpts{InsecureRootCapabilities: true})
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
		return "", fmt.Errorf("statex %s: %w", what, err)
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
