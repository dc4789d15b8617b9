package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// statex runs the CLI in-process from the repository root.
func statex(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("STATEX_ROOT", root)
	t.Setenv("GITHUB_ACTIONS", "")
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
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
		{[]string{"render"}, exitUsage, "--env is required"},
		{[]string{"render", "--env", "nope"}, exitUsage, `no environment "nope"`},
		{[]string{"drill", "nosuch"}, exitUsage, `no scenario "nosuch" (have: postgres-leader-pod-kill, postgres-postmaster-crash, rabbitmq-queue-leader-pod-kill, minio-node-loss, redis-master-pod-kill)`},
		{[]string{"drill", "--env", "nope"}, exitUsage, `no environment "nope"`},
		{[]string{"drill", "--help"}, exitOK, "gates: RTO ≤ 90 s, RPO ≤ 0 s"},
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
	summary := filepath.Join(t.TempDir(), "summary.md")
	if err := os.WriteFile(summary, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GITHUB_STEP_SUMMARY", summary)
	// githubactions writes workflow commands to os.Stdout; capture it.
	r, w, _ := os.Pipe()
	saved := os.Stdout
	os.Stdout = w
	code, _, _ := statex(t, "validate", brokenRule, "--github")
	w.Close()
	os.Stdout = saved
	var cmds bytes.Buffer
	cmds.ReadFrom(r)
	if code != exitFindings {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(cmds.String(), "::error file="+brokenRule+",line=") || !strings.Contains(cmds.String(), "readiness-probe") {
		t.Errorf("no error annotation with file and line:\n%s", cmds.String())
	}
	data, _ := os.ReadFile(summary)
	if !strings.Contains(string(data), "| error | `readiness-probe` |") {
		t.Errorf("step summary lacks the finding:\n%s", data)
	}
}

func TestRenderWritesFileWhoseHashIsPrinted(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := statex(t, "render", "--env", "prod", "-o", dir, "--output", "json")
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
