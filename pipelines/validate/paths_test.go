package validate

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/statex/infrastructure/pipelines/manifest"
)

// markedFindings reads the "# <- rule" markers of every YAML file under
// path, as "file:rule@line".
func markedFindings(t *testing.T, path string) []string {
	t.Helper()
	var want []string
	err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") && !strings.HasSuffix(p, ".yml") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, f := range expectedFindings(t, data) {
			want = append(want, filepath.ToSlash(p)+":"+f)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	return want
}

func gotFindings(rep *Report) []string {
	var got []string
	for _, f := range rep.Findings {
		got = append(got, fmt.Sprintf("%s:%s@%d", f.File, f.Rule, f.Line))
	}
	slices.Sort(got)
	return got
}

// testdata/kubectl holds what kubectl apply -f accepts (Lists in Lists,
// "..." ends, comments, anchors and merges, JSON streams, kustomizations)
// and what it rejects or silently drops; each case must give exactly the
// findings its markers name, at the source file and line.
func TestPathsReadWhatKubectlReads(t *testing.T) {
	dir := "testdata/kubectl"
	cases := []struct {
		path    string
		exclude []string
		objects []string // names, in load order
		extra   []string // findings in files without markers (JSON)
		// excluded and rendered paths the report must name
		excluded, kustomizations []string
	}{
		{path: "list.yaml", objects: []string{"list-first", "Nested_Item", "from-typed-list"}},
		{path: "documents.yaml", objects: []string{"doc-one", "doc-two", "doc-three"}},
		{path: "anchors.yaml", objects: []string{"anchored"}},
		{path: "stream.json", objects: []string{"json-one", "json-two"}, extra: []string{dir + "/stream.json:invalid-type@6"}},
		{path: "kustomize", objects: []string{"settings"}, kustomizations: []string{dir + "/kustomize"}},
		{path: "plain", objects: []string{"plain-app"}},
		{path: "plain", exclude: []string{"config"}, objects: []string{"plain-app"}, excluded: []string{dir + "/plain/config"}},
		{path: "plain", exclude: []string{"config/app.yml", "**/plain/nested"}, objects: []string{"plain-app"},
			excluded: []string{dir + "/plain/config/app.yml", dir + "/plain/nested"}},
	}
	for _, c := range cases {
		name := c.path
		if len(c.exclude) > 0 {
			name += " without " + strings.Join(c.exclude, ",")
		}
		t.Run(name, func(t *testing.T) {
			path := dir + "/" + c.path
			rep, err := Paths(context.Background(), "", []string{path}, PathOptions{
				LoadOptions: manifest.LoadOptions{ExcludePaths: c.exclude},
			})
			if err != nil {
				t.Fatal(err)
			}
			want := append(markedFindings(t, path), c.extra...)
			want = slices.DeleteFunc(want, func(f string) bool { // markers in what the case excludes
				for _, x := range c.excluded {
					if strings.HasPrefix(f, x+"/") || strings.HasPrefix(f, x+":") {
						return true
					}
				}
				return false
			})
			slices.Sort(want)
			if got := gotFindings(rep); !slices.Equal(got, want) {
				t.Errorf("findings\n got: %v\nwant: %v", got, want)
				for _, f := range rep.Findings {
					t.Logf("  %s:%d %s: %s", f.File, f.Line, f.Rule, f.Message)
				}
			}
			if rep.Objects != len(c.objects) {
				t.Errorf("%d objects, want %v", rep.Objects, c.objects)
			}
			if !slices.Equal(rep.ExcludedPaths, c.excluded) || !slices.Equal(rep.Kustomizations, c.kustomizations) {
				t.Errorf("excluded %v, rendered %v; want %v, %v", rep.ExcludedPaths, rep.Kustomizations, c.excluded, c.kustomizations)
			}
			for _, f := range rep.Findings {
				if f.Rule == RuleYAMLSyntax && strings.Contains(f.File, "config") && !strings.Contains(f.Hint, "--exclude-path "+f.File) {
					t.Errorf("a config file's finding does not suggest excluding it: %q", f.Hint)
				}
			}
		})
	}
}

// What a kustomization renders is validated, not its directory's files:
// a file no kustomization lists is never read, and a finding in a patched
// object points at the base file the user edits.
func TestPathsRenderKustomizationsWithSourceLines(t *testing.T) {
	rep, err := Paths(context.Background(), "", []string{"testdata/kubectl/kustomize"}, PathOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Objects != 1 || len(rep.Findings) != 1 {
		t.Fatalf("%d objects, findings %v; want the one rendered ConfigMap and its label", rep.Objects, gotFindings(rep))
	}
	f := rep.Findings[0]
	if f.File != "testdata/kubectl/kustomize/base/configmap.yaml" || f.Line != 7 || f.Object.Namespace != "demo" {
		t.Errorf("finding at %s:%d in %s, want base/configmap.yaml:7 in namespace demo (from the kustomization)", f.File, f.Line, f.Object)
	}
}

func TestPathsReadStandardInput(t *testing.T) {
	in := "# from a pipe\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n"
	rep, err := Paths(context.Background(), "", []string{"-"}, PathOptions{
		LoadOptions: manifest.LoadOptions{Stdin: strings.NewReader(in)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Target != "<stdin>" || len(rep.Findings) != 1 || rep.Findings[0].File != "<stdin>" || rep.Findings[0].Line != 5 {
		t.Errorf("target %q, findings %v; want invalid-name at <stdin>:5", rep.Target, gotFindings(rep))
	}
	if _, err := Paths(context.Background(), "", []string{"-"}, PathOptions{
		LoadOptions: manifest.LoadOptions{Stdin: strings.NewReader("# nothing\n")},
	}); err == nil || !strings.Contains(err.Error(), "<stdin>: no Kubernetes objects found") {
		t.Errorf("empty standard input: %v", err)
	}
}
