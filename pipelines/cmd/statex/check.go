package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/statex/infrastructure/pipelines/check"
	"github.com/statex/infrastructure/pipelines/manifest"
	"github.com/statex/infrastructure/pipelines/report"
	"github.com/statex/infrastructure/pipelines/target"
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
  statex check [--env ENV] [SERVICE…] [--output text|json|markdown] [--junit FILE]
               [--kubeconfig FILE] [--context NAME] [--timeout D]

Examples:
  statex check --env kind
  statex check --env kind postgres redis --output json
  statex check --env kind --context kind-statex   # through the context cluster up merged into $KUBECONFIG

Exit codes: 0 no failure, 1 a check failed, 2 usage errors, a report file
that cannot be written, or an unreachable cluster.
`

func (a *app) checkCommand() *cobra.Command {
	var f checkOpts
	cmd := &cobra.Command{
		Use: "check", Short: "check every service at protocol level (replication, queues, mail...)", Long: checkHelp,
		ValidArgsFunction: completeServices,
	}
	a.addEnv(cmd, &f.env, defaultEnv, "environment to check")
	addOutput(cmd, &f.format, formatText, reportFormats, "report format on stdout")
	cmd.Flags().StringVar(&f.junit, "junit", "", "also write a JUnit XML report to FILE")
	cmd.Flags().DurationVar(&f.timeout, "timeout", checkTimeout, "how long one service's check may take")
	cmd.Flags().BoolVar(&f.gh, "github", os.Getenv("GITHUB_ACTIONS") == "true", "write a GitHub Actions step summary")
	f.kube = a.addKubeFlags(cmd)
	cmd.RunE = a.verb(func(cmd *cobra.Command, args []string) (int, error) {
		if err := checkOutput(f.format, reportFormats); err != nil {
			return 0, err
		}
		for _, s := range args {
			if !slices.Contains(check.Services(), s) {
				return 0, usagef("no check for service %q (have: %s)", s, strings.Join(check.Services(), ", "))
			}
		}
		if code := preflightReports("check", a.stderr, reportFile{"junit", f.junit}); code >= 0 {
			return code, nil
		}
		t, err := a.resolve(f.env, f.kube)
		if err != nil {
			fmt.Fprintln(a.stderr, "statex check:", err)
			return exitUsage, nil
		}
		// The rendered set is what should be running: the checks judge the
		// cluster against it (Prometheus' expected targets).
		rendered, err := t.Render(cmd.Context())
		if err != nil {
			fmt.Fprintln(a.stderr, "statex check:", err)
			return exitUsage, nil
		}
		f.services = args
		rep, err := check.Run(cmd.Context(), f.options(t, rendered, a.stderr))
		if err != nil {
			fmt.Fprintln(a.stderr, "statex check:", err)
			return exitUsage, nil
		}
		return a.emitCheck(rep, f, a.stdout), nil
	})
	return cmd
}

// checkOpts are what check (and up, for its checks) runs with.
type checkOpts struct {
	env, format, junit string
	services           []string
	gh                 bool
	timeout            time.Duration
	kube               *genericclioptions.ConfigFlags
}

// options are the check options the flags ask for.
func (f checkOpts) options(t *target.Target, rendered *manifest.Rendered, progress io.Writer) check.Options {
	o := check.Options{Target: t, Services: f.services, Timeout: f.timeout, Progress: report.CheckProgress(progress)}
	if rendered != nil {
		o.Manifests = rendered.Objects
	}
	return o
}

// emitCheck reports a check run; up hands in stderr as stdout (its stdout
// is the deploy report).
func (a *app) emitCheck(rep *check.Report, f checkOpts, stdout io.Writer) int {
	rep.Warnings = a.warnings.list()
	return a.emitVerdicts("check", f.format, f.junit, f.gh, verdictReport{
		value:    rep,
		text:     func(w io.Writer, st report.Style) error { return report.CheckText(w, rep, st) },
		markdown: func() string { return report.CheckMarkdown(rep) },
		junit:    func(w io.Writer) error { return report.CheckJUnit(w, rep) },
		failed:   rep.FailedSubjects(),
	}, stdout)
}
