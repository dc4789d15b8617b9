package manifest

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const configMap = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n"

func names(set *Set) []string {
	var out []string
	for _, o := range set.Objects {
		out = append(out, o.Name)
	}
	return out
}

func errorsOf(set *Set) []string {
	var out []string
	for _, e := range set.Errors {
		out = append(out, e.Error()+" | "+e.Hint)
	}
	return out
}

func TestLoadPathsReadsStandardInputOnce(t *testing.T) {
	set, err := LoadPaths(context.Background(), []string{"-"}, LoadOptions{Stdin: strings.NewReader("# piped\n" + configMap)})
	if err != nil || len(set.Objects) != 1 || set.Objects[0].File != StdinName || set.Objects[0].Line != 2 {
		t.Fatalf("set %+v, %v; want one object at <stdin>:2", set, err)
	}
	if got := set.Objects[0].LineOf("metadata.name"); got != 5 {
		t.Errorf("LineOf(metadata.name) = %d, want 5: lines are the stream's", got)
	}
	if _, err := LoadPaths(context.Background(), []string{"-", "-"}, LoadOptions{Stdin: strings.NewReader(configMap)}); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("stdin twice: %v", err)
	}
}

// A directory with a kustomization is rendered, whatever its
// kustomization asks for: objects point at their source files (named
// from the path given) and lines, and files it does not list are not read.
func TestLoadPathsRendersKustomizations(t *testing.T) {
	root := writeTree(t, map[string]string{
		"app/kustomization.yaml": "namespace: demo\nresources: [base]\n",
		"app/base/Kustomization": "resources: [cm.yaml]\nconfigMapGenerator:\n  - name: generated\n    literals: [a=b]\n",
		"app/base/cm.yaml":       "# source\n" + configMap + "data:\n  key: value\n",
		"app/base/patch.yaml":    "not: an object\n",
	})
	dir := filepath.Join(root, "app")
	set, err := LoadPaths(context.Background(), []string{dir}, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Errors) != 0 || !slices.Equal(set.Kustomizations, []string{filepath.ToSlash(dir)}) {
		t.Fatalf("errors %v, rendered %v", errorsOf(set), set.Kustomizations)
	}
	byName := map[string]*Object{}
	for _, o := range set.Objects {
		byName[strings.SplitN(o.Name, "-", 2)[0]] = o
	}
	cm, gen := byName["app"], byName["generated"]
	if cm == nil || gen == nil || len(set.Objects) != 2 {
		t.Fatalf("objects %v, want app and the generated ConfigMap", names(set))
	}
	if cm.File != filepath.ToSlash(filepath.Join(dir, "base/cm.yaml")) || cm.Line != 2 || cm.LineOf("data.key") != 7 || cm.Namespace != "demo" {
		t.Errorf("app at %s:%d (data.key %d, namespace %q), want base/cm.yaml:2 (7) in demo", cm.File, cm.Line, cm.LineOf("data.key"), cm.Namespace)
	}
	if gen.File != filepath.ToSlash(filepath.Join(dir, "base/Kustomization")) || gen.Line != 3 {
		t.Errorf("generated at %s:%d, want its generator entry base/Kustomization:3", gen.File, gen.Line)
	}
	if _, err := LoadPaths(context.Background(), []string{filepath.Join(root, "app/base/..", "missing")}, LoadOptions{}); err == nil {
		t.Error("a missing path loaded")
	}
	broken := writeTree(t, map[string]string{"kustomization.yaml": "resources: [nope.yaml]\n"})
	if _, err := LoadPaths(context.Background(), []string{broken}, LoadOptions{}); err == nil || !strings.Contains(err.Error(), "kustomize build "+filepath.ToSlash(broken)) {
		t.Errorf("broken kustomization: %v, want the kustomize error naming the directory", err)
	}
}

