package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/statex/infrastructure/pipelines/deploy"
	"github.com/statex/infrastructure/pipelines/kube"
	"github.com/statex/infrastructure/pipelines/report"
)

// Credentials in the dead kubeconfig: no message may show them.
const (
	deadToken    = "kubeconfig-token-must-not-show"
	deadPassword = "kubeconfig-password-must-not-show"
)

// deadKubeconfig points every context the environments use at the
// loopback's port 1, where nothing listens: connections are refused at
// once and nothing leaves the machine.
func deadKubeconfig(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Config\nclusters:\n- name: dead\n  cluster:\n    server: https://127.0.0.1:1\n")
	b.WriteString("users:\n- name: u\n  user:\n    token: " + deadToken + "\n- name: basic\n  user:\n    username: admin\n    password: " + deadPassword + "\n")
	b.WriteString("contexts:\n")
	for _, ctx := range []string{"dead", "statex-staging", "statex-prod", "kind-statex"} {
		user := "u"
		if ctx == "statex-prod" {
			user = "basic"
		}
		b.WriteString("- name: " + ctx + "\n  context: {cluster: dead, user: " + user + "}\n")
	}
	b.WriteString("current-context: dead\n")
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Every verb that needs a cluster exits 2 on an unreachable API server,
// says so naming the server's URL (never a credential), and prints no
// report: a dry run never says "planned", a drill never FAILs scenarios it
// could not start.
func TestUnreachableClusterExits2NamingTheServer(t *testing.T) {
	kc := deadKubeconfig(t)
	for _, args := range [][]string{
		{"deploy", "--env", "kind", "--dry-run", "--output", "json"},
		{"deploy", "--env", "staging"},
		{"deploy", "--env", "prod", "--dry-run", "--output", "markdown"},
		{"check", "--env", "kind"},
		{"check", "--env", "staging", "postgres"},
		{"drill", "--env", "kind"},
		{"drill", "--env", "kind", "redis-master-pod-kill", "--output", "json"},
		{"up", "--env", "staging"}, // a context target: up goes straight to deploy
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, out, errs := statex(t, append(args, "--kubeconfig", kc)...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d\n%s%s", code, exitUsage, out, errs)
			}
			if !strings.Contains(errs, "API server https://127.0.0.1:1 is unreachable: dial tcp 127.0.0.1:1: connect: connection refused") {
				t.Errorf("stderr does not say the API server is unreachable:\n%s", errs)
			}
			if out != "" {
				t.Errorf("a report on stdout for a cluster never reached:\n%s", out)
			}
			for _, secret := range []string{deadToken, deadPassword, "planned", "FAIL"} {
				if strings.Contains(out+errs, secret) {
					t.Errorf("output contains %q:\n%s", secret, errs)
				}
			}
		})
	}
	// cluster status probes the kind environment's cluster through the
	// same config (a cluster must exist for it to get that far: the probe
	// is tested on its own).
	a := &app{stdout: io.Discard, stderr: io.Discard}
	cf := genericclioptions.ConfigFlags{KubeConfig: &kc, Context: new(string)}
	tgt, err := a.resolve("kind", &cf)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := tgt.RESTConfig()
	if err == nil {
		err = kube.Reachable(t.Context(), cfg)
	}
	if err == nil || !strings.Contains(err.Error(), "API server https://127.0.0.1:1 is unreachable") {
		t.Errorf("cluster status probe: %v", err)
	}
}

