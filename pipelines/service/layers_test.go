package service

import (
	"go/build"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/statex/infrastructure/pipelines/internal/testrepo"
)

const module = "github.com/statex/infrastructure/"

// deps is what `go list -deps` says of pkg, within the module: every
// package of the module pkg imports, directly or not (test files left
// out). go/build reads the import clauses; nothing is compiled.
func deps(t *testing.T, root, pkg string) []string {
	t.Helper()
	seen := map[string]bool{}
	var walk func(string)
	walk = func(p string) {
		bp, err := build.ImportDir(filepath.Join(root, strings.TrimPrefix(p, module)), 0)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for _, imp := range bp.Imports {
			if strings.HasPrefix(imp, module) && !seen[imp] {
				seen[imp] = true
				walk(imp)
			}
		}
	}
	walk(pkg)
	var out []string
	for p := range seen {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// offending names the verbs among deps other than self.
func offending(self string, deps []string, verbs []string) []string {
	var bad []string
	for _, v := range verbs {
		if v != self && slices.Contains(deps, v) {
			bad = append(bad, v)
		}
	}
	return bad
}

// The verbs meet only in what they share (service, kube, poll, verdict,
// manifest): none of check, drill and deploy imports another, and the
// service knowledge imports no verb. A verb importing another would pull
// its whole world in and grow the "toolkit" verb this package replaced.
func TestVerbsImportNoOtherVerb(t *testing.T) {
	root := testrepo.Root(t)
	verbs := []string{module + "pipelines/check", module + "pipelines/drill", module + "pipelines/deploy"}
	// pipeline composes the verbs: only the doors may import it.
	forbidden := append(slices.Clone(verbs), module+"pipelines/pipeline")
	for _, pkg := range append(slices.Clone(verbs), module+"pipelines/service", module+"pipelines/kube",
		module+"pipelines/poll", module+"pipelines/verdict", module+"pipelines/target") {
		d := deps(t, root, pkg)
		if bad := offending(pkg, d, forbidden); len(bad) > 0 {
			t.Errorf("%s imports %v (directly or not)", pkg, bad)
		}
	}
	// The walk sees through packages: check reaches kube through service.
	if d := deps(t, root, module+"pipelines/drill"); !slices.Contains(d, module+"pipelines/service") || !slices.Contains(d, module+"pipelines/kube") {
		t.Errorf("drill's dependencies %v: the walk is broken", d)
	}
	// poll is for everyone: it imports nothing of the module.
	if d := deps(t, root, module+"pipelines/poll"); len(d) > 0 {
		t.Errorf("poll imports %v", d)
	}
}

// The test fails where it should: a verb reaching another through a
// third package is caught.
func TestLayeringCatchesAnIndirectImport(t *testing.T) {
	root := t.TempDir()
	for dir, src := range map[string]string{
		"pipelines/check":  "package check\nimport _ \"" + module + "pipelines/helper\"\n",
		"pipelines/helper": "package helper\nimport _ \"" + module + "pipelines/deploy\"\n",
		"pipelines/deploy": "package deploy\n",
	} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, dir, "x.go"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d := deps(t, root, module+"pipelines/check")
	if bad := offending(module+"pipelines/check", d, []string{module + "pipelines/deploy"}); len(bad) != 1 {
		t.Errorf("check → helper → deploy not caught: deps %v", d)
	}
}
