package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/statex/infrastructure/pipelines/check"
)

// CheckText prints one block per service: verdict, then each step with its
// time and evidence (or error).
func CheckText(w io.Writer, r *check.Report, st Style) error {
	var b strings.Builder
	fmt.Fprintf(&b, "check %s → namespace %s (run %s)\n", r.Env, r.Namespace, r.RunID)
	for _, res := range r.Results {
		fmt.Fprintf(&b, "%s %-14s %.1fs", verdictWord(res.Verdict, st), res.Service, res.Seconds)
		if res.Reason != "" {
			fmt.Fprintf(&b, " — %s", res.Reason)
		}
		b.WriteString("\n")
		writeSteps(&b, res.Steps)
	}
	writeWarnings(&b, r.Warnings, st)
	fmt.Fprintf(&b, "%s: %s in %.1fs\n", r.Env, CheckSummary(r), r.Seconds)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeSteps prints steps one a line: verdict, name, time, then the error
// or the evidence.
func writeSteps(b *strings.Builder, steps []check.Step) {
	for _, s := range steps {
		fmt.Fprintf(b, "    %-7s %-62s %6.2fs", s.Verdict, s.Name, s.Seconds)
		switch {
		case s.Error != "":
			fmt.Fprintf(b, "  %s", s.Error)
		case s.Evidence != "":
			fmt.Fprintf(b, "  %s", s.Evidence)
		}
		b.WriteString("\n")
	}
}

// CheckSummary is one line of counts.
func CheckSummary(r *check.Report) string {
	return fmt.Sprintf("%d passed, %d failed, %d skipped", r.Passed, r.Failed, r.Skipped)
}

func verdictWord(v check.Verdict, st Style) string {
	switch v {
	case check.Pass:
		return st.paint("32", "PASS   ")
	case check.Fail:
		return st.paint("31", "FAIL   ")
	}
	return st.paint("33", "SKIPPED")
}

// CheckMarkdown renders a step summary: one row per service.
func CheckMarkdown(r *check.Report) string {
	var b strings.Builder
	icon := "✅"
	if r.HasFailures() {
		icon = "❌"
	}
	fmt.Fprintf(&b, "### statex check · %s %s %s\n\n| service | verdict | steps | time | detail |\n|---|---|---|---|---|\n", r.Env, icon, CheckSummary(r))
	for _, res := range r.Results {
		passed := 0
		detail := res.Reason
		for _, s := range res.Steps {
			if s.Verdict == check.Pass {
				passed++
			}
			if s.Verdict == check.Fail && detail == "" {
				detail = s.Name + ": " + s.Error
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %d/%d | %.1fs | %s |\n", res.Service, res.Verdict, passed, len(res.Steps), res.Seconds, mdEscape(detail))
	}
	b.WriteString(warningsMarkdown(r.Warnings))
	return b.String()
}

// CheckJUnit writes one suite per service and one case per step; a skipped
// service is one skipped case with the reason.
func CheckJUnit(w io.Writer, r *check.Report) error {
	out := junitSuites{Name: "statex check " + r.Env, Time: r.Seconds}
	for _, res := range r.Results {
		suite := junitSuite{Name: "check/" + r.Env + "/" + res.Service, Time: res.Seconds}
		class := "statex.check." + r.Env + "." + res.Service
		if res.Verdict == check.Skipped && len(res.Steps) == 0 {
			suite.Cases = append(suite.Cases, junitCase{Name: res.Service, Classname: class, Skipped: &junitSkipped{Message: res.Reason}})
		}
		for _, s := range res.Steps {
			tc := junitCase{Name: s.Name, Classname: class, Time: s.Seconds, SystemOut: s.Evidence}
			switch s.Verdict {
			case check.Fail:
				tc.Failure = &junitFailure{Message: s.Error, Type: "check"}
			case check.Skipped:
				tc.Skipped = &junitSkipped{Message: s.Error}
			}
			suite.Cases = append(suite.Cases, tc)
		}
		out.addSuite(suite)
	}
	return writeJUnit(w, out)
}
