package report

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sethvargo/go-githubactions"

	"github.com/statex/infrastructure/pipelines/validate"
)

// AnnotationsPerKind is how many annotations of one kind (error, warning,
// notice) GitHub shows for a step; it drops the rest without a word, and
// shows at most 50 in a whole job.
const AnnotationsPerKind = 10

// ValidateAnnotations writes the findings of reps to w as GitHub Actions
// workflow commands, so they show on the pull request's diff at their line.
// Findings are merged across environments (one annotation per rule, file,
// line and message) and errors come first, at most AnnotationsPerKind of
// each severity; when some are left out, one notice says how many, so a
// reader knows the diff does not show everything.
//
// The runner reads workflow commands from a step's stdout and stderr alike;
// callers pass stderr, so that stdout carries only the report and a JSON,
// JUnit or SARIF report there still parses.
func ValidateAnnotations(w io.Writer, reps []*validate.Report) error {
	findings, _ := mergeFindings(reps)
	var errs, warns []occurrence
	for _, o := range findings {
		if o.Severity == validate.SeverityError {
			errs = append(errs, o)
		} else {
			warns = append(warns, o)
		}
	}
	// Format into memory: githubactions panics when its writer fails, and
	// a broken stderr is no reason to crash the verb.
	var buf bytes.Buffer
	gh := githubactions.New(githubactions.WithWriter(&buf))
	shown := func(list []occurrence) []occurrence { return list[:min(len(list), AnnotationsPerKind)] }
	for _, o := range shown(errs) {
		annotation(gh, o).Errorf("%s", annotationText(o, len(reps)))
	}
	for _, o := range shown(warns) {
		annotation(gh, o).Warningf("%s", annotationText(o, len(reps)))
	}
	var hidden []string
	if n := len(errs) - len(shown(errs)); n > 0 {
		hidden = append(hidden, plural(n, "error"))
	}
	if n := len(warns) - len(shown(warns)); n > 0 {
		hidden = append(hidden, plural(n, "warning"))
	}
	if len(hidden) > 0 {
		gh.WithFieldsMap(map[string]string{"title": "statex validate"}).Noticef(
			"%s not shown as annotations (GitHub shows %d of each kind per step); the step summary and the JUnit and SARIF reports list every finding",
			strings.Join(hidden, " and "), AnnotationsPerKind)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func annotation(gh *githubactions.Action, o occurrence) *githubactions.Action {
	fields := map[string]string{"file": o.File, "title": "statex " + o.Rule}
	if o.Line > 0 {
		fields["line"] = fmt.Sprint(o.Line)
	}
	return gh.WithFieldsMap(fields)
}

func annotationText(o occurrence, reports int) string {
	msg := o.text(reports)
	if o.Hint != "" {
		msg += " — fix: " + o.Hint
	}
	return msg
}

// ErrNoStepSummary means GITHUB_STEP_SUMMARY is not set: not on a runner,
// or a runner that offers no summary to this step.
var ErrNoStepSummary = errors.New("GITHUB_STEP_SUMMARY is not set")

// AddStepSummary appends markdown to the step summary file the runner
// names in GITHUB_STEP_SUMMARY; getenv looks it up (os.Getenv outside
// tests). It returns an error, never panics: a summary that cannot be
// written should cost the reader a summary, not the verb its report.
func AddStepSummary(getenv func(string) string, markdown string) error {
	path := getenv("GITHUB_STEP_SUMMARY")
	if path == "" {
		return ErrNoStepSummary
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("step summary: %w", err)
	}
	if !strings.HasSuffix(markdown, "\n") {
		markdown += "\n"
	}
	if _, err := io.WriteString(f, markdown); err != nil {
		f.Close()
		return fmt.Errorf("step summary: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("step summary: %w", err)
	}
	return nil
}
