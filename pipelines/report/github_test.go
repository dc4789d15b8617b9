package report

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/statex/infrastructure/pipelines/validate"
)

func finding(sev validate.Severity, rule string, line int) validate.Finding {
	return validate.Finding{
		Rule: rule, Severity: sev, Message: fmt.Sprintf("%s at %d", rule, line), Hint: "Fix it.",
		Object: validate.ObjectRef{Kind: "StatefulSet", Namespace: "ns", Name: "db"}, File: "a.yaml", Line: line,
	}
}

func envReport(target string, findings ...validate.Finding) *validate.Report {
	return &validate.Report{Target: target, KubernetesVersion: "1.34", Findings: findings}
}

// many is n findings of one severity on distinct lines.
func many(sev validate.Severity, rule string, n int) []validate.Finding {
	var out []validate.Finding
	for i := range n {
		out = append(out, finding(sev, rule, 100+i))
	}
	return out
}

func commands(out, kind string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "::"+kind+" ") || strings.HasPrefix(l, "::"+kind+"::") {
			lines = append(lines, l)
		}
	}
	return lines
}

func TestValidateAnnotationsMergeEnvironmentsErrorsFirstWithinLimits(t *testing.T) {
	warn, err := finding(validate.SeverityWarning, "image-digest", 20), finding(validate.SeverityError, "readiness-probe", 12)
	prodOnly := finding(validate.SeverityError, "replicas", 30)
	reps := []*validate.Report{
		envReport("kind", warn, err),
		envReport("staging", warn, err),
		envReport("prod", warn, err, prodOnly),
	}
	var b bytes.Buffer
	if e := ValidateAnnotations(&b, reps); e != nil {
		t.Fatal(e)
	}
	out := b.String()
	errs, warns := commands(out, "error"), commands(out, "warning")
	if len(errs) != 2 || len(warns) != 1 || len(commands(out, "notice")) != 0 {
		t.Fatalf("want 2 errors, 1 warning, no notice (one per finding, not per environment):\n%s", out)
	}
	if strings.Index(out, "::warning") < strings.Index(out, errs[len(errs)-1]) {
		t.Errorf("a warning comes before an error:\n%s", out)
	}
	if !strings.Contains(errs[0], "file=a.yaml,line=12,title=statex readiness-probe::StatefulSet/ns/db: readiness-probe at 12 — fix: Fix it.") {
		t.Errorf("error annotation lacks file, line, title, object or hint: %s", errs[0])
	}
	if strings.Contains(errs[0], "only in") || !strings.Contains(errs[1], "(only in prod)") {
		t.Errorf("environments named for a finding everywhere, or not for one only in prod:\n%s", out)
	}
}

func TestValidateAnnotationsOverGitHubLimitsEndWithOneNotice(t *testing.T) {
	cases := []struct {
		name             string
		errors, warnings int
		shownE, shownW   int
		notice           string // "" for none
		environments     int    // reports with the same findings
	}{
		{"at the limit", 10, 10, 10, 10, "", 4},
		{"over both", 15, 30, 10, 10, "::5 errors and 20 warnings not shown", 4},
		{"errors only", 12, 3, 10, 3, "::2 errors not shown", 2},
		{"warnings only", 0, 11, 0, 10, "::1 warning not shown", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var reps []*validate.Report
			for i := range c.environments {
				// Warnings first in the report: the order written must not follow it.
				fs := append(many(validate.SeverityWarning, "image-digest", c.warnings), many(validate.SeverityError, "readiness-probe", c.errors)...)
				reps = append(reps, envReport(fmt.Sprint("env", i), fs...))
			}
			var b bytes.Buffer
			if err := ValidateAnnotations(&b, reps); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			errs, warns, notices := commands(out, "error"), commands(out, "warning"), commands(out, "notice")
			if len(errs) != c.shownE || len(warns) != c.shownW {
				t.Errorf("%d errors and %d warnings annotated, want %d and %d:\n%s", len(errs), len(warns), c.shownE, c.shownW, out)
			}
			if c.errors > 0 && strings.Index(out, "::warning") < strings.LastIndex(out, "::error") {
				t.Errorf("errors are not first:\n%s", out)
			}
			switch {
			case c.notice == "" && len(notices) != 0:
				t.Errorf("notice within the limits:\n%s", out)
			case c.notice != "" && (len(notices) != 1 || !strings.Contains(notices[0], c.notice)):
				t.Errorf("want one notice saying %q:\n%s", c.notice, out)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if c.notice != "" && !strings.HasPrefix(lines[len(lines)-1], "::notice") {
				t.Errorf("the notice is not last:\n%s", out)
			}
		})
	}
}

func TestAddStepSummary(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "GITHUB_STEP_SUMMARY" {
				return v
			}
			return ""
		}
	}
	if err := AddStepSummary(env(""), "x"); !errors.Is(err, ErrNoStepSummary) {
		t.Errorf("unset: %v, want ErrNoStepSummary", err)
	}
	if err := AddStepSummary(env(t.TempDir()), "x"); err == nil {
		t.Error("a directory as summary file: no error")
	}
	file := filepath.Join(t.TempDir(), "summary.md")
	for _, md := range []string{"### one", "### two\n"} {
		if err := AddStepSummary(env(file), md); err != nil {
			t.Fatal(err)
		}
	}
	if data, _ := os.ReadFile(file); string(data) != "### one\n### two\n" {
		t.Errorf("summary file %q: want both parts appended, each ending in a newline", data)
	}
}