// What is not an object is an error naming the file, never a silent skip:
// a kustomization read as a file, a kustomize directory inside a walked
// one, a config file. Each error says how to leave it out.
func TestLoadPathsRefusesWhatIsNotAnObject(t *testing.T) {
	root := writeTree(t, map[string]string{
		"plain/app.yaml":                     configMap,
		"plain/config/settings.yml":          "# config\nlisten: 8080\n",
		"plain/kustomized/kustomization.yml": "resources: [a.yaml]\n",
		"plain/kustomized/a.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: never-read\n",
		"plain/renamed.yaml":                 "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n",
		"plain/.hidden/x.yaml":               "broken: [\n",
		"plain/notes.txt":                    "not yaml at all: [\n",
	})
	plain := filepath.ToSlash(filepath.Join(root, "plain"))
	set, err := LoadPaths(context.Background(), []string{plain, plain + "/kustomized/kustomization.yml"}, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		plain + "/config/settings.yml:2: object without apiVersion and kind (every document must be a Kubernetes object) | Not a Kubernetes manifest (a config file, a test fixture)? Leave it out: --exclude-path " + plain + "/config/settings.yml",
		plain + "/kustomized/kustomization.yml:1: " + plain + "/kustomized is a kustomize directory inside " + plain + ": its files are kustomize's inputs, not objects, so it was not read | Validate it on its own, rendered: statex validate " + plain + "/kustomized (or an environment: --env); or leave it out: --exclude-path " + plain + "/kustomized",
		plain + "/renamed.yaml:1: a kustomization, not a Kubernetes object (kubectl apply -f rejects it) | Pass its directory to validate what it renders: statex validate " + plain + "; or leave it out: --exclude-path " + plain + "/renamed.yaml",
		plain + "/kustomized/kustomization.yml:1: a kustomization, not a Kubernetes object (kubectl apply -f rejects it) | Pass its directory to validate what it renders: statex validate " + plain + "/kustomized; or leave it out: --exclude-path " + plain + "/kustomized/kustomization.yml",
	}
	if got := errorsOf(set); !slices.Equal(got, want) {
		t.Errorf("errors\n got: %q\nwant: %q", got, want)
	}
	if !slices.Equal(names(set), []string{"app"}) {
		t.Errorf("objects %v, want only app", names(set))
	}
}

