package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestNewCallIDIsUniquePerCall(t *testing.T) {
	format := regexp.MustCompile(`^[0-9]+-[0-9a-f]{16}$`)
	seen := map[string]bool{}
	for range 10000 {
		id := newCallID()
		if !format.MatchString(id) {
			t.Fatalf("call ID %q: want UNIXNANO-16HEX", id)
		}
		if seen[id] {
			t.Fatalf("call ID %q repeated", id)
		}
		seen[id] = true
	}
}

// envAt is the environment an exec at ops[i] runs with (the env ops before
// it): with the exec's argv, what the engine's cache key depends on here.
func envAt(ops []op, i int) map[string]string {
	env := map[string]string{}
	for _, o := range ops[:i] {
		if o.kind == opEnv {
			env[o.name] = o.value
		}
	}
	return env
}

// clusterPlans builds the plan of every function that touches a cluster or
// the host's Docker, for one call.
func clusterPlans(t *testing.T, callID string) map[string]plan {
	t.Helper()
	plans := map[string]plan{}
	add := func(name string, p plan, err error) {
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		plans[name] = p
	}
	p, err := upPlan(callID, "kind", "text")
	add("Up", p, err)
	p, err = deployPlan(callID, "staging", "json", false, false)
	add("Deploy", p, err)
	p, err = deployPlan(callID, "kind", "text", true, true)
	add("Deploy --docker --dry-run", p, err)
	p, err = testPlan(callID, "staging", "text", false)
	add("Test", p, err)
	p, err = testPlan(callID, "kind", "text", true)
	add("Test --docker", p, err)
	p, err = drillPlan(callID, "kind", "json", []string{"redis-master-pod-kill"}, false)
	add("Drill", p, err)
	p, err = drillPlan(callID, "kind", "json", nil, true)
	add("Drill --docker", p, err)
	p, err = backupPlan(callID, "staging", "json", []string{"redis"}, false, false)
	add("Backup", p, err)
	p, err = backupPlan(callID, "kind", "text", nil, true, true)
	add("Backup --docker --list", p, err)
	return plans
}

// The bug: a second call was served the first call's report. Every exec
// that talks to a cluster or to Docker must see an input no other call has.
func TestClusterPlansRunFreshOnEveryCall(t *testing.T) {
	id1, id2 := newCallID(), newCallID()
	first, second := clusterPlans(t, id1), clusterPlans(t, id2)
	for name, p1 := range first {
		p2 := second[name]
		t.Run(name, func(t *testing.T) {
			for _, c := range []struct {
				p  plan
				id string
			}{{p1, id1}, {p2, id2}} {
				if c.p.callID != c.id {
					t.Errorf("plan call ID %q, want %q", c.p.callID, c.id)
				}
				// the verb runs after every CLI step
				if got := envAt(c.p.cli, len(c.p.cli))[callIDEnv]; got != c.id {
					t.Errorf("verb runs with %s=%q, want %q", callIDEnv, got, c.id)
				}
			}
			if maps.Equal(envAt(p1.cli, len(p1.cli)), envAt(p2.cli, len(p2.cli))) {
				t.Error("two calls run the verb with the same environment: the second is served from cache")
			}
			// the join, when there is one, is as fresh as the verb
			if len(p1.join) != len(p2.join) {
				t.Fatalf("join steps differ between calls: %d vs %d", len(p1.join), len(p2.join))
			}
			for i, o := range p1.join {
				if o.kind != opExec {
					continue
				}
				if envAt(p1.join, i)[callIDEnv] != id1 || envAt(p2.join, i)[callIDEnv] != id2 {
					t.Errorf("join exec %d does not run with this call's %s", i, callIDEnv)
				}
				if slices.Equal(o.args, p2.join[i].args) {
					t.Errorf("join exec %d has the same argv on two calls", i)
				}
				if !slices.Contains(o.args, joinMarker(id1)) {
					t.Errorf("join argv lacks the call's marker %q", joinMarker(id1))
				}
			}
		})
	}
}

// Installs stay cached: they come before the per-call input, so only the
// execs that must run again do.
func TestInstallsComeBeforeTheCallID(t *testing.T) {
	for name, p := range clusterPlans(t, newCallID()) {
		for i, o := range p.cli {
			if o.kind == opExec {
				if _, fresh := envAt(p.cli, i)[callIDEnv]; fresh {
					t.Errorf("%s: CLI step %d %q runs after %s: it is re-run on every call", name, i, o.args, callIDEnv)
				}
			}
		}
	}
}

func opKinds(ops []op) []opKind {
	var ks []opKind
	for _, o := range ops {
		ks = append(ks, o.kind)
	}
	return ks
}

func joinModeOf(t *testing.T, p plan) string {
	t.Helper()
	if len(p.join) == 0 {
		return ""
	}
	last := p.join[len(p.join)-1]
	if last.kind != opExec || len(last.args) != 8 {
		t.Fatalf("join does not end with the join script: %+v", last)
	}
	if last.args[2] != joinKindNetworkScript || last.args[6] != kindNetwork {
		t.Errorf("join argv %q", last.args[3:])
	}
	return last.args[5]
}