// A report file that cannot be written stops the verb before it runs:
// exit 2, one line naming the file, nothing on stdout. The kubeconfig is
// dead, so a verb that did not check first would fail differently.
func TestReportFileThatCannotBeWrittenExits2(t *testing.T) {
	kc := deadKubeconfig(t)
	missing := filepath.Join(t.TempDir(), "no-such-dir", "x.xml")
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cases := []struct {
		args []string
		flag string
	}{
		{[]string{"deploy", "--env", "kind", "--junit", missing}, "--junit " + missing},
		{[]string{"deploy", "--env", "kind", "--dry-run", "--junit", dir}, "--junit " + dir},
		{[]string{"check", "--env", "kind", "--junit", missing}, "--junit " + missing},
		{[]string{"drill", "--env", "kind", "--junit", missing}, "--junit " + missing},
		{[]string{"up", "--env", "staging", "--junit", missing}, "--junit " + missing},
		{[]string{"up", "--env", "staging", "--check-junit", missing}, "--check-junit " + missing},
		{[]string{"render", "--env", "kind", "--output-dir", filepath.Join(file, "out")}, "--output-dir " + filepath.Join(file, "out")},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args[:1], " ")+" "+c.flag, func(t *testing.T) {
			code, out, errs := statex(t, append(c.args, "--kubeconfig", kc)...)
			if c.args[0] == "render" {
				code, out, errs = statex(t, c.args...)
			}
			if code != exitUsage || out != "" {
				t.Errorf("exit %d, stdout %q; want 2 and nothing\n%s", code, out, errs)
			}
			if !strings.Contains(errs, c.flag) {
				t.Errorf("stderr does not name %q:\n%s", c.flag, errs)
			}
			if c.args[0] != "render" && (strings.Contains(errs, "API server") || strings.Contains(errs, "validate:")) {
				t.Errorf("the verb ran before finding its report unwritable:\n%s", errs)
			}
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the writability check left %d files behind", len(entries))
	}
}

// The check before the run leaves an existing report untouched and a new
// one absent.
func TestPreflightLeavesNoTrace(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "old.xml")
	if err := os.WriteFile(existing, []byte("kept"), 0o644); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(dir, "new.xml")
	if code := preflightReports("check", io.Discard, reportFile{"junit", existing}, reportFile{"check-junit", fresh}); code != -1 {
		t.Fatalf("preflight of writable files: %d", code)
	}
	if data, _ := os.ReadFile(existing); string(data) != "kept" {
		t.Errorf("existing report truncated: %q", data)
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Errorf("preflight left %s behind: %v", fresh, err)
	}
}

// When the report file goes away between the check and the write (the
// directory removed mid-run), the verb still exits 2 with no success line
// on stdout.
func TestReportFileLostAfterTheRunExits2(t *testing.T) {
	lost := filepath.Join(t.TempDir(), "gone", "r.xml")
	var out, errb bytes.Buffer
	r := verdictReport{
		value: map[string]string{},
		text: func(w io.Writer, _ report.Style) error {
			_, err := io.WriteString(w, "kind: 9 passed, 0 failed, 0 skipped\n")
			return err
		},
		markdown: func() string { return "" },
		junit:    func(w io.Writer) error { _, err := io.WriteString(w, "<testsuites/>"); return err },
	}
	if code := emitVerdicts("check", "text", lost, false, r, &out, &errb); code != exitUsage || out.Len() != 0 {
		t.Errorf("check: exit %d, stdout %q", code, out.String())
	}
	if !strings.Contains(errb.String(), "--junit "+lost+": report not written") {
		t.Errorf("check stderr: %s", errb.String())
	}

	out.Reset()
	errb.Reset()
	res := &deploy.Result{Env: "kind", Namespace: "ns", Status: deploy.ReleaseSucceeded, Revision: 3}
	if code := emitDeploy(res, nil, deployFlags{format: "text", junit: lost}, nil, &out, &errb); code != exitUsage || out.Len() != 0 {
		t.Errorf("deploy: exit %d, stdout %q", code, out.String())
	}
	if !strings.Contains(errb.String(), "--junit "+lost+": report not written") || strings.Contains(errb.String(), "succeeded") {
		t.Errorf("deploy stderr: %s", errb.String())
	}
}

// An unknown service or scenario is a usage error before anything runs.
func TestUnknownServiceIsAUsageError(t *testing.T) {
	for _, args := range [][]string{{"check", "nosuch"}, {"backup", "nosuch"}, {"drill", "nosuch"}} {
		var out, errb bytes.Buffer
		code := run(context.Background(), append(args, "--kubeconfig", deadKubeconfig(t)), &out, &errb)
		if code != exitUsage || !strings.Contains(errb.String(), `"nosuch"`) || strings.Contains(errb.String(), "unreachable") {
			t.Errorf("%v: exit %d: %s", args, code, errb.String())
		}
	}
}
