package manifest

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

// writeTree writes files (path → content) under a new temporary root.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

const envFile = `apiVersion: statex.io/v1alpha1
kind: Environments
namespace: demo
kubernetesVersion: "1.34"
promotion: [dev]
generatedSecrets:
  - name: creds
    keys: [password]
environments:
  - name: dev
    overlay: overlays/dev
    target: {kind: {cluster: demo}}
    gates: [validate, deploy]
  - name: empty
    overlay: overlays/empty
    target: {context: somewhere}
  - name: broken
    overlay: overlays/broken
    target: {context: somewhere}
  - name: missing
    overlay: overlays/missing
    target: {context: somewhere}
`

func demoRepo(t *testing.T) string {
	return writeTree(t, map[string]string{
		EnvironmentsFile:                    envFile,
		"manifests/base/kustomization.yaml": "resources: [app.yaml]\n",
		"manifests/base/app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  a: b\n---\n" +
			"apiVersion: v1\nkind: Service\nmetadata:\n  name: app\nspec:\n  ports:\n    - port: 80\n",
		"manifests/overlays/dev/kustomization.yaml": "namespace: demo\nresources: [../../base]\nbuildMetadata: [originAnnotations]\n" +
			"patches:\n  - target: {kind: ConfigMap}\n    patch: |\n      - op: add\n        path: /data/c\n        value: d\n",
		"manifests/overlays/empty/kustomization.yaml":  "resources: []\n",
		"manifests/overlays/broken/kustomization.yaml": "resources: [does-not-exist.yaml]\n",
	})
}

func loadDemo(t *testing.T) (string, *Environments) {
	root := demoRepo(t)
	envs, err := LoadEnvironments(filepath.Join(root, EnvironmentsFile))
	if err != nil {
		t.Fatal(err)
	}
	return root, envs
}

func TestRenderIsDeterministicAndLocatesSources(t *testing.T) {
	root, envs := loadDemo(t)
	a, err := Render(context.Background(), root, envs, "dev")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Render(context.Background(), root, envs, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.YAML, b.YAML) || a.Hash != b.Hash || !strings.HasPrefix(a.Hash, "sha256:") {
		t.Fatalf("renders differ or hash malformed: %s vs %s", a.Hash, b.Hash)
	}
	if bytes.Contains(a.YAML, []byte("config.kubernetes.io/origin")) {
		t.Error("build metadata leaked into the rendered output")
	}
	if len(a.Objects) != 2 {
		t.Fatalf("got %d objects, want 2", len(a.Objects))
	}
	for _, o := range a.Objects {
		if o.File != "manifests/base/app.yaml" || o.Namespace != "demo" {
			t.Errorf("%s: file %q namespace %q; want the base file and the overlay namespace", o.Ref(), o.File, o.Namespace)
		}
	}
	svc := a.Objects[1]
	if svc.Kind != "Service" || svc.Line != 8 || svc.LineOf("spec.ports[0].port") != 14 {
		t.Errorf("Service located at %d (port at %d), want 8 (14)", svc.Line, svc.LineOf("spec.ports[0].port"))
	}
	// Editing a source changes the hash.
	if err := os.WriteFile(filepath.Join(root, "manifests/base/app.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  a: changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Render(context.Background(), root, envs, "dev")
	if err != nil || c.Hash == a.Hash {
		t.Errorf("hash did not change after an edit (err %v)", err)
	}
}

func TestRenderErrorsNameTheCulprit(t *testing.T) {
	root, envs := loadDemo(t)
	for env, want := range map[string]string{
		"empty":   "rendered no objects",
		"broken":  "manifests/overlays/broken",
		"missing": "overlays/missing does not exist",
		"nope":    `no environment "nope" (defined: dev, empty, broken, missing)`,
	} {
		_, err := Render(context.Background(), root, envs, env)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Render(%s) error = %v, want it to mention %q", env, err, want)
		}
	}
}

func TestLoadEnvironmentsRejectsMistakes(t *testing.T) {
	cases := map[string]struct{ edit, want string }{
		"unknown field":   {"environments:\n  - name: x\n    overlay: o\n    target: {context: c}\n    gate: [validate]\n", `unknown field "gate"`},
		"duplicate name":  {"environments:\n  - {name: x, overlay: o, target: {context: c}}\n  - {name: x, overlay: o, target: {context: c}}\n", `environment "x": defined twice`},
		"two targets":     {"environments:\n  - {name: x, overlay: o, target: {context: c, kind: {cluster: k}}}\n", "exactly one of kind.cluster or context"},
		"unknown gate":    {"environments:\n  - {name: x, overlay: o, target: {context: c}, gates: [aproval]}\n", `unknown gate "aproval"`},
		"bad promotion":   {"promotion: [qa]\nenvironments:\n  - {name: x, overlay: o, target: {context: c}}\n", `promotion: "qa" is not a defined environment`},
		"bad ttl":         {"environments:\n  - {name: x, overlay: o, target: {context: c}, ttl: 3 days}\n", `ttl "3 days"`},
		"missing overlay": {"environments:\n  - {name: x, target: {context: c}}\n", "overlay is required"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			head := "apiVersion: statex.io/v1alpha1\nkind: Environments\nnamespace: demo\nkubernetesVersion: \"1.34\"\n"
			root := writeTree(t, map[string]string{EnvironmentsFile: head + c.edit})
			_, err := LoadEnvironments(filepath.Join(root, EnvironmentsFile))
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "environments.yaml") {
				t.Errorf("error = %v, want it to name the file and mention %q", err, c.want)
			}
		})
	}
}

