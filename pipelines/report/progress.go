package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/statex/infrastructure/pipelines/check"
	"github.com/statex/infrastructure/pipelines/cluster"
	"github.com/statex/infrastructure/pipelines/deploy"
	"github.com/statex/infrastructure/pipelines/drill"
)

// Progress lines go to stderr while a verb runs, one line per event, each
// led by the verb's name so that interleaved steps (up) stay readable.

// DeployProgress prints stage messages and workload readiness changes.
func DeployProgress(w io.Writer) func(deploy.Event) {
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

// CheckProgress prints each service's verdict as its check ends.
func CheckProgress(w io.Writer) func(check.Result) {
	return func(r check.Result) {
		fmt.Fprintf(w, "check: %-7s %-14s %.1fs %s\n", r.Verdict, r.Service, r.Seconds, r.Reason)
	}
}

// DrillProgress prints each scenario's verdict and measurements as it ends.
func DrillProgress(w io.Writer) func(drill.Result) {
	return func(r drill.Result) {
		line := fmt.Sprintf("drill: %-7s %-30s %.1fs", r.Verdict, r.Scenario, r.Seconds)
		if m := r.Metrics; m != nil {
			line += fmt.Sprintf(" RTO %.1fs RPO %.1fs lost %d/%d recovery %.1fs", m.RTOSeconds, m.RPOSeconds, m.Lost, m.Acknowledged, m.RecoverySeconds)
		}
		fmt.Fprintln(w, line)
	}
}

// ClusterProgress prints each step of bringing a cluster up.
func ClusterProgress(w io.Writer) func(cluster.Event) {
	return func(e cluster.Event) {
		fmt.Fprintf(w, "cluster: %-60s (%.1fs)\n", e.Step, e.Elapsed.Seconds())
	}
}

// StepProgress prints a composed verb's own lines ("up: images: …").
func StepProgress(w io.Writer, verb string) func(step, message string) {
	return func(step, message string) {
		fmt.Fprintf(w, "%s: %s: %s\n", verb, step, message)
	}
}
