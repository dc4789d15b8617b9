package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/statex/infrastructure/pipelines/check"
	"github.com/statex/infrastructure/pipelines/manifest"
	"github.com/statex/infrastructure/pipelines/report"
)

const checkHelp = `Check that the deployed services work at protocol level: data written is
read back on replicas, messages flow and dead-letter, Sentinels agree.

Each service's check is a list of named steps with timings, a verdict
(PASS, FAIL, SKIPPED with the reason) and the evidence observed. Checks run
here, with real protocol clients, reaching pods through API-server
port-forwards on 127.0.0.1; test data is unique per run and cleaned up.
A service whose pods cannot pull an image the environment lists under
unavailableImages (manifests/environments.yaml; kind: the upstream images
that cannot be built offline) reports SKIPPED, never PASS; any other image
that cannot be pulled FAILs its check. What Prometheus must scrape is
derived from the environment's rendered manifests.

Usage:
  statex check --env ENV [SERVICE…] [--output text|json|markdown] [--junit FILE]

Examples:
  statex check --env kind
  statex check --env kind postgres redis --output json

Exit codes: 0 no failure, 1 a check failed, 2 usage errors, a report file
that cannot be written, or an unreachable cluster.
`

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("check", checkHelp, stderr)
	envName := fs.String("env", "kind", "environment to check")
	format := fs.String("output", "text", "report format on stdout: text, json or markdown")
	junit := fs.String("junit", "", "also write a JUnit XML report to FILE")
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig (default: the kind cluster's, or $KUBECONFIG for context targets)")
	timeout := fs.Duration("timeout", 3*time.Minute, "how long one service's check may take")
	gh := fs.Bool("github", os.Getenv("GITHUB_ACTIONS") == "true", "write a GitHub Actions step summary")
	root := fs.String("root", "", "repository root (default: found from the working directory)")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	if !validFormat(*format) {
		fmt.Fprintf(stderr, "statex check: --output %q: want text, json or markdown\n", *format)
		return exitUsage
	}
	if code := preflightReports("check", stderr, reportFile{"junit", *junit}); code >= 0 {
		return code
	}
	_, envs, err := loadRepo(*root)
	if err != nil {
		fmt.Fprintln(stderr, "statex check:", err)
		return exitUsage
	}
	return checkEnv(ctx, envs, *envName, fs.Args(), *kubeconfig, *format, *junit, *gh, *timeout, stdout, stderr)
}

// checkEnv runs the checks of an environment; shared by check and up.
func checkEnv(ctx context.Context, envs *manifest.Environments, envName string, services []string, kubeconfig, format, junit string, gh bool, timeout time.Duration, stdout, stderr io.Writer) int {
	env, err := envs.Get(envName)
	if err != nil {
		fmt.Fprintln(stderr, "statex check:", err)
		return exitUsage
	}
	cfg, err := restConfig(env, kubeconfig)
	if err != nil {
		fmt.Fprintln(stderr, "statex check:", err)
		return exitUsage
	}
	// The rendered set is what should be running: the checks judge the
	// cluster against it. envs.Path is <root>/manifests/environments.yaml.
	rendered, err := manifest.Render(ctx, filepath.Dir(filepath.Dir(envs.Path)), envs, env.Name)
	if err != nil {
		fmt.Fprintln(stderr, "statex check:", err)
		return exitUsage
	}
	rep, err := check.Run(ctx, check.Options{
		Env: env.Name, Namespace: envs.NamespaceOf(env), Config: cfg, Services: services, Timeout: timeout,
		MayBeUnavailable: env.MayBeUnavailable, Manifests: rendered.Objects,
		Progress: func(r check.Result) {
			fmt.Fprintf(stderr, "check: %-7s %-14s %.1fs %s\n", r.Verdict, r.Service, r.Seconds, r.Reason)
		},
	})
	if err != nil {
		fmt.Fprintln(stderr, "statex check:", err)
		return exitUsage
	}
	var failed []string
	for _, r := range rep.Results {
		if r.Verdict == check.Fail {
			failed = append(failed, r.Service)
		}
	}
	return emitVerdicts("check", format, junit, gh, verdictReport{
		value:    rep,
		text:     func(w io.Writer, st report.Style) error { return report.CheckText(w, rep, st) },
		markdown: func() string { return report.CheckMarkdown(rep) },
		junit:    func(w io.Writer) error { return report.CheckJUnit(w, rep) },
		failed:   failed,
	}, stdout, stderr)
}
