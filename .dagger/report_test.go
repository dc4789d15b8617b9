package main

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"slices"
	"strings"
	"testing"

	"dagger/statex/internal/dagger"
)

// newReport with a file picker that records what each field was given: the
// test sees the wiring without an engine.
func recordedReport(t *testing.T, what string, code int) (*Report, map[*dagger.File]string) {
	t.Helper()
	picked := map[*dagger.File]string{}
	file := func(name string) *dagger.File {
		f := new(dagger.File)
		picked[f] = name
		return f
	}
	return newReport(what, code, dag.Directory(), file), picked
}

// Every file field of a Report is wired, to a file the skeleton creates, and
// the exit code is the verb's, for a passing and a failing verb alike.
func TestReportCarriesFilesAndExitCode(t *testing.T) {
	want := map[string]string{
		"Text": reportText, "JSON": reportJSON, "Markdown": reportMarkdown,
		"Junit": reportJUnit, "Sarif": reportSARIF, "Log": reportLog,
	}
	for _, code := range []int{exitOK, exitFindings, exitUsage} {
		rep, picked := recordedReport(t, "validate --env kind", code)
		if rep.ExitCode != code || rep.Verb != "validate --env kind" {
			t.Errorf("exit %d: Report{Verb %q, ExitCode %d}", code, rep.Verb, rep.ExitCode)
		}
		if rep.Files == nil {
			t.Errorf("exit %d: no Files directory", code)
		}
		v := reflect.ValueOf(*rep)
		seen := 0
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if f.Type != reflect.TypeFor[*dagger.File]() {
				continue
			}
			seen++
			ptr := v.Field(i).Interface().(*dagger.File)
			if ptr == nil {
				t.Errorf("exit %d: Report.%s is nil (the caller's `%s contents` would fail)", code, f.Name, strings.ToLower(f.Name))
				continue
			}
			if got := picked[ptr]; got != want[f.Name] {
				t.Errorf("exit %d: Report.%s is %q, want %q", code, f.Name, got, want[f.Name])
			}
			if !slices.Contains(reportFiles, picked[ptr]) {
				t.Errorf("Report.%s names %q, which the skeleton does not create", f.Name, picked[ptr])
			}
		}
		if seen != len(want) {
			t.Errorf("Report has %d file fields, this test knows %d: add the new one", seen, len(want))
		}
	}
}

// The fail option: without it a failing verb hands back its Report (no
// error, nothing read); with it a non-zero exit fails the call with the
// report; exit 0 never fails.
func TestFailOnError(t *testing.T) {
	const report, log = "ERROR manifests/postgres: replicas < 3\n", "validate: 1 error\n"
	for _, tc := range []struct {
		name        string
		code        int
		failOnError bool
		wantErr     []string
	}{
		{name: "pass", code: 0},
		{name: "pass, strict", code: 0, failOnError: true},
		{name: "findings", code: 1},
		{name: "usage", code: 2},
		{name: "findings, strict", code: 1, failOnError: true, wantErr: []string{"exit 1", report, "1 error"}},
		{name: "usage, strict", code: 2, failOnError: true, wantErr: []string{"exit 2", "1 error"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			read := false
			err := reportOutcome("validate --env kind", tc.code, tc.failOnError, func() (string, string, error) {
				read = true
				return report, log, nil
			})
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("got %v, want the Report handed back", err)
				}
				if read {
					t.Error("the report was read although the call returns it")
				}
				return
			}
			if err == nil {
				t.Fatal("a non-zero exit under --fail-on-error did not fail the call")
			}
			for _, s := range tc.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
		})
	}
	// a report that cannot be read still fails the strict call, saying so
	err := reportOutcome("deploy --env kind", 1, true, func() (string, string, error) { return "", "", errors.New("no such file") })
	if err == nil || !strings.Contains(err.Error(), "exit code 1") || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("unreadable report: %v", err)
	}
}

func TestSameExitCode(t *testing.T) {
	if c, err := sameExitCode("validate", []int{1, 1, 1}); err != nil || c != 1 {
		t.Errorf("agreeing runs: %d, %v", c, err)
	}
	if _, err := sameExitCode("validate", []int{0, 1, 0}); err == nil {
		t.Error("disagreeing runs accepted")
	}
	if _, err := sameExitCode("validate", nil); err == nil {
		t.Error("no run accepted")
	}
}

