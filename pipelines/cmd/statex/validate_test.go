package main

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/statex/infrastructure/pipelines/validate"
)

// withStdin runs the CLI with standard input read from data.
func withStdin(t *testing.T, data string, args ...string) (int, string, string) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "stdin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	old := os.Stdin
	os.Stdin = f
	t.Cleanup(func() { os.Stdin = old; f.Close() })
	return statex(t, args...)
}

func jsonReport(t *testing.T, out string) validate.Report {
	t.Helper()
	var rep validate.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not a JSON report: %v\n%s", err, out)
	}
	return rep
}

func TestValidateReadsStandardInput(t *testing.T) {
	broken, err := os.ReadFile(brokenRule)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs := withStdin(t, "# piped, as from kustomize build\n---\n"+string(broken), "validate", "-", "--output", "json")
	if code != exitFindings {
		t.Fatalf("exit %d: %s", code, errs)
	}
	rep := jsonReport(t, out)
	var want int
	for i, line := range strings.Split(string(broken), "\n") {
		if strings.Contains(line, "# <- readiness-probe") {
			want = i + 1 + 2 // two lines put in front
		}
	}
	if rep.Target != "<stdin>" || len(rep.Findings) != 1 || rep.Findings[0].File != "<stdin>" || rep.Findings[0].Line != want {
		t.Errorf("target %q, findings %+v; want readiness-probe at <stdin>:%d", rep.Target, rep.Findings, want)
	}
}

// A directory holding a kustomization is rendered (not walked): the
// repository's own bases validate clean, and findings in a kustomization
// point at the source file.
func TestValidateRendersKustomizationDirectories(t *testing.T) {
	code, out, errs := statex(t, "validate", "../../../manifests/base/prometheus")
	if code != exitOK || !strings.Contains(out, "✓ valid") || !strings.Contains(errs, "holds a kustomization: validated what kustomize renders") {
		t.Errorf("exit %d:\n%s%s", code, out, errs)
	}
	dir := "../../validate/testdata/kubectl/kustomize"
	code, out, _ = statex(t, "validate", dir, "--output", "json")
	rep := jsonReport(t, out)
	if code != exitFindings || len(rep.Findings) != 1 || rep.Findings[0].File != dir+"/base/configmap.yaml" || rep.Findings[0].Line != 7 {
		t.Errorf("exit %d, findings %+v; want invalid-label at %s/base/configmap.yaml:7", code, rep.Findings, dir)
	}
	if len(rep.Kustomizations) != 1 || rep.Kustomizations[0] != dir {
		t.Errorf("kustomizations %v", rep.Kustomizations)
	}
}

// A config or test file next to manifests is an error naming the file,
// line and the exclusion; excluded, it is named on stderr, never skipped
// in silence.
func TestValidateExcludePath(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"app.yaml":             "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n",
		"tests/rules_test.yml": "# promtool unit tests\nrule_files: [r.yml]\n",
	}
	for name, content := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	test := filepath.ToSlash(filepath.Join(dir, "tests/rules_test.yml"))
	code, out, _ := statex(t, "validate", dir)
	if code != exitFindings || !strings.Contains(out, test) || !strings.Contains(out, "2  error    yaml-syntax") ||
		!strings.Contains(out, "--exclude-path "+test) {
		t.Errorf("exit %d; want a yaml-syntax error at %s:2 suggesting --exclude-path:\n%s", code, test, out)
	}
	code, out, errs := statex(t, "validate", dir, "--exclude-path", "**/tests/**")
	if code != exitOK || !strings.Contains(out, "✓ valid") || !strings.Contains(errs, "1 path(s) not read (--exclude-path): "+filepath.ToSlash(filepath.Join(dir, "tests"))) {
		t.Errorf("exit %d:\n%s%s", code, out, errs)
	}
	if code, _, errs := statex(t, "validate", "--env", "kind", "--exclude-path", "x"); code != exitUsage || !strings.Contains(errs, "--exclude-path applies to PATHs") {
		t.Errorf("--exclude-path with --env: exit %d: %s", code, errs)
	}
}

