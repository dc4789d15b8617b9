package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/statex/infrastructure/pipelines/drill"
	"github.com/statex/infrastructure/pipelines/internal/testrepo"
	"github.com/statex/infrastructure/pipelines/report"
	"github.com/statex/infrastructure/pipelines/validate"
)

// statex runs the CLI in-process from the repository root, as outside
// GitHub Actions.
func statex(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return statexEnv(t, map[string]string{"GITHUB_ACTIONS": ""}, args...)
}

// statexEnv runs the CLI in-process with env set for the test.
func statexEnv(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	t.Setenv("STATEX_ROOT", testrepo.Root(t))
	for k, v := range env {
		t.Setenv(k, v)
	}
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// onRunner is the environment of a GitHub Actions step, with its step
// summary file.
func onRunner(t *testing.T) (env map[string]string, summary string) {
	t.Helper()
	summary = filepath.Join(t.TempDir(), "summary.md")
	if err := os.WriteFile(summary, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": summary}, summary
}

func emptyDir(t *testing.T) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "empty.yaml"), []byte("# nothing\n---\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// unreadable is a directory holding a file that cannot be read (as root,
// chmod is not enough: a dangling symlink fails the same way).
func unreadable(t *testing.T) string {
	dir := t.TempDir()
	if err := os.Symlink(filepath.Join(dir, "missing-target"), filepath.Join(dir, "secret.yaml")); err != nil {
		t.Fatal(err)
	}
	return dir
}

const brokenRule = "../../validate/testdata/rules/readiness-probe.yaml"

func TestExitCodes(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want string // in stdout+stderr
	}{
		{[]string{"validate", "--env", "kind"}, exitOK, "✓ valid"},
		{[]string{"validate"}, exitOK, "(prod, Kubernetes 1.34"},
		{[]string{"validate", brokenRule}, exitFindings, "readiness-probe"},
		{[]string{"validate", "--env", "nope"}, exitUsage, `no environment "nope"`},
		{[]string{"validate", "does/not/exist.yaml"}, exitUsage, "does/not/exist.yaml"},
		{[]string{"validate", "--output", "xml"}, exitUsage, `--output "xml"`},
		{[]string{"validate", emptyDir(t)}, exitUsage, "no Kubernetes objects found"},
		{[]string{"validate", unreadable(t)}, exitUsage, "secret.yaml"},
		{[]string{"validate", "--env", "kind", brokenRule}, exitUsage, "not both"},
		{[]string{"validate", "--help"}, exitOK, "ignore-check.statex.io/<rule-id>"},
		{[]string{"render", "kind"}, exitUsage, "takes no arguments"},
		{[]string{"render", "-o", "out/"}, exitUsage, "--output-dir out/"},
		{[]string{"render", "-o", "xml"}, exitUsage, `--output "xml": want yaml or json`},
		{[]string{"deploy", "--output", "xml"}, exitUsage, `--output "xml": want text, json or markdown`},
		{[]string{"check", "--bogus"}, exitUsage, "unknown flag: --bogus"},
		{[]string{"cluster", "boot"}, exitUsage, `unknown subcommand "boot"`},
		{[]string{"cluster"}, exitUsage, "statex cluster up"},
		{[]string{"images"}, exitUsage, "statex images build"},
		{[]string{"-v", "-1", "version"}, exitUsage, "want 0 or more"},
		{[]string{"render", "--env", "nope"}, exitUsage, `no environment "nope"`},
		{[]string{"drill", "nosuch"}, exitUsage, `no scenario "nosuch" (have: postgres-leader-pod-kill, postgres-postmaster-crash, rabbitmq-queue-leader-pod-kill, minio-node-loss, redis-master-pod-kill)`},
		{[]string{"drill", "--env", "nope"}, exitUsage, `no environment "nope"`},
		{[]string{"drill", "--help"}, exitOK, "gates: RTO ≤ 90 s, ≤ 0 acknowledged writes lost, RPO ≤ 0 s"},
		{[]string{"drill", "--max-rto", "0s"}, exitUsage, "must be above 0"},
		{[]string{"drill", "--max-rpo", "-1s"}, exitUsage, "must not be negative"},
		{[]string{"bogus"}, exitUsage, `unknown command "bogus"`},
		{[]string{"--help"}, exitOK, "Commands:"},
		{nil, exitUsage, "Usage:"},
	}
	for _, c := range cases {
		code, out, errs := statex(t, c.args...)
		if code != c.code || !strings.Contains(out+errs, c.want) {
			t.Errorf("statex %v: exit %d, want %d; output lacks %q:\n%s%s", c.args, code, c.code, c.want, out, errs)
		}
		if code == exitUsage && strings.Contains(out, "✓") {
			t.Errorf("statex %v: failed but printed a success line", c.args)
		}
	}
}

func TestValidateJSONIsMachineReadable(t *testing.T) {
	code, out, _ := statex(t, "validate", brokenRule, "--output", "json")
	if code != exitFindings {
		t.Fatalf("exit %d", code)
	}
	var rep struct {
		Errors   int `json:"errors"`
		Findings []struct {
			Rule string `json:"rule"`
			File string `json:"file"`
			Line int    `json:"line"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if rep.Errors != 1 || rep.Findings[0].Rule != "readiness-probe" || rep.Findings[0].Line == 0 || rep.Findings[0].File != brokenRule {
		t.Errorf("unexpected report %+v", rep)
	}
}

func TestValidateWritesJUnitAndSARIF(t *testing.T) {
	dir := t.TempDir()
	junit, sarif := filepath.Join(dir, "v.xml"), filepath.Join(dir, "v.sarif")
	code, _, errs := statex(t, "validate", brokenRule, "--junit", junit, "--sarif", sarif)
	if code != exitFindings {
		t.Fatalf("exit %d: %s", code, errs)
	}
	data, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var suites struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Text string `xml:",chardata"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &suites); err != nil {
		t.Fatalf("JUnit does not parse: %v", err)
	}
	if suites.Failures != 1 || suites.Tests < 40 {
		t.Errorf("JUnit: %d tests, %d failures; want one failing rule among all", suites.Tests, suites.Failures)
	}
	data, err = os.ReadFile(sarif)
	if err != nil {
		t.Fatal(err)
	}
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Results []struct {
				RuleID    string `json:"ruleId"`
				Locations []struct {
					PhysicalLocation struct {
						Region struct {
							StartLine int `json:"startLine"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(data, &log); err != nil || log.Version != "2.1.0" || len(log.Runs) != 1 {
		t.Fatalf("SARIF: %v %+v", err, log)
	}
	res := log.Runs[0].Results
	if len(res) != 1 || res[0].RuleID != "readiness-probe" || res[0].Locations[0].PhysicalLocation.Region.StartLine == 0 {
		t.Errorf("SARIF results %+v", res)
	}
}

func TestGitHubActionsAnnotationsAndSummary(t *testing.T) {
	env, summary := onRunner(t)
	code, out, errs := statexEnv(t, env, "validate", brokenRule, "--github")
	if code != exitFindings {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(errs, "::error file="+brokenRule+",line=") || !strings.Contains(errs, "readiness-probe") {
		t.Errorf("no error annotation with file and line on stderr:\n%s", errs)
	}
	if strings.Contains(out, "::") {
		t.Errorf("workflow commands on stdout:\n%s", out)
	}
	data, _ := os.ReadFile(summary)
	if !strings.Contains(string(data), "| error | `readiness-probe` |") {
		t.Errorf("step summary lacks the finding:\n%s", data)
	}
}

// On a runner (GITHUB_ACTIONS=true turns --github on), a machine-readable
// report on stdout must still parse: the annotations go to stderr, which
// the runner reads for workflow commands too.
func TestGitHubActionsKeepsStdoutMachineReadable(t *testing.T) {
	parses := map[string]func([]byte) error{
		"json": func(b []byte) error { var v map[string]any; return json.Unmarshal(b, &v) },
		"junit": func(b []byte) error {
			// xml.Unmarshal skips text before the root element: check the start.
			if !bytes.HasPrefix(b, []byte("<?xml")) {
				return fmt.Errorf("does not start with the XML declaration")
			}
			var v struct {
				XMLName xml.Name `xml:"testsuites"`
			}
			return xml.Unmarshal(b, &v)
		},
		"sarif": func(b []byte) error {
			var v struct {
				Version string `json:"version"`
			}
			if err := json.Unmarshal(b, &v); err != nil {
				return err
			}
			if v.Version != "2.1.0" {
				return fmt.Errorf("version %q", v.Version)
			}
			return nil
		},
	}
	for format, parse := range parses {
		t.Run(format, func(t *testing.T) {
			env, _ := onRunner(t)
			code, out, errs := statexEnv(t, env, "validate", brokenRule, "--output", format)
			if code != exitFindings {
				t.Fatalf("exit %d: %s", code, errs)
			}
			if err := parse([]byte(out)); err != nil || strings.Contains(out, "::error") {
				t.Errorf("stdout is not clean %s (%v):\n%s", format, err, out)
			}
			if !strings.Contains(errs, "::error file="+brokenRule) {
				t.Errorf("annotations missing from stderr:\n%s", errs)
			}
		})
	}
}

// With GITHUB_STEP_SUMMARY unset (or unwritable) a verb says so in one line
// and goes on: no panic, the same exit code, the annotations still written.
func TestGitHubActionsWithoutStepSummaryDegrades(t *testing.T) {
	for name, file := range map[string]string{"unset": "", "unwritable": t.TempDir()} {
		t.Run(name, func(t *testing.T) {
			code, out, errs := statexEnv(t, map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": file},
				"validate", brokenRule, "--output", "json")
			if code != exitFindings || !json.Valid([]byte(out)) {
				t.Fatalf("exit %d, stdout JSON %v: %s", code, json.Valid([]byte(out)), errs)
			}
			if n := strings.Count(errs, "statex validate: no GitHub step summary written"); n != 1 {
				t.Errorf("%d notes about the step summary, want 1:\n%s", n, errs)
			}
			if !strings.Contains(errs, "::error file=") {
				t.Errorf("annotations lost with the summary:\n%s", errs)
			}
		})
	}
	// check, drill and deploy share emitVerdicts' summary.
	t.Setenv("GITHUB_STEP_SUMMARY", "")
	var out, errb bytes.Buffer
	r := verdictReport{
		value:    map[string]string{},
		text:     func(io.Writer, report.Style) error { return nil },
		markdown: func() string { return "### check" },
		junit:    func(io.Writer) error { return nil },
	}
	if code := emitVerdicts("check", "json", "", true, r, &out, &errb); code != exitOK {
		t.Errorf("exit %d", code)
	}
	if got := strings.TrimSpace(errb.String()); got != "statex check: no GitHub step summary written: GITHUB_STEP_SUMMARY is not set" {
		t.Errorf("stderr %q", got)
	}
}

type sarifResults struct {
	Runs []struct {
		Tool struct {
			Driver struct {
				Version string `json:"version"`
			} `json:"driver"`
		} `json:"tool"`
		Results []struct {
			RuleID  string `json:"ruleId"`
			Message struct {
				Text string `json:"text"`
			} `json:"message"`
			Locations []struct {
				PhysicalLocation struct {
					ArtifactLocation struct {
						URI string `json:"uri"`
					} `json:"artifactLocation"`
					Region struct {
						StartLine int `json:"startLine"`
					} `json:"region"`
				} `json:"physicalLocation"`
			} `json:"locations"`
			Suppressions []struct{} `json:"suppressions"`
		} `json:"results"`
	} `json:"runs"`
}

// distinctFindings counts the findings of every environment as one per
// rule, file, line and message, from the JSON report.
func distinctFindings(t *testing.T) (errs, warnings, suppressed int) {
	t.Helper()
	_, out, _ := statex(t, "validate", "--output", "json")
	var reps []validate.Report
	if err := json.Unmarshal([]byte(out), &reps); err != nil || len(reps) < 2 {
		t.Fatalf("want several environments: %v", err)
	}
	seen := map[string]bool{}
	for _, rep := range reps {
		for _, f := range rep.Findings {
			k := fmt.Sprint(f.Rule, f.File, f.Line, f.Message)
			if !seen[k] {
				seen[k] = true
				if f.Severity == validate.SeverityError {
					errs++
				} else {
					warnings++
				}
			}
		}
		for _, s := range rep.Suppressed {
			k := fmt.Sprint("suppressed", s.Rule, s.File, s.Line, s.Message)
			if !seen[k] {
				seen[k] = true
				suppressed++
			}
		}
	}
	return errs, warnings, suppressed
}

func TestValidateSARIFOneRunAcrossEnvironments(t *testing.T) {
	file := filepath.Join(t.TempDir(), "v.sarif")
	if code, _, errs := statex(t, "validate", "--sarif", file); code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var log sarifResults
	if err := json.Unmarshal(data, &log); err != nil || len(log.Runs) != 1 {
		t.Fatalf("want one run for every environment: %v, %d runs", err, len(log.Runs))
	}
	if log.Runs[0].Tool.Driver.Version == "" {
		t.Error("tool.driver.version is empty")
	}
	seen := map[string]bool{}
	for _, r := range log.Runs[0].Results {
		loc := r.Locations[0].PhysicalLocation
		k := fmt.Sprint(r.RuleID, loc.ArtifactLocation.URI, loc.Region.StartLine, r.Message.Text, len(r.Suppressions))
		if seen[k] {
			t.Errorf("result repeated: %s", k)
		}
		seen[k] = true
	}
	e, w, s := distinctFindings(t)
	if len(log.Runs[0].Results) != e+w+s {
		t.Errorf("%d results, want %d distinct findings", len(log.Runs[0].Results), e+w+s)
	}
}

func TestGitHubAnnotationsOncePerFindingWithinLimits(t *testing.T) {
	env, _ := onRunner(t)
	code, _, errs := statexEnv(t, env, "validate")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	count := map[string]int{}
	seen := map[string]bool{}
	for _, line := range strings.Split(errs, "\n") {
		for _, kind := range []string{"error", "warning", "notice"} {
			if strings.HasPrefix(line, "::"+kind+" ") {
				count[kind]++
				if seen[line] {
					t.Errorf("annotation repeated: %s", line)
				}
				seen[line] = true
			}
		}
	}
	e, w, _ := distinctFindings(t)
	if count["error"] != min(e, report.AnnotationsPerKind) || count["warning"] != min(w, report.AnnotationsPerKind) {
		t.Errorf("%d error and %d warning annotations for %d and %d distinct findings", count["error"], count["warning"], e, w)
	}
	over := e > report.AnnotationsPerKind || w > report.AnnotationsPerKind
	if over != (count["notice"] == 1) || count["notice"] > 1 {
		t.Errorf("%d notices with %d errors and %d warnings:\n%s", count["notice"], e, w, errs)
	}
	// The notice counts what is left out of the distinct findings, not of
	// every environment's.
	for kind, n := range map[string]int{"error": e, "warning": w} {
		hidden := n - report.AnnotationsPerKind
		if hidden > 0 && !strings.Contains(errs, fmt.Sprintf("::%d %s", hidden, kind)) && !strings.Contains(errs, fmt.Sprintf(" and %d %s", hidden, kind)) {
			t.Errorf("the notice does not count %d %ss left out:\n%s", hidden, kind, errs)
		}
	}
}

// The scenarios dr-drill.yml accepts are the drill package's, in order:
// the workflow checks its input against this list before any command.
func TestDrillWorkflowKnowsEveryScenario(t *testing.T) {
	data, err := os.ReadFile("../../../.github/workflows/dr-drill.yml")
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "KNOWN_SCENARIOS:"); ok {
			listed = strings.Fields(strings.Trim(strings.TrimSpace(v), `"`))
		}
	}
	var want []string
	for _, sc := range drill.Scenarios {
		want = append(want, sc.Name)
	}
	if !slices.Equal(listed, want) {
		t.Errorf("dr-drill.yml KNOWN_SCENARIOS = %q, want %q", listed, want)
	}
}

func TestRenderWritesFileWhoseHashIsPrinted(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := statex(t, "render", "--env", "prod", "--output-dir", dir, "-o", "json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var sum renderSummary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "prod.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(data)
	if sum.Hash != "sha256:"+hex.EncodeToString(h[:]) || sum.Objects == 0 {
		t.Errorf("summary %+v does not match the written file", sum)
	}
	code2, yamlOut, _ := statex(t, "render", "--env", "prod")
	if code2 != exitOK || yamlOut != string(data) {
		t.Error("stdout render differs from the file render")
	}
}

func TestListRules(t *testing.T) {
	code, out, _ := statex(t, "validate", "--list-rules", "--output", "json")
	var rules []struct{ ID, Layer, Severity, Hint string }
	if code != exitOK || json.Unmarshal([]byte(out), &rules) != nil || len(rules) < 40 {
		t.Fatalf("exit %d, %d rules", code, len(rules))
	}
	for _, r := range rules {
		if r.ID == "" || r.Layer == "" || r.Hint == "" {
			t.Errorf("incomplete rule %+v", r)
		}
	}
}