func TestClusterPlanSteps(t *testing.T) {
	plans := clusterPlans(t, "1-00")
	for _, tc := range []struct {
		name       string
		join       string // join mode, "" = none
		kubeconfig bool
		docker     bool // socket on the CLI container
		kindAPI    bool // STATEX_KIND_API=internal
		insecure   bool
		verb       string
	}{
		{name: "Up", join: "create", docker: true, kindAPI: true, insecure: true, verb: "up"},
		{name: "Deploy", kubeconfig: true, verb: "deploy"},
		{name: "Deploy --docker --dry-run", join: "require", kubeconfig: true, verb: "deploy"},
		{name: "Test", kubeconfig: true, verb: "check"},
		{name: "Test --docker", join: "require", kubeconfig: true, verb: "check"},
		{name: "Drill", kubeconfig: true, verb: "drill"},
		{name: "Drill --docker", join: "require", kubeconfig: true, verb: "drill"},
		{name: "Backup", kubeconfig: true, verb: "backup"},
		// The kind site is reached by its name on the kind network.
		{name: "Backup --docker --list", join: "require", kubeconfig: true, kindAPI: true, verb: "backup"},
	} {
		p := plans[tc.name]
		kinds := opKinds(p.cli)
		if got := joinModeOf(t, p); got != tc.join {
			t.Errorf("%s: join mode %q, want %q", tc.name, got, tc.join)
		}
		if tc.join != "" && !slices.Contains(opKinds(p.join), opDocker) {
			t.Errorf("%s: the join has no Docker socket", tc.name)
		}
		if got := slices.Contains(kinds, opKubeconfig); got != tc.kubeconfig {
			t.Errorf("%s: kubeconfig mounted = %v", tc.name, got)
		}
		if got := slices.Contains(kinds, opDocker); got != tc.docker {
			t.Errorf("%s: Docker socket on the CLI container = %v", tc.name, got)
		}
		if got := envAt(p.cli, len(p.cli))["STATEX_KIND_API"] == "internal"; got != tc.kindAPI {
			t.Errorf("%s: STATEX_KIND_API=internal = %v", tc.name, got)
		}
		if p.insecure != tc.insecure {
			t.Errorf("%s: insecure = %v", tc.name, p.insecure)
		}
		if len(p.verbs) != 1 {
			t.Fatalf("%s: %d verb runs, want 1 (a cluster verb runs once)", tc.name, len(p.verbs))
		}
		if v := p.verbs[0].args; len(v) < 2 || v[0] != cliPath || v[1] != tc.verb {
			t.Errorf("%s: verb %q", tc.name, v)
		}
	}
	if p := plans["Deploy --docker --dry-run"]; !slices.Contains(p.verbs[0].args, "--dry-run") {
		t.Errorf("dry run lost: %q", p.verbs[0].args)
	}
	if p := plans["Backup --docker --list"]; !slices.Contains(p.verbs[0].args, "--list") {
		t.Errorf("--list lost: %q", p.verbs[0].args)
	}
	if p := plans["Backup"]; p.verbs[0].args[len(p.verbs[0].args)-1] != "redis" {
		t.Errorf("services lost: %q", p.verbs[0].args)
	}
	if _, err := backupPlan("1-00", "kind", "text", []string{"--force"}, false, false); err == nil {
		t.Error("backupPlan accepted a flag as a service")
	}
	// argument errors surface before anything runs
	if _, err := upPlan("1-00", "-x", "text"); err == nil {
		t.Error("upPlan accepted a flag as env")
	}
	if _, err := deployPlan("1-00", "kind", "sarif", false, false); err == nil {
		t.Error("deployPlan accepted sarif")
	}
	if _, err := testPlan("1-00", "", "text", true); err == nil {
		t.Error("testPlan accepted an empty env")
	}
	if _, err := drillPlan("1-00", "kind", "text", []string{"-x"}, true); err == nil {
		t.Error("drillPlan accepted a flag as scenario")
	}
}

// A plan that needs a mount nobody passed fails instead of running without it.
func TestApplyRefusesMissingMounts(t *testing.T) {
	if _, err := apply(dag.Container(), []op{{kind: opKubeconfig}}, nil, nil); err == nil {
		t.Error("kubeconfig step applied with no kubeconfig")
	}
	if _, err := apply(dag.Container(), []op{{kind: opDocker}}, nil, nil); err == nil || !strings.Contains(err.Error(), "--docker") {
		t.Errorf("docker step with no socket: %v", err)
	}
}

// Which functions the engine may cache: only those whose result is a pure
// function of their inputs. Anything given a kubeconfig or the Docker socket
// reads or changes live state and must be +cache="never".
func TestCachePragmas(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "main.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var never, live, all []string
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Recv == nil || !fd.Name.IsExported() {
			continue
		}
		all = append(all, fd.Name.Name)
		if fd.Doc != nil && slices.Contains(strings.Split(fd.Doc.Text(), "\n"), `+cache="never"`) {
			never = append(never, fd.Name.Name)
		}
		for _, p := range fd.Type.Params.List {
			if s, ok := p.Type.(*ast.StarExpr); ok {
				if sel, ok := s.X.(*ast.SelectorExpr); ok && (sel.Sel.Name == "Secret" || sel.Sel.Name == "Socket") {
					live = append(live, fd.Name.Name)
					break
				}
			}
		}
	}
	want := []string{"Backup", "Deploy", "Drill", "Test", "Up"}
	if len(all) < 8 {
		t.Fatalf("found %d functions in main.go: %q", len(all), all)
	}
	slices.Sort(never)
	slices.Sort(live)
	if !slices.Equal(never, want) {
		t.Errorf(`+cache="never" on %q, want %q`, never, want)
	}
	if !slices.Equal(live, want) {
		t.Errorf("functions taking a kubeconfig or socket: %q, want %q (each must be uncached and use a plan)", live, want)
	}
	for _, fn := range []string{"Render", "Validate", "ValidateAll", "UnitTests"} {
		if !slices.Contains(all, fn) || slices.Contains(never, fn) {
			t.Errorf("%s must exist and stay cached (a pure function of the source)", fn)
		}
	}
}