func TestFindRootWalksUp(t *testing.T) {
	root := demoRepo(t)
	got, err := FindRoot(filepath.Join(root, "manifests", "base"))
	if err != nil || got != root {
		t.Errorf("FindRoot = %q, %v; want %q", got, err, root)
	}
	if _, err := FindRoot(t.TempDir()); err == nil || !strings.Contains(err.Error(), "--root") {
		t.Errorf("FindRoot outside a repo: %v, want a hint to use --root", err)
	}
}

// The repository's own environments render, deterministically.
func TestRepositoryEnvironmentsRender(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	envs, err := LoadEnvironments(filepath.Join(root, EnvironmentsFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, env := range envs.Environments {
		if env.Name == "" {
			continue
		}
		a, err := Render(context.Background(), root, envs, env.Name)
		if err != nil {
			t.Fatalf("%s: %v", env.Name, err)
		}
		// kustomize's own origin tracking, the slow way: the same bytes,
		// and every object at the same file and line.
		overlay := envs.OverlayDir(&env)
		tracked, objs, err := kustomizeWith(context.Background(), overlay, func(p string) string { return relTo(root, p) }, nil, true)
		if err != nil {
			t.Fatalf("%s: %v", env.Name, err)
		}
		if !bytes.Equal(a.YAML, tracked) || len(objs) != len(a.Objects) {
			t.Fatalf("%s: render differs from kustomize's with origin tracking", env.Name)
		}
		for i, o := range a.Objects {
			if o.File != objs[i].File || o.Line != objs[i].Line || o.LineOf("spec") != objs[i].LineOf("spec") {
				t.Errorf("%s: %s at %s:%d, kustomize's origins say %s:%d", env.Name, o.Ref(), o.File, o.Line, objs[i].File, objs[i].Line)
			}
		}
		for _, o := range a.Objects {
			if !strings.HasPrefix(o.File, "manifests/") || o.Line < 1 {
				t.Errorf("%s: %s not located in a source file (%s:%d)", env.Name, o.Ref(), o.File, o.Line)
			}
		}
		objectsAreTheirYAML(t, env.Name, a)
	}
}

// Render builds objects from kustomize's nodes instead of parsing the YAML
// it writes: they must be exactly what parsing that YAML (the bytes users
// apply) gives.
func objectsAreTheirYAML(t *testing.T, env string, r *Rendered) {
	t.Helper()
	parsed, errs := ParseDocuments("rendered.yaml", r.YAML)
	if len(errs) > 0 {
		t.Fatalf("%s: %v", env, errs[0])
	}
	if len(parsed) != len(r.Objects) {
		t.Fatalf("%s: %d objects from nodes, %d from the YAML", env, len(r.Objects), len(parsed))
	}
	for i, o := range r.Objects {
		p := parsed[i]
		if o.APIVersion != p.APIVersion || o.Kind != p.Kind || o.Name != p.Name || o.Namespace != p.Namespace ||
			!reflect.DeepEqual(o.Labels, p.Labels) || !reflect.DeepEqual(o.Annotations, p.Annotations) {
			t.Errorf("%s: %s: metadata differs from the YAML's", env, o.Ref())
		}
		// The same values; keys keep the source's order (kustomize writes
		// its YAML through JSON, so sorted).
		var fromNode, fromYAML any
		if json.Unmarshal(o.JSON, &fromNode) != nil || json.Unmarshal(p.JSON, &fromYAML) != nil || !reflect.DeepEqual(fromNode, fromYAML) {
			t.Errorf("%s: %s: JSON from the node differs from the YAML's:\n%s\n%s", env, o.Ref(), o.JSON, p.JSON)
		}
	}
}

func TestGeneratedObjectsPointAtTheirGenerator(t *testing.T) {
	root := writeTree(t, map[string]string{
		EnvironmentsFile: envFile,
		"manifests/overlays/dev/kustomization.yaml": "buildMetadata: [originAnnotations]\nconfigMapGenerator:\n  - name: other\n    literals: [a=b]\n  - name: settings\n    literals: [a=b]\n",
	})
	envs, err := LoadEnvironments(filepath.Join(root, EnvironmentsFile))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Render(context.Background(), root, envs, "dev")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range r.Objects {
		if strings.HasPrefix(o.Name, "settings-") && (o.File != "manifests/overlays/dev/kustomization.yaml" || o.Line != 5) {
			t.Errorf("%s located at %s:%d, want the generator entry at line 5", o.Name, o.File, o.Line)
		}
	}
}

// Nodes kustomize builds carry tags no parser would give (a plain !!str
// "true"); their JSON must be what the written YAML reads as.
func TestNodeJSONIsWhatItsYAMLReads(t *testing.T) {
	for _, value := range []string{"true", "True", "yes", "on", "No", "1", "0x1F", "1.5", "", "null", "~", "text", "a: b", "- x"} {
		for _, tag := range []string{"!!str", ""} {
			n := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
				{Kind: yaml.ScalarNode, Tag: "!!str", Value: "apiVersion"}, {Kind: yaml.ScalarNode, Tag: "!!str", Value: "v1"},
				{Kind: yaml.ScalarNode, Tag: "!!str", Value: "kind"}, {Kind: yaml.ScalarNode, Tag: "!!str", Value: "ConfigMap"},
				{Kind: yaml.ScalarNode, Tag: "!!str", Value: "v"}, {Kind: yaml.ScalarNode, Tag: tag, Value: value},
			}}
			direct, err := nodeToJSON(n)
			if err != nil {
				t.Fatal(err)
			}
			written, err := yaml.Marshal(n)
			if err != nil {
				t.Fatal(err)
			}
			parsed, errs := ParseDocuments("w.yaml", written)
			if len(errs) > 0 || len(parsed) != 1 {
				t.Fatalf("%q: written YAML does not parse: %v\n%s", value, errs, written)
			}
			if !bytes.Equal(direct, parsed[0].JSON) {
				t.Errorf("tag %q value %q: node gives %s, its YAML %s (%q)", tag, value, direct, parsed[0].JSON, written)
			}
		}
	}
	// Explicitly tagged strings stay strings, as in kubectl.
	objs, _ := ParseDocuments("t.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nv: !!str yes\n"))
	if len(objs) != 1 || !bytes.Contains(objs[0].JSON, []byte(`"v":"yes"`)) {
		t.Errorf("!!str yes: %s", objs[0].JSON)
	}
}