// What each verb writes where, for a passing and a failing run alike (the
// execs take any exit code): stdout and stderr go into the report
// directory, JUnit and the Markdown summary too, and the directory exists
// before the verb runs.
func TestVerbPlansWriteTheReport(t *testing.T) {
	plans := clusterPlans(t, "1-00")
	vp, err := validatePlan("all")
	if err != nil {
		t.Fatal(err)
	}
	plans["Validate"] = vp
	for name, p := range plans {
		if !slices.Contains(opKinds(p.cli), opReportDir) {
			t.Errorf("%s: no report directory before the verb", name)
		}
		if !slices.Contains(reportFiles, p.report) {
			t.Errorf("%s: --fail-on-error quotes %q, not a report file", name, p.report)
		}
		stdouts := map[string]bool{}
		for i, v := range p.verbs {
			if !strings.HasPrefix(v.stdout, reportDir+"/") {
				t.Errorf("%s run %d: stdout to %q, outside the report", name, i, v.stdout)
			}
			stdouts[strings.TrimPrefix(v.stdout, reportDir+"/")] = true
		}
		if !stdouts[p.report] {
			t.Errorf("%s: the quoted report %q is no run's stdout", name, p.report)
		}
		if got := p.verbs[0].stderr; got != reportPath(reportLog) {
			t.Errorf("%s: the log is %q, want %q", name, got, reportPath(reportLog))
		}
		junit := false
		for _, v := range p.verbs {
			if i := slices.Index(v.args, "--junit"); i >= 0 && v.args[i+1] == reportPath(reportJUnit) {
				junit = true
			}
		}
		if !junit {
			t.Errorf("%s: no run writes JUnit into the report", name)
		}
	}
	// the cluster verbs: one run, Markdown as the step summary
	for name, p := range clusterPlans(t, "1-00") {
		if got := envAt(p.cli, len(p.cli))[stepSummaryEnv]; got != reportPath(reportMarkdown) || !slices.Contains(p.verbs[0].args, "--github") {
			t.Errorf("%s: step summary %q (--github %v)", name, got, slices.Contains(p.verbs[0].args, "--github"))
		}
	}
	// --format picks the stdout file
	for format, file := range map[string]string{"text": reportText, "json": reportJSON} {
		p, err := deployPlan("1-00", "kind", format, false, false)
		if err != nil {
			t.Fatal(err)
		}
		if p.verbs[0].stdout != reportPath(file) || p.report != file {
			t.Errorf("--format %s: stdout %q, quoted %q", format, p.verbs[0].stdout, p.report)
		}
	}
	// Validate: every format, one run each; the first writes JUnit and SARIF
	var formats []string
	for _, v := range vp.verbs {
		formats = append(formats, v.args[slices.Index(v.args, "--output")+1])
	}
	if !slices.Equal(formats, []string{"json", "text", "markdown"}) {
		t.Errorf("validate formats %q", formats)
	}
	if !slices.Contains(vp.verbs[0].args, "--sarif") || vp.report != reportText {
		t.Errorf("validate: %q, quotes %q", vp.verbs[0].args, vp.report)
	}
	// Validate stays cached: no per-call input
	if vp.callID != "" || envAt(vp.cli, len(vp.cli))[callIDEnv] != "" {
		t.Error("validate has a per-call input: its cache would never hit")
	}
}

// `dagger check` passes when a check returns no error, so a +check function
// must return only error (a Report with exit 1 would pass) and take no
// argument (dagger check gives none).
func TestCheckFunctions(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "main.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var checks []string
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Recv == nil || fd.Doc == nil || !slices.Contains(strings.Split(fd.Doc.Text(), "\n"), "+check") {
			continue
		}
		checks = append(checks, fd.Name.Name)
		res := fd.Type.Results
		if res == nil || len(res.List) != 1 || !isIdent(res.List[0].Type, "error") {
			t.Errorf("+check %s must return only error", fd.Name.Name)
		}
		for _, p := range fd.Type.Params.List {
			if sel, ok := p.Type.(*ast.SelectorExpr); !ok || sel.Sel.Name != "Context" {
				t.Errorf("+check %s takes an argument", fd.Name.Name)
			}
		}
	}
	slices.Sort(checks)
	if !slices.Equal(checks, []string{"UnitTests", "ValidateAll"}) {
		t.Errorf("+check functions %q, want UnitTests and ValidateAll", checks)
	}
	// ValidateAll's plan covers every environment
	p, err := validatePlan("all")
	if err != nil || !slices.Contains(p.verbs[0].args, "all") {
		t.Errorf("validatePlan(all) = %q, %v", p.verbs, err)
	}
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}
