package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/statex/infrastructure/pipelines/check"
	"github.com/statex/infrastructure/pipelines/drill"
	"github.com/statex/infrastructure/pipelines/report"
)

const drillHelp = `Rehearse failures on a deployed environment and measure what they cost.

While a client keeps making acknowledged writes the way applications do
(INSERTs through the postgres Service; publishes confirmed by a quorum
queue; SETs to the master the Sentinels name, confirmed by WAIT 1),
the drill kills the leader or master (its pod, or its process), then
measures:
  RTO       the longest gap between acknowledged writes around the fault
  recovery  until the service is whole again (every replica back, the
            signals statex check demands)
  lost      acknowledged writes that did not survive, before or after
            the fault
  RPO       the time the lost writes span, from the last point up to which
            everything acknowledged survived (0 s: nothing lost)
and fails a scenario whose RTO, lost count or RPO misses its gate.
Scenarios run one at a time; drill data is unique per run and removed. This
breaks things on purpose: run it where that is acceptable.

Scenarios:
%s
Usage:
  statex drill --env ENV [SCENARIO…] [--max-rto D] [--max-rpo D] [--max-lost N]
               [--output text|json|markdown] [--junit FILE]

Examples:
  statex drill --env kind
  statex drill --env kind postgres-leader-pod-kill --output json
  statex drill --env staging redis-master-pod-kill --max-rto 20s --max-rpo 0s

Exit codes: 0 every drill passed, 1 a drill failed or missed a gate, 2 usage
errors, a report file that cannot be written, or an unreachable cluster
(nothing is broken then).
`

func drillScenarios() string {
	width := 0
	for _, sc := range drill.Scenarios {
		width = max(width, len(sc.Name))
	}
	var b strings.Builder
	for _, sc := range drill.Scenarios {
		fmt.Fprintf(&b, "  %-*s  gates: RTO ≤ %.0f s, ≤ %d acknowledged writes lost, RPO ≤ %.0f s\n      %s\n", width, sc.Name, sc.Gates.MaxRTOSeconds, sc.Gates.MaxLost, sc.Gates.MaxRPOSeconds, sc.Description)
	}
	return b.String()
}

func runDrill(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("drill", fmt.Sprintf(drillHelp, drillScenarios()), stderr)
	envName := fs.String("env", "kind", "environment to drill")
	format := fs.String("output", "text", "report format on stdout: text, json or markdown")
	junit := fs.String("junit", "", "also write a JUnit XML report to FILE")
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig (default: the kind cluster's, or $KUBECONFIG for context targets)")
	timeout := fs.Duration("timeout", 5*time.Minute, "how long a scenario may wait for writes to resume and for recovery")
	gh := fs.Bool("github", os.Getenv("GITHUB_ACTIONS") == "true", "write a GitHub Actions step summary")
	root := fs.String("root", "", "repository root (default: found from the working directory)")
	var maxRTO, maxRPO *time.Duration
	fs.Func("max-rto", "fail a scenario whose RTO is above this `duration`, e.g. 30s (default: each scenario's gate)", func(v string) error {
		d, err := time.ParseDuration(v)
		if err == nil && d <= 0 {
			err = errors.New("must be above 0")
		}
		maxRTO = &d
		return err
	})
	fs.Func("max-rpo", "fail a scenario whose RPO is above this `duration`; 0 allows no lost write (default: each scenario's gate)", func(v string) error {
		d, err := time.ParseDuration(v)
		if err == nil && d < 0 {
			err = errors.New("must not be negative")
		}
		maxRPO = &d
		return err
	})
	var maxLost *int
	fs.Func("max-lost", "fail a scenario that loses more acknowledged writes than this `number` (default: each scenario's gate)", func(v string) error {
		n, err := strconv.Atoi(v)
		if err == nil && n < 0 {
			err = errors.New("must not be negative")
		}
		maxLost = &n
		return err
	})
	if code := parse(fs, args); code >= 0 {
		return code
	}
	if !validFormat(*format) {
		fmt.Fprintf(stderr, "statex drill: --output %q: want text, json or markdown\n", *format)
		return exitUsage
	}
	if code := preflightReports("drill", stderr, reportFile{"junit", *junit}); code >= 0 {
		return code
	}
	for _, name := range fs.Args() {
		if !slices.Contains(drill.Names(), name) {
			fmt.Fprintf(stderr, "statex drill: no scenario %q (have: %s)\n", name, strings.Join(drill.Names(), ", "))
			return exitUsage
		}
	}
	_, envs, err := loadRepo(*root)
	if err != nil {
		fmt.Fprintln(stderr, "statex drill:", err)
		return exitUsage
	}
	env, err := envs.Get(*envName)
	if err != nil {
		fmt.Fprintln(stderr, "statex drill:", err)
		return exitUsage
	}
	cfg, err := restConfig(env, *kubeconfig)
	if err != nil {
		fmt.Fprintln(stderr, "statex drill:", err)
		return exitUsage
	}
	rep, err := drill.Run(ctx, drill.Options{
		Env: env.Name, Namespace: envs.NamespaceOf(env), Config: cfg, Scenarios: fs.Args(), Timeout: *timeout,
		MaxRTO: maxRTO, MaxRPO: maxRPO, MaxLost: maxLost,
		Progress: func(r drill.Result) {
			line := fmt.Sprintf("drill: %-7s %-30s %.1fs", r.Verdict, r.Scenario, r.Seconds)
			if m := r.Metrics; m != nil {
				line += fmt.Sprintf(" RTO %.1fs RPO %.1fs lost %d/%d recovery %.1fs", m.RTOSeconds, m.RPOSeconds, m.Lost, m.Acknowledged, m.RecoverySeconds)
			}
			fmt.Fprintln(stderr, line)
		},
	})
	if err != nil {
		fmt.Fprintln(stderr, "statex drill:", err)
		return exitUsage
	}
	var failed []string
	for _, r := range rep.Results {
		if r.Verdict == check.Fail {
			failed = append(failed, r.Scenario)
		}
	}
	return emitVerdicts("drill", *format, *junit, *gh, verdictReport{
		value:    rep,
		text:     func(w io.Writer, st report.Style) error { return report.DrillText(w, rep, st) },
		markdown: func() string { return report.DrillMarkdown(rep) },
		junit:    func(w io.Writer) error { return report.DrillJUnit(w, rep) },
		failed:   failed,
	}, stdout, stderr)
}
