package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

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
  statex drill [--env ENV] [SCENARIO…] [--max-rto D] [--max-rpo D] [--max-lost N]
               [--output text|json|markdown] [--junit FILE] [--kubeconfig FILE] [--context NAME]

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

// gateFlag is a --max-* gate: unset (nil) leaves each scenario's own.
type gateFlag[T any] struct {
	p     **T
	typ   string
	parse func(string) (T, error)
}

func (g gateFlag[T]) String() string {
	if *g.p == nil {
		return ""
	}
	return fmt.Sprint(**g.p)
}

func (g gateFlag[T]) Set(v string) error {
	x, err := g.parse(v)
	if err != nil {
		return err
	}
	*g.p = &x
	return nil
}

func (g gateFlag[T]) Type() string { return g.typ }

func parseDuration(floor time.Duration, what string) func(string) (time.Duration, error) {
	return func(v string) (time.Duration, error) {
		d, err := time.ParseDuration(v)
		if err == nil && d < floor {
			err = errors.New(what)
		}
		return d, err
	}
}

func (a *app) drillCommand() *cobra.Command {
	var (
		envName, format, junit string
		gh                     bool
		timeout                time.Duration
		maxRTO, maxRPO         *time.Duration
		maxLost                *int
	)
	cmd := &cobra.Command{
		Use: "drill", Short: "rehearse failures (leader/master crash) and measure RTO and RPO against gates",
		Long:              fmt.Sprintf(drillHelp, drillScenarios()),
		ValidArgsFunction: completeScenarios,
	}
	fl := cmd.Flags()
	a.addEnv(cmd, &envName, defaultEnv, "environment to drill")
	addOutput(cmd, &format, formatText, reportFormats, "report format on stdout")
	fl.StringVar(&junit, "junit", "", "also write a JUnit XML report to FILE")
	fl.DurationVar(&timeout, "timeout", drillTimeout, "how long a scenario may wait for writes to resume and for recovery")
	fl.BoolVar(&gh, "github", os.Getenv("GITHUB_ACTIONS") == "true", "write a GitHub Actions step summary")
	fl.Var(gateFlag[time.Duration]{&maxRTO, "duration", parseDuration(time.Nanosecond, "must be above 0")}, "max-rto",
		"fail a scenario whose RTO is above this, e.g. 30s (default: each scenario's gate)")
	fl.Var(gateFlag[time.Duration]{&maxRPO, "duration", parseDuration(0, "must not be negative")}, "max-rpo",
		"fail a scenario whose RPO is above this; 0s allows no lost write (default: each scenario's gate)")
	fl.Var(gateFlag[int]{&maxLost, "int", func(v string) (int, error) {
		n, err := strconv.Atoi(v)
		if err == nil && n < 0 {
			err = errors.New("must not be negative")
		}
		return n, err
	}}, "max-lost", "fail a scenario that loses more acknowledged writes than this (default: each scenario's gate)")
	kube := a.addKubeFlags(cmd)
	cmd.RunE = a.verb(func(cmd *cobra.Command, args []string) (int, error) {
		ctx, stdout, stderr := cmd.Context(), a.stdout, a.stderr
		if err := checkOutput(format, reportFormats); err != nil {
			return 0, err
		}
		if code := preflightReports("drill", stderr, reportFile{"junit", junit}); code >= 0 {
			return code, nil
		}
		for _, name := range args {
			if !slices.Contains(drill.Names(), name) {
				return 0, usagef("no scenario %q (have: %s)", name, strings.Join(drill.Names(), ", "))
			}
		}
		t, err := a.resolve(envName, kube)
		if err != nil {
			fmt.Fprintln(stderr, "statex drill:", err)
			return exitUsage, nil
		}
		rep, err := drill.Run(ctx, drill.Options{
			Target: t, Scenarios: args, Timeout: timeout,
			MaxRTO: maxRTO, MaxRPO: maxRPO, MaxLost: maxLost,
			Progress: report.DrillProgress(stderr),
		})
		if err != nil {
			fmt.Fprintln(stderr, "statex drill:", err)
			return exitUsage, nil
		}
		rep.Warnings = a.warnings.list()
		return a.emitVerdicts("drill", format, junit, gh, verdictReport{
			value:    rep,
			text:     func(w io.Writer, st report.Style) error { return report.DrillText(w, rep, st) },
			markdown: func() string { return report.DrillMarkdown(rep) },
			junit:    func(w io.Writer) error { return report.DrillJUnit(w, rep) },
			failed:   rep.FailedSubjects(),
		}, stdout), nil
	})
	return cmd
}
