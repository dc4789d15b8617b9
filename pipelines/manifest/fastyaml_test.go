package manifest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

// sameAsTree checks one chunk: when the fast path takes it, yaml.v3's tree
// path must give exactly the same object. It reports whether the fast path
// took it.
func sameAsTree(t *testing.T, name string, data []byte) bool {
	t.Helper()
	fast, ok := fastObject("f.yaml", data, 7)
	if !ok {
		return false
	}
	objs, errs := parseChunkTree("f.yaml", data, 7)
	if len(errs) != 0 || len(objs) != 1 {
		t.Fatalf("%s: the fast path accepted a chunk yaml.v3 gives %d objects and errors %v for:\n%s", name, len(objs), errs, data)
	}
	tree := objs[0]
	if !bytes.Equal(fast.JSON, tree.JSON) {
		t.Fatalf("%s: JSON differs\nfast: %s\ntree: %s\ninput:\n%s", name, fast.JSON, tree.JSON, data)
	}
	fast.src, tree.src = nil, nil
	fast.JSON, tree.JSON = nil, nil
	if !reflect.DeepEqual(fast, tree) {
		t.Fatalf("%s: object differs\nfast: %+v\ntree: %+v\ninput:\n%s", name, fast, tree, data)
	}
	return true
}

// nodePaths lists a path to every node of a yaml.v3 tree, in the forms
// findings use: with indices, without them (as decoder errors give them),
// and running past the end of the document.
func nodePaths(n *yaml.Node, prefix string, out []string) []string {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			p := prefix + "." + k
			if strings.ContainsAny(k, ".[]") {
				p = prefix + `["` + k + `"]`
			}
			out = append(out, p, p+".missing")
			out = nodePaths(n.Content[i+1], p, out)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", prefix, i)
			out = append(out, p, p+"[3].x")
			out = nodePaths(c, p, out)
		}
		out = append(out, fmt.Sprintf("%s[%d]", prefix, len(n.Content)))
	}
	return out
}

var indexRE = regexp.MustCompile(`\[[0-9]+\]`)

// sameLines checks that a document the fast path took gives every field
// the line yaml.v3's tree gives it.
func sameLines(t *testing.T, name string, data []byte) {
	t.Helper()
	fast, ok := fastObject("f.yaml", data, 3)
	if !ok {
		return
	}
	tree := *fast
	tree.src = &docSource{data: data, lineBase: 3}
	_, root := tree.src.positions()
	if root == nil {
		t.Fatalf("%s: yaml.v3 cannot parse a document the fast path took", name)
	}
	paths := nodePaths(root, "", []string{"", "nothing.here", "spec[0]"})
	for _, path := range paths {
		if strings.Contains(path, "[") {
			paths = append(paths, indexRE.ReplaceAllString(path, ""))
		}
	}
	for _, path := range paths {
		path = strings.TrimPrefix(path, ".")
		if got, want := fast.LineOf(path), tree.LineOf(path); got != want {
			t.Fatalf("%s: LineOf(%q) = %d from the index, %d from yaml.v3\n%s", name, path, got, want, data)
		}
	}
	if ix, _ := fast.src.positions(); ix == nil {
		t.Fatalf("%s: no position index for a document the fast path took", name)
	}
}