func TestLoadPathsExcludes(t *testing.T) {
	root := writeTree(t, map[string]string{
		"m/app.yaml":                   configMap,
		"m/config/settings.yml":        "listen: 8080\n",
		"m/prometheus/tests/t.yml":     "rule_files: [a.yml]\n",
		"m/prometheus/rules/r.yml":     "groups: []\n",
		"m/prometheus/deploy.yaml":     strings.Replace(configMap, "name: app", "name: prom", 1),
		"m/overlay/kustomization.yaml": "resources: []\n",
	})
	m := filepath.ToSlash(filepath.Join(root, "m"))
	set, err := LoadPaths(context.Background(), []string{m}, LoadOptions{
		// A name anywhere, "**" across directories, a path relative to the
		// directory given, and one as found.
		ExcludePaths: []string{"config", "**/tests/**", "prometheus/rules/*.yml", m + "/overlay"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Errors) != 0 || !slices.Equal(names(set), []string{"app", "prom"}) {
		t.Errorf("objects %v, errors %v", names(set), errorsOf(set))
	}
	want := []string{m + "/config", m + "/overlay", m + "/prometheus/rules/r.yml", m + "/prometheus/tests"}
	if !slices.Equal(set.Excluded, want) {
		t.Errorf("excluded %v, want %v", set.Excluded, want)
	}
	// A file given on the command line is excluded too (a shell glob).
	_, err = LoadPaths(context.Background(), []string{m + "/config/settings.yml"}, LoadOptions{ExcludePaths: []string{"*.yml"}})
	if err == nil || !strings.Contains(err.Error(), "1 excluded: "+m+"/config/settings.yml") {
		t.Errorf("everything excluded: %v, want an error naming what was excluded", err)
	}
	if _, err := LoadPaths(context.Background(), []string{m}, LoadOptions{ExcludePaths: []string{"[a-"}}); err == nil || !strings.Contains(err.Error(), `exclude path "[a-"`) {
		t.Errorf("bad pattern: %v", err)
	}
}

func TestLoadPathsExpandsPatternsAndRefusesURLs(t *testing.T) {
	root := writeTree(t, map[string]string{"a.yaml": configMap, "b.yaml": strings.Replace(configMap, "app", "b", 1)})
	set, err := LoadPaths(context.Background(), []string{filepath.Join(root, "*.yaml")}, LoadOptions{})
	if err != nil || !slices.Equal(names(set), []string{"app", "b"}) {
		t.Errorf("pattern: %v, %v", set, err)
	}
	if _, err := LoadPaths(context.Background(), []string{filepath.Join(root, "*.json")}, LoadOptions{}); err == nil || !strings.Contains(err.Error(), "matches nothing") {
		t.Errorf("pattern matching nothing: %v", err)
	}
	if _, err := LoadPaths(context.Background(), []string{"https://example.com/x.yaml"}, LoadOptions{}); err == nil || !strings.Contains(err.Error(), "offline") {
		t.Errorf("URL: %v", err)
	}
	// A directory and a file in it: the file is read once.
	set, err = LoadPaths(context.Background(), []string{root, filepath.Join(root, "a.yaml")}, LoadOptions{})
	if err != nil || len(set.Objects) != 2 {
		t.Errorf("named twice: %v, %v", names(set), err)
	}
}

func TestExcludeMatcher(t *testing.T) {
	for _, c := range []struct {
		glob, path string
		want       bool
	}{
		{"tests", "a/tests/x.yml", true},
		{"tests", "a/tests", true},
		{"tests", "a/testsuite/x.yml", false},
		{"*.yml", "a/b/c.yml", true},
		{"**/tests/**", "tests/x.yml", true},
		{"**/tests/**", "a/b/tests/c/x.yml", true},
		{"a/**/x.yml", "a/x.yml", true},
		{"a/*/x.yml", "a/b/c/x.yml", false},
		{"a/b", "a/b/c/x.yml", true},
		{"a/b", "z/a/b", false},
		{"./a/b/", "a/b/c", true},
		{"/abs/dir", "/abs/dir/x.yaml", true},
		{"abs/dir", "/abs/dir/x.yaml", false},
	} {
		m, err := NewExcludeMatcher([]string{c.glob})
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Match(c.path); got != c.want {
			t.Errorf("%q matches %q = %v, want %v", c.glob, c.path, got, c.want)
		}
	}
	if _, err := NewExcludeMatcher([]string{""}); err == nil {
		t.Error("an empty pattern was accepted")
	}
}

func TestOriginAnnotationsAreAddedForLinesOnly(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"resources: [a.yaml]\n", "buildMetadata:\n    - originAnnotations\n"},
		{"buildMetadata: [managedByLabel]\n", "buildMetadata: [managedByLabel, originAnnotations]\n"},
		{"buildMetadata: [originAnnotations]\n", "buildMetadata: [originAnnotations]\n"},
		{"- not a mapping\n", "- not a mapping\n"},
	} {
		if got := string(withOriginAnnotations([]byte(c.in))); !strings.Contains(got, c.want) {
			t.Errorf("%q became %q, want it to contain %q", c.in, got, c.want)
		}
	}
	// The rendered bytes are the same as with buildMetadata written out:
	// the annotations are build metadata, stripped.
	with := writeTree(t, map[string]string{"kustomization.yaml": "buildMetadata: [originAnnotations]\nresources: [cm.yaml]\n", "cm.yaml": configMap})
	without := writeTree(t, map[string]string{"kustomization.yaml": "resources: [cm.yaml]\n", "cm.yaml": configMap})
	a, _, errA := kustomizeWith(context.Background(), with, filepath.ToSlash, nil, true)
	b, objs, errB := kustomizeWith(context.Background(), without, filepath.ToSlash, nil, true)
	if errA != nil || errB != nil || string(a) != string(b) || strings.Contains(string(b), "config.kubernetes.io") {
		t.Errorf("renders differ or carry build metadata (%v, %v):\n%s\n---\n%s", errA, errB, a, b)
	}
	if len(objs) != 1 || objs[0].File != filepath.ToSlash(filepath.Join(without, "cm.yaml")) || objs[0].Line != 1 {
		t.Errorf("object not located at its source: %+v", objs)
	}
	// Untracked (the default), origin tracking leaves and the rest stays.
	if got := string(withoutOriginTracking([]byte("buildMetadata: [managedByLabel, originAnnotations, transformerAnnotations]\n"))); !strings.Contains(got, "managedByLabel") || strings.Contains(got, "Annotations") {
		t.Errorf("withoutOriginTracking kept or lost the wrong entries: %q", got)
	}
	// The kustomization on disk is never rewritten.
	if data, _ := os.ReadFile(filepath.Join(without, "kustomization.yaml")); string(data) != "resources: [cm.yaml]\n" {
		t.Errorf("kustomization.yaml changed on disk: %q", data)
	}
}
