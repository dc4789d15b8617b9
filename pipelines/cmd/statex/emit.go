package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/statex/infrastructure/pipelines/report"
)

// verdictReport is how a verb with a PASS/FAIL report (check, drill)
// renders it; emitVerdicts sends it to every output asked for.
type verdictReport struct {
	value    any // the typed report, for JSON
	text     func(io.Writer, report.Style) error
	markdown func() string
	junit    func(io.Writer) error
	failed   []string // names of what failed
}

// emitVerdicts emits a verdict report to the invocation's stderr.
func (a *app) emitVerdicts(verb, format, junit string, gh bool, r verdictReport, stdout io.Writer) int {
	return emitVerdicts(verb, format, junit, gh, r, stdout, a.stderr)
}

// emitVerdicts writes the JUnit file when asked, then the report in format
// on stdout and the GitHub step summary, names what failed on stderr and
// returns the exit code. A report that cannot be written is exit 2 with
// nothing on stdout: a verdict whose evidence was lost is no verdict.
func emitVerdicts(verb, format, junit string, gh bool, r verdictReport, stdout, stderr io.Writer) int {
	if junit != "" {
		if err := writeFile(junit, r.junit); err != nil {
			fmt.Fprintf(stderr, "statex %s: --junit %s: report not written: %v (what ran is in the progress lines above)\n", verb, junit, err)
			return exitUsage
		}
	}
	var err error
	switch format {
	case "json":
		err = report.WriteJSON(stdout, r.value)
	case "markdown":
		_, err = io.WriteString(stdout, r.markdown())
	default:
		err = r.text(stdout, report.Style{Color: isTerminal(stdout)})
	}
	if err != nil {
		fmt.Fprintf(stderr, "statex %s: report not written to stdout: %v\n", verb, err)
		return exitUsage
	}
	if gh {
		stepSummary(verb, r.markdown(), stderr)
	}
	if len(r.failed) > 0 {
		fmt.Fprintf(stderr, "statex %s: failed: %s\n", verb, strings.Join(r.failed, ", "))
		return exitFindings
	}
	return exitOK
}

// stepSummary appends markdown to the GitHub step summary, or says in one
// line on stderr why it could not (GITHUB_STEP_SUMMARY unset outside a
// runner, an unwritable file): a missing summary must not fail the verb,
// let alone crash it.
func stepSummary(verb, markdown string, stderr io.Writer) {
	if err := report.AddStepSummary(os.Getenv, markdown); err != nil {
		fmt.Fprintf(stderr, "statex %s: no GitHub step summary written: %v\n", verb, err)
	}
}

// reportFile is a file a verb was asked to write a report to, by flag.
type reportFile struct{ flag, path string }

// preflightReports checks, before the verb does anything, that every
// report file can be created: a deploy, a check or a drill whose report
// cannot be written should not run only to lose it. Returns exitUsage
// after one line naming the file, or -1 to go on.
func preflightReports(verb string, stderr io.Writer, files ...reportFile) int {
	for _, f := range files {
		if f.path == "" {
			continue
		}
		if err := creatable(f.path); err != nil {
			fmt.Fprintf(stderr, "statex %s: --%s %s: the report cannot be written: %v\n", verb, f.flag, f.path, err)
			return exitUsage
		}
	}
	return -1
}

// creatable opens path the way the report will be written, without
// truncating an existing file now, and removes it again if it was not
// there: the check leaves nothing behind.
func creatable(path string) error {
	info, statErr := os.Stat(path)
	if statErr == nil && info.IsDir() {
		return errors.New("is a directory")
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if statErr != nil {
		return os.Remove(path)
	}
	return nil
}
