package report

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/statex/infrastructure/pipelines/backup"
)

// BackupText prints one block per service: verdict, its steps, then the
// backups the site holds (newest first, at most five).
func BackupText(w io.Writer, r *backup.Report, st Style) error {
	var b strings.Builder
	fmt.Fprintf(&b, "backup %s → namespace %s (run %s)\n", r.Env, r.Namespace, r.RunID)
	for _, res := range r.Results {
		fmt.Fprintf(&b, "%s %-14s %.1fs", verdictWord(res.Verdict, st), res.Service, res.Seconds)
		if res.Reason != "" {
			fmt.Fprintf(&b, " — %s", res.Reason)
		}
		b.WriteString("\n")
		writeSteps(&b, res.Steps)
		for i, o := range res.Backups {
			if i == 5 {
				fmt.Fprintf(&b, "      … %d more\n", len(res.Backups)-5)
				break
			}
			fmt.Fprintf(&b, "      %-60s %10s  %s old\n", o.Key, FormatBytes(o.Bytes), time.Duration(o.AgeSeconds*float64(time.Second)))
		}
	}
	writeWarnings(&b, r.Warnings, st)
	fmt.Fprintf(&b, "%s: %s in %.1fs\n", r.Env, BackupSummary(r), r.Seconds)
	_, err := io.WriteString(w, b.String())
	return err
}

// BackupSummary is one line of counts.
func BackupSummary(r *backup.Report) string {
	return fmt.Sprintf("%d passed, %d failed, %d skipped", r.Passed, r.Failed, r.Skipped)
}

// BackupMarkdown is a step summary: one row per service with its newest
// backup.
func BackupMarkdown(r *backup.Report) string {
	var b strings.Builder
	icon := "✅"
	if r.HasFailures() {
		icon = "❌"
	}
	fmt.Fprintf(&b, "### statex backup · %s %s %s\n\n| service | verdict | backups | newest | size | age | detail |\n|---|---|---|---|---|---|---|\n", r.Env, icon, BackupSummary(r))
	for _, res := range r.Results {
		detail := res.Reason
		for _, s := range res.Steps {
			if s.Verdict == "FAIL" && detail == "" {
				detail = s.Name + ": " + s.Error
			}
		}
		newest, size, age := "", "", ""
		if len(res.Backups) > 0 {
			o := res.Backups[0]
			newest, size, age = o.Key, FormatBytes(o.Bytes), time.Duration(o.AgeSeconds*float64(time.Second)).String()
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s | %s |\n", res.Service, res.Verdict, len(res.Backups), mdEscape(newest), size, age, mdEscape(detail))
	}
	return b.String()
}

// BackupJUnit is one suite per service, one case per step.
func BackupJUnit(w io.Writer, r *backup.Report) error {
	out := junitSuites{Name: "statex backup " + r.Env, Time: r.Seconds}
	for _, res := range r.Results {
		suite := junitSuite{Name: "backup/" + r.Env + "/" + res.Service, Time: res.Seconds}
		class := "statex.backup." + r.Env + "." + res.Service
		if res.Verdict == "SKIPPED" {
			suite.Cases = append(suite.Cases, junitCase{Name: res.Service, Classname: class, Skipped: &junitSkipped{Message: res.Reason}})
		}
		for _, s := range res.Steps {
			tc := junitCase{Name: s.Name, Classname: class, Time: s.Seconds, SystemOut: s.Evidence}
			switch s.Verdict {
			case "FAIL":
				tc.Failure = &junitFailure{Message: s.Error, Type: "backup"}
			case "SKIPPED":
				tc.Skipped = &junitSkipped{Message: s.Error}
			}
			suite.Cases = append(suite.Cases, tc)
		}
		out.addSuite(suite)
	}
	return writeJUnit(w, out)
}

// Backup writes a backup report in format.
func Backup(w io.Writer, format string, rep *backup.Report, st Style) error {
	return write(w, format, rep, func() string { return BackupMarkdown(rep) }, func() error { return BackupText(w, rep, st) })
}

// BackupProgress prints each service's verdict as it ends.
func BackupProgress(w io.Writer) func(backup.Result) {
	return func(r backup.Result) {
		newest := ""
		if len(r.Backups) > 0 {
			newest = fmt.Sprintf(" newest %s (%s)", r.Backups[0].Key, FormatBytes(r.Backups[0].Bytes))
		}
		fmt.Fprintf(w, "backup: %-7s %-14s %.1fs%s %s\n", r.Verdict, r.Service, r.Seconds, newest, r.Reason)
	}
}

// FormatBytes is a size as people read it (powers of 1024).
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
