package report

import (
	"strings"

	"github.com/statex/infrastructure/pipelines/validate"
)

// occurrence is one finding as it appears in one or more reports. Every
// environment renders the same base manifests, so the same rule at the same
// file, line and message is one problem to fix, not one per environment.
type occurrence struct {
	validate.Finding
	reason  string   // why it is suppressed, for suppressed findings
	targets []string // the reports (environments) it appears in, in report order
}

type findingKey struct {
	rule, file string
	line       int
	message    string
}

func keyOf(f validate.Finding) findingKey {
	return findingKey{rule: f.Rule, file: f.File, line: f.Line, message: f.Message}
}

// mergeFindings merges the findings of reps, and separately their
// suppressed findings, keeping the order in which each was first seen.
func mergeFindings(reps []*validate.Report) (findings, suppressed []occurrence) {
	var m, s merger
	for _, rep := range reps {
		for _, f := range rep.Findings {
			m.add(f, "", rep.Target)
		}
		for _, sf := range rep.Suppressed {
			s.add(sf.Finding, sf.Reason, rep.Target)
		}
	}
	return m.list, s.list
}

type merger struct {
	index map[findingKey]int
	list  []occurrence
}

func (m *merger) add(f validate.Finding, reason, target string) {
	if m.index == nil {
		m.index = map[findingKey]int{}
	}
	k := keyOf(f)
	i, ok := m.index[k]
	if !ok {
		m.index[k] = len(m.list)
		m.list = append(m.list, occurrence{Finding: f, reason: reason, targets: []string{target}})
		return
	}
	o := &m.list[i]
	// A rule's severity is fixed today; should one environment ever raise
	// it, the merged finding must not hide the error behind a warning.
	if f.Severity == validate.SeverityError {
		o.Severity = validate.SeverityError
	}
	if last := o.targets[len(o.targets)-1]; last != target {
		o.targets = append(o.targets, target)
	}
}

// text is the finding as one line for people: object, message, and which
// environments have it when that is not all of them (with one report, or
// in all, naming them says nothing).
func (o occurrence) text(reports int) string {
	msg := o.Message
	if obj := o.Object.String(); obj != "" {
		msg = obj + ": " + msg
	}
	if reports > 1 && len(o.targets) < reports {
		msg += " (only in " + strings.Join(o.targets, ", ") + ")"
	}
	return msg
}
