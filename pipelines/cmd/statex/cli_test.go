package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	crlog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/statex/infrastructure/pipelines/check"
	"github.com/statex/infrastructure/pipelines/deploy"
	"github.com/statex/infrastructure/pipelines/drill"
	"github.com/statex/infrastructure/pipelines/internal/testrepo"
	"github.com/statex/infrastructure/pipelines/kube"
)

// Every command's --help is its manual: on stdout, exit 0, nothing on
// stderr (so `statex X --help | less` works); a usage error is on stderr
// with exit 2 and nothing on stdout.
func TestHelpOnStdoutUsageErrorsOnStderr(t *testing.T) {
	var paths [][]string
	for _, c := range testRoot().Commands() {
		paths = append(paths, []string{c.Name()})
		for _, s := range c.Commands() {
			paths = append(paths, []string{c.Name(), s.Name()})
		}
	}
	if len(paths) < 15 {
		t.Fatalf("only %d commands", len(paths))
	}
	for _, p := range paths {
		for _, h := range []string{"--help", "-h"} {
			code, out, errs := statex(t, append(slices.Clone(p), h)...)
			if code != exitOK || errs != "" || !strings.Contains(out, "Usage:") {
				t.Errorf("statex %s %s: exit %d, stdout has Usage: %v, stderr %q", strings.Join(p, " "), h, code, strings.Contains(out, "Usage:"), errs)
			}
		}
	}
	for _, args := range [][]string{{"deploy", "--dry-rn"}, {"check", "-o", "yaml"}, {"bogus"}, {"cluster", "boot"}, {"version", "extra"}, {"drill", "--max-lost", "-3"}} {
		code, out, errs := statex(t, args...)
		if code != exitUsage || out != "" || !strings.Contains(errs, "--help' for usage") {
			t.Errorf("statex %v: exit %d, stdout %q, stderr %q; want 2, nothing on stdout, the error and --help on stderr", args, code, out, errs)
		}
	}
}

// complete asks for what the shell would offer after args (the last one
// is the word being completed), as the installed completion script does.
func complete(t *testing.T, args ...string) []string {
	t.Helper()
	code, out, errs := statex(t, append([]string{"__complete"}, args...)...)
	if code != exitOK {
		t.Fatalf("__complete %v: exit %d: %s", args, code, errs)
	}
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(line, ":") { // the directive
			continue
		}
		name, _, _ := strings.Cut(line, "\t")
		names = append(names, name)
	}
	return names
}

func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		code, out, errs := statex(t, "completion", shell)
		if code != exitOK || !strings.Contains(out, "statex") || !strings.Contains(out, "__complete") {
			t.Errorf("completion %s: exit %d, %d bytes: %s", shell, code, len(out), errs)
		}
	}
	var envNames []string
	for _, e := range testrepo.Environments(t).Environments {
		envNames = append(envNames, e.Name)
	}
	var scenarios []string
	for _, sc := range drill.Scenarios {
		scenarios = append(scenarios, sc.Name)
	}
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"check", "--env", ""}, envNames},
		{[]string{"deploy", "--env", ""}, envNames},
		{[]string{"cluster", "up", "--env", ""}, envNames},
		{[]string{"validate", "--env", "prod,"}, prefixed("prod,", envNames)},
		{[]string{"check", ""}, check.Services()},
		{[]string{"check", "postgres", ""}, slices.DeleteFunc(check.Services(), func(s string) bool { return s == "postgres" })},
		{[]string{"drill", "--env", "kind", ""}, scenarios},
		{[]string{"deploy", "-o", ""}, reportFormats},
		{[]string{"render", "--output", ""}, renderFormats},
	}
	for _, c := range cases {
		if got := complete(t, c.args...); !slices.Equal(got, c.want) {
			t.Errorf("completing %q: %q, want %q", c.args, got, c.want)
		}
	}
	if len(envNames) < 4 || len(scenarios) < 5 || len(check.Services()) < 10 {
		t.Errorf("too little to complete: %v %v %v", envNames, scenarios, check.Services())
	}
}

func prefixed(p string, names []string) []string {
	var out []string
	for _, n := range names {
		out = append(out, p+n)
	}
	return out
}

func TestVersionJSON(t *testing.T) {
	code, out, errs := statex(t, "version", "-o", "json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	for _, key := range []string{"version", "module", "revision", "modified", "time", "goVersion"} {
		if _, ok := v[key]; !ok {
			t.Errorf("no %q in %s", key, out)
		}
	}
	if v["version"] == "" || v["module"] != "github.com/statex/infrastructure" {
		t.Errorf("version %q, module %q", v["version"], v["module"])
	}
	// A test binary records no VCS stamp; what a build from a checkout
	// records is read like this.
	info := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/statex/infrastructure", Version: "(devel)"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abc"}, {Key: "vcs.modified", Value: "true"}, {Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}}}
	b := readBuildInfo(info, true)
	if b.Revision != "0123abc" || !b.Modified || b.Time != "2026-12-01T10:00:00Z" || b.ModuleVersion != "(devel)" || b.GoVersion != "go1.26.0" {
		t.Errorf("read %+v", b)
	}
	var text bytes.Buffer
	writeVersion(&text, b)
	if !strings.Contains(text.String(), "revision  0123abc (modified)") {
		t.Errorf("text:\n%s", text.String())
	}
}

