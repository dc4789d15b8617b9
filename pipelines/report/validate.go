// Package report renders the pipeline's typed results for people and
// machines: grouped text (coloured on a terminal), JSON, JUnit XML, SARIF,
// Markdown for GitHub step summaries, and GitHub Actions annotations.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/statex/infrastructure/pipelines/validate"
)

// Style switches terminal colours on or off.
type Style struct{ Color bool }

func (s Style) paint(code, text string) string {
	if !s.Color {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}

func (s Style) severity(sev validate.Severity) string {
	switch sev {
	case validate.SeverityError:
		return s.paint("31;1", "error  ")
	case validate.SeverityWarning:
		return s.paint("33", "warning")
	}
	return string(sev)
}

// ValidateText writes findings grouped by file, then object, with the fix
// hint under each error, and a one-line summary.
func ValidateText(w io.Writer, rep *validate.Report, st Style) error {
	var b strings.Builder
	file, obj := "\x00", "\x00"
	for _, f := range rep.Findings {
		if f.File != file {
			file, obj = f.File, "\x00"
			fmt.Fprintf(&b, "\n%s\n", st.paint("1", f.File))
		}
		if ref := f.Object.String(); ref != obj {
			obj = ref
			if ref != "" {
				fmt.Fprintf(&b, "  %s\n", st.paint("36", ref))
			}
		}
		loc := ""
		if f.Line > 0 {
			loc = fmt.Sprintf("%d", f.Line)
		}
		fmt.Fprintf(&b, "    %5s  %s  %-28s %s\n", loc, st.severity(f.Severity), f.Rule, f.Message)
		if f.Severity == validate.SeverityError && f.Hint != "" {
			fmt.Fprintf(&b, "    %5s  %s\n", "", st.paint("2", "fix: "+f.Hint))
		}
	}
	if len(rep.Suppressed) > 0 {
		fmt.Fprintf(&b, "\n%d finding(s) suppressed by annotation:\n", len(rep.Suppressed))
		for _, s := range rep.Suppressed {
			fmt.Fprintf(&b, "  %s %s: %s\n", s.Object, s.Rule, s.Reason)
		}
	}
	if len(rep.Findings) > 0 || len(rep.Suppressed) > 0 {
		b.WriteString("\n")
	}
	b.WriteString(ValidateSummary(rep, st))
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// ValidateSummary is the one-line verdict.
func ValidateSummary(rep *validate.Report, st Style) string {
	mark := st.paint("32;1", "✓ valid")
	if rep.Failed() {
		mark = st.paint("31;1", "✗ invalid")
	}
	return fmt.Sprintf("%s: %s, %s in %d objects (%s, Kubernetes %s, %.1f ms)",
		mark, plural(rep.Errors, "error"), plural(rep.Warnings, "warning"), rep.Objects, rep.Target, rep.KubernetesVersion, rep.ElapsedMS)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// WriteJSON writes any result as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// ValidateMarkdown renders a GitHub step summary: verdict, then a table of
// error findings and a count of warnings.
func ValidateMarkdown(rep *validate.Report) string {
	var b strings.Builder
	verdict := "✅ valid"
	if rep.Failed() {
		verdict = "❌ invalid"
	}
	fmt.Fprintf(&b, "### statex validate · %s: %s\n\n", rep.Target, verdict)
	fmt.Fprintf(&b, "%d objects · Kubernetes %s · %s · %s · %d suppressed\n\n",
		rep.Objects, rep.KubernetesVersion, plural(rep.Errors, "error"), plural(rep.Warnings, "warning"), len(rep.Suppressed))
	if len(rep.Findings) == 0 {
		return b.String()
	}
	b.WriteString("| severity | rule | object | location | message |\n|---|---|---|---|---|\n")
	for _, f := range rep.Findings {
		fmt.Fprintf(&b, "| %s | `%s` | %s | `%s:%d` | %s |\n", f.Severity, f.Rule, f.Object, f.File, f.Line, mdEscape(f.Message))
	}
	return b.String()
}

func mdEscape(s string) string { return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s) }
