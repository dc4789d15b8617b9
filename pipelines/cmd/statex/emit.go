package main

import (
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

// emitVerdicts writes the report in format on stdout, the JUnit file and
// the GitHub step summary when asked, names what failed on stderr and
// returns the exit code.
func emitVerdicts(verb, format, junit string, gh bool, r verdictReport, stdout, stderr io.Writer) int {
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
		fmt.Fprintf(stderr, "statex %s: %v\n", verb, err)
	}
	if junit != "" {
		if err := writeFile(junit, r.junit); err != nil {
			fmt.Fprintf(stderr, "statex %s: %v\n", verb, err)
		}
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
