package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/statex/infrastructure/pipelines/validate"
)

// JUnit XML, the subset CI systems read.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Time     float64      `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     float64     `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      float64       `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// addSuite counts a suite's cases (tests, failures, skipped) and adds it,
// with its totals, to out.
func (out *junitSuites) addSuite(suite junitSuite) {
	suite.Tests, suite.Failures, suite.Skipped = len(suite.Cases), 0, 0
	for _, c := range suite.Cases {
		if c.Failure != nil {
			suite.Failures++
		}
		if c.Skipped != nil {
			suite.Skipped++
		}
	}
	out.Tests += suite.Tests
	out.Failures += suite.Failures
	out.Suites = append(out.Suites, suite)
}

func writeJUnit(w io.Writer, s junitSuites) error {
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(s); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// ValidateJUnit writes, per report, one test suite per layer and one test
// case per rule: a rule with error findings fails and lists them; warnings
// go to the case's output.
func ValidateJUnit(w io.Writer, reps []*validate.Report) error {
	out := junitSuites{Name: "statex validate"}
	for _, rep := range reps {
		out.Time += rep.ElapsedMS / 1000
		validateSuites(&out, rep)
	}
	return writeJUnit(w, out)
}

func validateSuites(out *junitSuites, rep *validate.Report) {
	byRule := map[string][]validate.Finding{}
	for _, f := range rep.Findings {
		byRule[f.Rule] = append(byRule[f.Rule], f)
	}
	for _, layer := range []validate.Layer{validate.LayerSchema, validate.LayerPolicy, validate.LayerXRef} {
		suite := junitSuite{Name: "validate/" + rep.Target + "/" + string(layer)}
		for _, r := range validate.Rules {
			if r.Layer != layer {
				continue
			}
			tc := junitCase{Name: r.ID, Classname: "statex.validate." + rep.Target + "." + string(layer)}
			if slices.Contains(rep.ExcludedRules, r.ID) {
				// Not checked: a passing case would claim otherwise.
				tc.Skipped = &junitSkipped{Message: "excluded (statex validate --include/--exclude)"}
				suite.Cases = append(suite.Cases, tc)
				continue
			}
			var errs, warns []string
			for _, f := range byRule[r.ID] {
				line := fmt.Sprintf("%s:%d %s: %s", f.File, f.Line, f.Object, f.Message)
				if f.Severity == validate.SeverityError {
					errs = append(errs, line)
				} else {
					warns = append(warns, line)
				}
			}
			if len(errs) > 0 {
				tc.Failure = &junitFailure{
					Message: fmt.Sprintf("%d finding(s): %s", len(errs), r.Summary),
					Type:    r.ID,
					Text:    strings.Join(errs, "\n") + "\nfix: " + r.Hint,
				}
			}
			if len(warns) > 0 {
				tc.SystemOut = strings.Join(warns, "\n")
			}
			suite.Cases = append(suite.Cases, tc)
		}
		out.addSuite(suite)
	}
}