func TestValidateIncludeExcludeRules(t *testing.T) {
	code, out, errs := statex(t, "validate", brokenRule, "--exclude", "readiness-probe,image-digest")
	if code != exitOK || !strings.Contains(out, "✓ valid") || !strings.Contains(errs, "2 rule(s) not checked (--include/--exclude): image-digest, readiness-probe") {
		t.Errorf("excluded rule: exit %d:\n%s%s", code, out, errs)
	}
	// A layer left out, one rule of it back: the error stays.
	code, out, _ = statex(t, "validate", brokenRule, "--include", "schema,xref", "--include", "policy/readiness-probe", "--output", "json")
	rep := jsonReport(t, out)
	if code != exitFindings || rep.Errors != 1 || len(rep.ExcludedRules) == 0 {
		t.Errorf("include: exit %d, %d errors, excluded %v", code, rep.Errors, rep.ExcludedRules)
	}
	for _, c := range []struct{ args, want string }{
		{"--exclude pbd-required", `--exclude "pbd-required": matches no rule`},
		{"--include polcy/*", `--include "polcy/*": matches no rule`},
		{"--exclude yaml-syntax", "yaml-syntax cannot be excluded"},
	} {
		code, out, errs := statex(t, append([]string{"validate", brokenRule}, strings.Fields(c.args)...)...)
		if code != exitUsage || !strings.Contains(errs, c.want) || out != "" {
			t.Errorf("%s: exit %d, stderr %q; want a usage error with %q", c.args, code, errs, c.want)
		}
	}
	// --list-rules previews a selection.
	code, out, _ = statex(t, "validate", "--list-rules", "--include", "xref", "--output", "json")
	var rules []validate.Rule
	if code != exitOK || json.Unmarshal([]byte(out), &rules) != nil || len(rules) == 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	for _, r := range rules {
		if r.Layer != validate.LayerXRef && r.ID != validate.RuleYAMLSyntax {
			t.Errorf("--include xref listed %s (%s)", r.ID, r.Layer)
		}
	}
	// JUnit says excluded rules were skipped, not passed.
	junit := filepath.Join(t.TempDir(), "v.xml")
	if code, _, errs := statex(t, "validate", brokenRule, "--exclude", "readiness-probe", "--junit", junit); code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	data, _ := os.ReadFile(junit)
	var suites struct {
		Suites []struct {
			Cases []struct {
				Name    string    `xml:"name,attr"`
				Skipped *struct{} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &suites); err != nil {
		t.Fatal(err)
	}
	skipped := 0
	for _, s := range suites.Suites {
		for _, c := range s.Cases {
			if (c.Skipped != nil) != (c.Name == "readiness-probe") {
				t.Errorf("JUnit case %s skipped=%v", c.Name, c.Skipped != nil)
			}
			if c.Skipped != nil {
				skipped++
			}
		}
	}
	if skipped != 1 {
		t.Errorf("%d skipped JUnit cases, want 1", skipped)
	}
}

// --summary counts per rule what the full report lists, in text and JSON.
func TestValidateSummary(t *testing.T) {
	_, full, _ := statex(t, "validate", "--env", "kind", "--output", "json")
	rep := jsonReport(t, full)
	perRule := map[string]int{}
	for _, f := range rep.Findings {
		perRule[f.Rule]++
	}
	code, out, errs := statex(t, "validate", "--env", "kind", "--summary", "--output", "json")
	var sum validate.Summary
	if code != exitOK || json.Unmarshal([]byte(out), &sum) != nil {
		t.Fatalf("exit %d: %s%s", code, out, errs)
	}
	if sum.Warnings != rep.Warnings || sum.Errors != rep.Errors || sum.Suppressed != len(rep.Suppressed) || len(sum.Rules) == 0 {
		t.Errorf("summary %+v does not match the report (%d errors, %d warnings)", sum, rep.Errors, rep.Warnings)
	}
	for _, r := range sum.Rules {
		if r.Findings != perRule[r.Rule] {
			t.Errorf("%s: %d in the summary, %d in the report", r.Rule, r.Findings, perRule[r.Rule])
		}
	}
	code, out, _ = statex(t, "validate", brokenRule, "--summary")
	if code != exitFindings || !strings.Contains(out, "SEVERITY") || !strings.Contains(out, "readiness-probe") ||
		!strings.Contains(out, "✗ invalid: 1 error") || strings.Contains(out, "fix:") {
		t.Errorf("text summary: exit %d:\n%s", code, out)
	}
	if code, _, errs := statex(t, "validate", "--summary", "--output", "sarif"); code != exitUsage || !strings.Contains(errs, "--summary prints text or json") {
		t.Errorf("--summary with sarif: exit %d: %s", code, errs)
	}
}

// A report file that cannot be written fails the run: exit 2, the reason
// on stderr, and no verdict on stdout a CI step could read as success.
func TestValidateUnwritableReportFileFails(t *testing.T) {
	for _, args := range [][]string{
		{"validate", "--env", "kind", "--junit", "/nonexistent/x.xml"},
		{"validate", "--env", "kind", "--sarif", "/nonexistent/x.sarif"},
		{"validate", "--env", "kind", "--sarif", t.TempDir()}, // a directory
		{"validate", brokenRule, "--junit", "/nonexistent/x.xml", "--output", "json"},
	} {
		code, out, errs := statex(t, args...)
		if code != exitUsage || out != "" || !strings.Contains(errs, "cannot write the report") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2, nothing on stdout", args, code, out, errs)
		}
	}
}

func TestValidateHelpTeachesPathMode(t *testing.T) {
	_, out, errs := statex(t, "validate", "--help")
	out += errs // the flag package prints help on its output, stderr
	for _, want := range []string{"--exclude-path", "--include", "--exclude", "--summary", "statex validate -", "kustomization", "'policy/*'"} {
		if !strings.Contains(out, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}
