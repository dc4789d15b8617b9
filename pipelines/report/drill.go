package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/statex/infrastructure/pipelines/check"
	"github.com/statex/infrastructure/pipelines/drill"
)

// DrillText prints one block per scenario: verdict and measurements, then
// each step with its time and evidence (or error).
func DrillText(w io.Writer, r *drill.Report, st Style) error {
	var b strings.Builder
	fmt.Fprintf(&b, "drill %s → namespace %s (run %s)\n", r.Env, r.Namespace, r.RunID)
	for _, res := range r.Results {
		fmt.Fprintf(&b, "%s %-30s %.1fs", verdictWord(res.Verdict, st), res.Scenario, res.Seconds)
		if m := res.Metrics; m != nil {
			fmt.Fprintf(&b, "  RTO %.1fs (≤ %.0fs) · RPO %.1fs, %d of %d lost (≤ %.0fs) · recovery %.1fs",
				m.RTOSeconds, res.Gates.MaxRTOSeconds, m.RPOSeconds, m.Lost, m.Acknowledged, res.Gates.MaxRPOSeconds, m.RecoverySeconds)
		}
		b.WriteString("\n    fault: " + res.Fault + "\n")
		writeSteps(&b, res.Steps)
	}
	writeWarnings(&b, r.Warnings, st)
	fmt.Fprintf(&b, "%s: %s in %.1fs\n", r.Env, DrillSummary(r), r.Seconds)
	_, err := io.WriteString(w, b.String())
	return err
}

// DrillSummary is one line of counts.
func DrillSummary(r *drill.Report) string {
	return fmt.Sprintf("%d passed, %d failed, %d skipped", r.Passed, r.Failed, r.Skipped)
}

// DrillMarkdown renders a step summary: one row per scenario with its
// measured RTO and RPO against the gates.
func DrillMarkdown(r *drill.Report) string {
	var b strings.Builder
	icon := "✅"
	if r.HasFailures() {
		icon = "❌"
	}
	fmt.Fprintf(&b, "### statex drill · %s %s %s\n\n| scenario | verdict | RTO (gate) | RPO (gate) | lost writes | recovery | detail |\n|---|---|---|---|---|---|---|\n",
		r.Env, icon, DrillSummary(r))
	for _, res := range r.Results {
		rto, rpo, lost, recovery := "–", "–", "–", "–"
		if m := res.Metrics; m != nil {
			rto = fmt.Sprintf("%.1f s (%.0f s)", m.RTOSeconds, res.Gates.MaxRTOSeconds)
			rpo = fmt.Sprintf("%.1f s (%.0f s)", m.RPOSeconds, res.Gates.MaxRPOSeconds)
			lost = fmt.Sprintf("%d / %d", m.Lost, m.Acknowledged)
			recovery = fmt.Sprintf("%.1f s", m.RecoverySeconds)
		}
		detail := res.Reason
		for _, s := range res.Steps {
			if s.Verdict == check.Fail && detail == "" {
				detail = s.Name + ": " + s.Error
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", res.Scenario, res.Verdict, rto, rpo, lost, recovery, mdEscape(detail))
	}
	b.WriteString(warningsMarkdown(r.Warnings))
	return b.String()
}

// DrillJUnit writes one suite per scenario and one case per step.
func DrillJUnit(w io.Writer, r *drill.Report) error {
	out := junitSuites{Name: "statex drill " + r.Env, Time: r.Seconds}
	for _, res := range r.Results {
		suite := junitSuite{Name: "drill/" + r.Env + "/" + res.Scenario, Time: res.Seconds}
		class := "statex.drill." + r.Env + "." + res.Scenario
		for _, s := range res.Steps {
			tc := junitCase{Name: s.Name, Classname: class, Time: s.Seconds, SystemOut: s.Evidence}
			switch s.Verdict {
			case check.Fail:
				tc.Failure = &junitFailure{Message: s.Error, Type: "drill"}
			case check.Skipped:
				tc.Skipped = &junitSkipped{Message: s.Error}
			}
			suite.Cases = append(suite.Cases, tc)
		}
		out.addSuite(suite)
	}
	return writeJUnit(w, out)
}
