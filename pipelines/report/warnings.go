package report

import (
	"fmt"
	"strings"
)

// writeWarnings prints the API server's warnings one a line, in the text
// report itself: the log line on stderr scrolls away, a saved report must
// still say that a deprecated API was served.
func writeWarnings(b *strings.Builder, warnings []string, st Style) {
	for _, w := range warnings {
		fmt.Fprintf(b, "%s API server: %s\n", st.paint("33", "warning"), oneLine(w))
	}
}

// warningsMarkdown is the API server's warnings as a section of a step
// summary ("" for none).
func warningsMarkdown(warnings []string) string {
	if len(warnings) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n#### API server warnings (%d)\n\n", len(warnings))
	for _, w := range warnings {
		fmt.Fprintf(&b, "- %s\n", mdEscape(oneLine(w)))
	}
	return b.String()
}

// oneLine keeps a server-sent message on one line, so it cannot forge
// report lines of its own.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
