package report

import (
	"io"

	"github.com/statex/infrastructure/pipelines/check"
	"github.com/statex/infrastructure/pipelines/deploy"
	"github.com/statex/infrastructure/pipelines/drill"
)

// The formats a verb's report is printed in (-o/--output).
const (
	Text     = "text"
	JSON     = "json"
	Markdown = "markdown"
)

// Formats are the formats of every verb with a PASS/FAIL report.
var Formats = []string{Text, JSON, Markdown}

// Deploy writes a deploy's result in format.
func Deploy(w io.Writer, format string, res *deploy.Result, st Style) error {
	return write(w, format, res, func() string { return DeployMarkdown(res) }, func() error { return DeployText(w, res, st) })
}

// Check writes a check report in format.
func Check(w io.Writer, format string, rep *check.Report, st Style) error {
	return write(w, format, rep, func() string { return CheckMarkdown(rep) }, func() error { return CheckText(w, rep, st) })
}

// Drill writes a drill report in format.
func Drill(w io.Writer, format string, rep *drill.Report, st Style) error {
	return write(w, format, rep, func() string { return DrillMarkdown(rep) }, func() error { return DrillText(w, rep, st) })
}

func write(w io.Writer, format string, value any, markdown func() string, text func() error) error {
	switch format {
	case JSON:
		return WriteJSON(w, value)
	case Markdown:
		_, err := io.WriteString(w, markdown())
		return err
	}
	return text()
}