// repoYAML is every YAML document of the repository: manifests as written,
// each environment rendered, and the validator's test cases.
func repoYAML(t testing.TB) map[string][]byte {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string][]byte{}
	for _, dir := range []string{"manifests", "pipelines/validate/testdata", ".github"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") && !strings.HasSuffix(path, ".yml") {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for i, c := range splitDocuments(data) {
				docs[fmt.Sprintf("%s#%d", path, i)] = c.data
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	envs, err := LoadEnvironments(filepath.Join(root, EnvironmentsFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, env := range envs.Environments {
		r, err := Render(context.Background(), root, envs, env.Name)
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range splitDocuments(r.YAML) {
			docs[fmt.Sprintf("%s rendered#%d", env.Name, i)] = c.data
		}
	}
	return docs
}

func TestFastPathMatchesYAMLv3OnTheRepository(t *testing.T) {
	docs := repoYAML(t)
	var taken, objects int
	for name, data := range docs {
		if sameAsTree(t, name, data) {
			taken++
			sameLines(t, name, data)
		}
		if objs, _ := parseChunkTree("f.yaml", data, 0); len(objs) == 1 {
			objects++
		}
	}
	// The point of the fast path is that real manifests take it: a change
	// that sends them all to yaml.v3 is a regression, not a pass.
	if objects == 0 || taken*100 < objects*95 {
		t.Fatalf("the fast path took %d of %d single-object documents; want at least 95%%", taken, objects)
	}
	if testing.Verbose() {
		for name, data := range docs {
			if _, ok := fastObject("f.yaml", data, 0); !ok {
				if objs, _ := parseChunkTree("f.yaml", data, 0); len(objs) == 1 {
					t.Logf("left to yaml.v3: %s", name)
				}
			}
		}
	}
	t.Logf("fast path took %d of %d single-object documents (%d chunks)", taken, objects, len(docs))
}

// Cases at the edges of the subset: each either takes the fast path with
// the same result as yaml.v3, or is left to it.
var fastPathCases = map[string]string{
	"scalars": `apiVersion: v1
kind: ConfigMap
metadata:
  name: x
data:
  a: yes
  b: "yes"
  c: 'it''s'
  d: 0x1F
  e: 1_000
  f: 1.5e3
  g: .inf
  h: ~
  i:
  j: 2001-12-14
  k: "esc \" \\ \t \u00e9 \x41 \U0001F600 \N"
  l: -12
  m: +7
  n: 0o17
  o: 0777
  p: plain with # not a comment
  q: ends with comment # here
  r: http://example.com:8080/x
  s: [a, "b", 1, true, {k: v}, []]
  t: {a: 1, "b": [x], c: {}}
  u: off
  v: 12:30
  w: -x
  y: 9223372036854775808
  z: 1e400
`,
	"block scalars": `apiVersion: v1
kind: ConfigMap
metadata:
  name: x
data:
  literal: |
    line one
      indented

    after blank
  strip: |-
    no newline
  keep: |+
    kept


  folded: >
    folded
    together

    paragraph
      more indented
    back
  foldedstrip: >-
    a
    b
  trailing-spaces: |
    a

    b
  tab: |
    a	b
last: x
`,
	"sequences": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: x
  labels: {}
  annotations:
    a: "1"
    a: "2"
    b:
      nested: x
spec:
  list:
  - a
  - b: c
    d: e
  -
    f: g
  - - nested
  other:
    - |
      block in seq
    - "q"
    -
    - 'x': y
`,
	"duplicates and metadata": `apiVersion: v1
kind: Secret
kind: Other
metadata:
  name: first
  name: second
  labels:
    a: b
  labels:
    c: d
metadata:
  name: third
`,
	"not a key":          "apiVersion: v1\nkind: X\nmetadata: {name: a}\nspec: a: b\n",
	"continuation":       "apiVersion: v1\nkind: X\nspec:\n  a: b\n    c\n\n     d\n  e: 'f\n    g''s\n\n\n    h'\n  i: \"j\n   k \\u00e9\"\n  l:\n  - m\n    n # o\n",
	"bad continuation":   "apiVersion: v1\nkind: X\nspec:\n  a: b\n    c: d\n",
	"anchor":             "apiVersion: v1\nkind: X\nspec: &a\n  a: b\nother: *a\n",
	"tab":                "apiVersion: v1\nkind: X\nspec:\n\ta: b\n",
	"crlf":               "apiVersion: v1\r\nkind: X\r\n",
	"list":               "apiVersion: v1\nkind: List\nitems: []\n",
	"marker":             "---\napiVersion: v1\nkind: X\n",
	"marker comment":     "--- # c\napiVersion: v1\nkind: X\n",
	"no kind":            "apiVersion: v1\nmetadata:\n  name: x\n",
	"multi-line quoted":  "apiVersion: v1\nkind: X\na: \"one\n  two\"\n",
	"indentation 2":      "apiVersion: v1\nkind: X\na: |2\n   x\n",
	"empty block scalar": "apiVersion: v1\nkind: X\na: |\nb: c\n",
	"bad indent":         "apiVersion: v1\nkind: X\na:\n    b: 1\n  c: 2\n",
	"merge":              "apiVersion: v1\nkind: X\n<<: {a: 1}\n",
	"trailing comma":     "apiVersion: v1\nkind: X\na: [1, 2, ]\n",
	"no final newline":   "apiVersion: v1\nkind: X\na: |\n  x",
	"comment at eof":     "apiVersion: v1\nkind: X\na: b\n# end",
	"quoted key":         "apiVersion: v1\nkind: X\n\"a b\": 1\n'c''d': 2\n\"e\\tf\": 3\n",
	"keyish value":       "apiVersion: v1\nkind: X\na: b:\n",
	"key with colon":     "apiVersion: v1\nkind: X\nurn:x:y: 1\n",
	"json escape":        "apiVersion: v1\nkind: X\na: \"\\/\"\n",
}

func TestFastPathEdgeCases(t *testing.T) {
	for name, doc := range fastPathCases {
		sameAsTree(t, name, []byte(doc))
		sameLines(t, name, []byte(doc))
	}
	// These must take the fast path: they are what manifests look like.
	for _, name := range []string{"scalars", "block scalars", "duplicates and metadata", "marker", "marker comment", "quoted key", "no final newline", "comment at eof", "continuation"} {
		if _, ok := fastObject("f.yaml", []byte(fastPathCases[name]), 0); !ok {
			t.Errorf("%s: left to yaml.v3, want the fast path", name)
		}
	}
	// And these must not: yaml.v3 rejects them or they need its tree.
	for _, name := range []string{"not a key", "bad continuation", "anchor", "tab", "crlf", "list", "no kind", "bad indent", "merge", "keyish value", "json escape"} {
		if _, ok := fastObject("f.yaml", []byte(fastPathCases[name]), 0); ok {
			t.Errorf("%s: taken by the fast path, want yaml.v3", name)
		}
	}
}

func FuzzFastPathMatchesYAMLv3(f *testing.F) {
	for _, doc := range fastPathCases {
		f.Add([]byte(doc))
	}
	f.Add([]byte(twoDocs))
	// Real manifests, so mutations start from what users write.
	for _, path := range []string{"postgres/statefulset.yaml", "postgres/rbac.yaml", "mail-ops/cronjobs.yaml", "prometheus/statefulset.yaml"} {
		data, err := os.ReadFile(filepath.Join("../../manifests/base", path))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, c := range splitDocuments(data) {
			sameAsTree(t, "fuzz", c.data)
			sameLines(t, "fuzz", c.data)
		}
	})
}

// BenchmarkParse compares the fast path with yaml.v3's tree on the kind
// environment's rendered set; the ratio of the two is what to watch, the
// machine's noise cancels out of it.
func BenchmarkParse(b *testing.B) {
	root, err := filepath.Abs("../..")
	if err != nil {
		b.Fatal(err)
	}
	envs, err := LoadEnvironments(filepath.Join(root, EnvironmentsFile))
	if err != nil {
		b.Fatal(err)
	}
	r, err := Render(context.Background(), root, envs, "kind")
	if err != nil {
		b.Fatal(err)
	}
	chunks := splitDocuments(r.YAML)
	for _, bc := range []struct {
		name  string
		parse func(string, []byte, int) ([]*Object, []*SyntaxError)
	}{{"fast", parseChunk}, {"yaml.v3", parseChunkTree}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(r.YAML)))
			b.ReportAllocs()
			for b.Loop() {
				for _, c := range chunks {
					if _, errs := bc.parse("kind.yaml", c.data, c.line); len(errs) > 0 {
						b.Fatal(errs[0])
					}
				}
			}
		})
	}
}
