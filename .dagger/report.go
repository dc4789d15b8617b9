package main

import (
	"errors"
	"fmt"
	"strings"

	"dagger/statex/internal/dagger"
)

// Report is what every function that runs a verb hands back: the verb's
// report in each format it writes, as files, and its exit code. A verb that
// ran and failed (exit 1) or refused its input (exit 2) still returns its
// Report, so a caller can export the files and read the exit code; with
// --fail-on-error a non-zero exit fails the call instead (for CI).
//
//	dagger call validate --env all exit-code
//	dagger call validate --env all junit export --path validate.xml
//	dagger call deploy --env staging --kubeconfig file:./kc files export --path out/deploy
type Report struct {
	// The statex invocation, e.g. "validate --env all".
	Verb string
	// The statex CLI's exit code: 0 clean, 1 validation findings or a failed
	// deploy, check or drill, 2 usage or I/O error (e.g. an unreachable
	// cluster).
	ExitCode int
	// The report as plain text. Validate always writes it; the cluster
	// verbs run once and write it with --format text (the default).
	Text *dagger.File
	// The report as JSON. Validate always writes it; the cluster verbs
	// with --format json.
	JSON *dagger.File
	// The report as Markdown (what the GitHub step summary shows).
	Markdown *dagger.File
	// The report as JUnit XML.
	Junit *dagger.File
	// The findings as SARIF 2.1.0 (Validate only; empty for other verbs).
	Sarif *dagger.File
	// The verb's stderr: progress lines, API server warnings, why it failed.
	Log *dagger.File
	// Every file above in one directory.
	Files *dagger.Directory
}

// reportDir is where a verb writes its report files in the container: in
// the container's own filesystem (not under /run or /tmp, which a runtime
// may mount over), so the files outlive the exec.
const reportDir = "/statex-report"

// The files of the report directory.
const (
	reportText     = "report.txt"
	reportJSON     = "report.json"
	reportMarkdown = "report.md"
	reportJUnit    = "junit.xml"
	reportSARIF    = "report.sarif"
	reportLog      = "log.txt"
)

// reportFiles are created empty before the verb runs, so every field of a
// Report names a file that exists: the verb fills the ones it writes, and
// one it does not (JSON when text was asked for, SARIF outside validate,
// everything after a usage error) is empty instead of failing the caller's
// `contents` or `export` long after the function returned.
var reportFiles = []string{reportText, reportJSON, reportMarkdown, reportJUnit, reportSARIF, reportLog}

func reportPath(name string) string { return reportDir + "/" + name }

// reportSkeleton is the report directory before the verb runs.
func reportSkeleton() *dagger.Directory {
	d := dag.Directory()
	for _, f := range reportFiles {
		d = d.WithNewFile(f, "")
	}
	return d
}

// newReport wires a Report's fields to the files of the report directory
// (file picks one file from it).
func newReport(what string, code int, dir *dagger.Directory, file func(name string) *dagger.File) *Report {
	return &Report{
		Verb:     what,
		ExitCode: code,
		Text:     file(reportText),
		JSON:     file(reportJSON),
		Markdown: file(reportMarkdown),
		Junit:    file(reportJUnit),
		Sarif:    file(reportSARIF),
		Log:      file(reportLog),
		Files:    dir,
	}
}

// reportOutcome decides what a function returns for the verb's exit code:
// nil (hand back the Report) unless failOnError is set and the verb did not
// exit 0; then an error carrying the report and the end of the log, read
// only then (read returns the report in the format that went to stdout,
// and the log).
func reportOutcome(what string, code int, failOnError bool, read func() (report, log string, err error)) error {
	if code == exitOK || !failOnError {
		return nil
	}
	report, log, err := read()
	if err != nil {
		return fmt.Errorf("statex %s: exit code %d; its report could not be read: %w", what, code, err)
	}
	return verbError(what, code, report, log)
}

// verbError maps a non-zero exit code (the statex contract) to an error:
// the report when the verb ran and found a failure (validation errors, a
// failed deploy or check), the end of stderr otherwise.
func verbError(what string, code int, report, log string) error {
	tail := lastLines(strings.TrimSpace(log), 40)
	switch code {
	case exitOK:
		return nil
	case exitFindings:
		msg := fmt.Sprintf("statex %s failed (exit 1):\n%s", what, report)
		if tail != "" {
			msg += "\n" + tail
		}
		return errors.New(msg)
	case exitUsage:
		return fmt.Errorf("statex %s: usage or I/O error (exit 2): %s", what, tail)
	default:
		return fmt.Errorf("statex %s: unexpected exit code %d: %s", what, code, tail)
	}
}

// sameExitCode is the exit code of a verb run once per format (Validate):
// the runs are of one pure function, so they must agree; if they do not,
// no report is trustworthy.
func sameExitCode(what string, codes []int) (int, error) {
	if len(codes) == 0 {
		return 0, fmt.Errorf("statex %s: nothing ran", what)
	}
	for _, c := range codes[1:] {
		if c != codes[0] {
			return 0, fmt.Errorf("statex %s: the runs for each report format exited %v: the reports disagree", what, codes)
		}
	}
	return codes[0], nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