// closedPort is a loopback port nothing listens on: connections are
// refused at once.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// twoContexts writes a kubeconfig whose current context is "first" and
// which also has "second", each at its own unreachable server.
func twoContexts(t *testing.T) (path, first, second string) {
	t.Helper()
	first, second = "https://"+closedPort(t), "https://"+closedPort(t)
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: one
  cluster: {server: %q}
- name: two
  cluster: {server: %q}
users:
- name: u
  user: {token: `+deadToken+`}
contexts:
- name: first
  context: {cluster: one, user: u}
- name: second
  context: {cluster: two, user: u}
current-context: first
`, first, second)
	path = filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, first, second
}

// --context picks a context of a multi-context kubeconfig, for a kind
// environment too (whose own kubeconfig is the default only while no
// --context is given); --cluster points a context at another cluster
// entry. The error names the server that was tried.
func TestContextSelectsTheCluster(t *testing.T) {
	kc, first, second := twoContexts(t)
	cases := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"check", "--env", "kind", "--kubeconfig", kc}, nil, first},
		{[]string{"check", "--env", "kind", "--kubeconfig", kc, "--context", "second"}, nil, second},
		{[]string{"deploy", "--env", "kind", "--dry-run", "--kubeconfig", kc, "--context", "second"}, nil, second},
		{[]string{"drill", "--env", "staging", "--kubeconfig", kc, "--context", "second"}, nil, second},
		{[]string{"check", "--env", "kind", "--context", "second"}, map[string]string{"KUBECONFIG": kc}, second},
		{[]string{"check", "--env", "kind", "--kubeconfig", kc, "--cluster", "two"}, nil, second},
	}
	for _, c := range cases {
		env := map[string]string{"GITHUB_ACTIONS": ""}
		for k, v := range c.env {
			env[k] = v
		}
		code, out, errs := statexEnv(t, env, c.args...)
		want := "API server " + c.want + " is unreachable"
		if code != exitUsage || out != "" || !strings.Contains(errs, want) {
			t.Errorf("statex %v: exit %d, stdout %q; stderr lacks %q:\n%s", c.args, code, out, want, errs)
		}
		if strings.Contains(errs, deadToken) {
			t.Errorf("statex %v: the token is in the output", c.args)
		}
	}
	// A context the kubeconfig does not have is named.
	code, _, errs := statex(t, "check", "--env", "kind", "--kubeconfig", kc, "--context", "third")
	if code != exitUsage || !strings.Contains(errs, "third") {
		t.Errorf("unknown context: exit %d: %s", code, errs)
	}
}

// An API server's warnings (a deprecated API, Pod Security in warn mode)
// reach stderr through client-go's warning handler, once each, and the
// reports (JSON, text, Markdown) list them.
func TestAPIServerWarningsReachTheTerminal(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Warning", `299 - "policy/v1beta1 PodDisruptionBudget is deprecated"`)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"major":"1","minor":"34","gitVersion":"v1.34.0"}`)
	}))
	defer srv.Close()
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, []byte("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: "+srv.URL+"}\ncontexts:\n- name: c\n  context: {cluster: c}\ncurrent-context: c\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	a := &app{stdout: &bytes.Buffer{}, stderr: &stderr}
	a.setupLogging()
	// staging targets context statex-staging; --context picks this one.
	cf := genericclioptions.ConfigFlags{KubeConfig: &kc, Context: ptr.To("c")}
	tgt, err := a.resolve("staging", &cf)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := tgt.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := kube.Reachable(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(stderr.String(), "PodDisruptionBudget is deprecated"); n != 1 || !strings.Contains(stderr.String(), "level=WARN") {
		t.Errorf("%d warnings on stderr, want 1 at WARN:\n%s", n, stderr.String())
	}
	// The deploy report carries what the handler kept, in every format.
	for _, format := range []string{formatJSON, formatText, formatMarkdown} {
		var out, errb bytes.Buffer
		res := &deploy.Result{Env: "staging", Namespace: "ns", Status: deploy.ReleaseSucceeded, Revision: 2}
		if code := emitDeploy(res, nil, deployFlags{format: format}, a.warnings, &out, &errb); code != exitOK {
			t.Fatalf("%s: exit %d: %s", format, code, errb.String())
		}
		if n := strings.Count(out.String(), "PodDisruptionBudget is deprecated"); n != 1 {
			t.Errorf("%s report: the warning %d times, want once:\n%s", format, n, out.String())
		}
	}
}

// -v N reaches klog (client-go) and controller-runtime: V(N) shows, V(N+1)
// does not; without -v controller-runtime's info logs still show (its
// default warning handler logs at info).
func TestVerbosityReachesKlogAndControllerRuntime(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"-v", "2", "version"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	klog.V(2).InfoS("klog at 2")
	klog.V(3).InfoS("klog at 3")
	crlog.Log.V(2).Info("controller-runtime at 2")
	crlog.Log.V(3).Info("controller-runtime at 3")
	got := errb.String()
	for want, shown := range map[string]bool{"klog at 2": true, "klog at 3": false, "controller-runtime at 2": true, "controller-runtime at 3": false} {
		if strings.Contains(got, want) != shown {
			t.Errorf("%q shown: %v, want %v:\n%s", want, !shown, shown, got)
		}
	}
	errb.Reset()
	if code := run(context.Background(), []string{"version"}, &out, &errb); code != exitOK {
		t.Fatal(code)
	}
	klog.V(1).InfoS("klog at 1")
	crlog.Log.Info("controller-runtime at 0")
	if got := errb.String(); strings.Contains(got, "klog at 1") || !strings.Contains(got, "controller-runtime at 0") {
		t.Errorf("-v 0:\n%s", got)
	}
}
