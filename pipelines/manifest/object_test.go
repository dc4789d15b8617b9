package manifest

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const twoDocs = `# leading comment
apiVersion: v1
kind: ConfigMap
metadata:
  name: first
  labels:
    a: "1"
data:
  enabled: yes
  quoted: "yes"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: second
  annotations:
    example.com/key.with.dots: "v"
spec:
  template:
    spec:
      containers:
        - name: a
          image: a:1
        - name: b
          image: b:1
          ports:
            - containerPort: 80
`

func TestParseDocumentsKeepsLinesAcrossDocuments(t *testing.T) {
	objs, errs := ParseDocuments("f.yaml", []byte(twoDocs))
	if len(errs) != 0 || len(objs) != 2 {
		t.Fatalf("got %d objects, errors %v", len(objs), errs)
	}
	first, second := objs[0], objs[1]
	if first.Line != 2 || second.Line != 12 {
		t.Errorf("document lines = %d, %d; want 2, 12", first.Line, second.Line)
	}
	if first.Ref() != "ConfigMap/first" || second.Kind != "Deployment" || first.Labels["a"] != "1" {
		t.Errorf("metadata not read: %+v", first)
	}
	for path, want := range map[string]int{
		"data.enabled":                                      9,
		"spec.template.spec.containers[1].image":            25,
		"spec.template.spec.containers[1].ports[0]":         27,
		"spec.template.spec.containers.ports.containerPort": 27, // decoder paths lose indices
		`metadata.annotations["example.com/key.with.dots"]`: 17,
		"spec.template.spec.containers[1].missing.deeper":   24, // deepest existing ancestor
		"spec.replicas": 18,
	} {
		o := first
		if !strings.HasPrefix(path, "data") {
			o = second
		}
		if got := o.LineOf(path); got != want {
			t.Errorf("LineOf(%q) = %d, want %d", path, got, want)
		}
	}
}

func TestYAML11BooleansBecomeJSONBooleansLikeKubectl(t *testing.T) {
	objs, _ := ParseDocuments("f.yaml", []byte(twoDocs))
	var cm struct {
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(objs[0].JSON, &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Data["enabled"] != true || cm.Data["quoted"] != "yes" {
		t.Errorf("data = %#v: unquoted yes must be a boolean, quoted a string", cm.Data)
	}
}

func TestParseDocumentsReportsSyntaxErrorLineAndKeepsOtherDocuments(t *testing.T) {
	in := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [broken\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: also-ok\n"
	objs, errs := ParseDocuments("f.yaml", []byte(in))
	if len(objs) != 2 {
		t.Errorf("got %d objects, want the 2 valid ones", len(objs))
	}
	if len(errs) != 1 || errs[0].File != "f.yaml" || errs[0].Line < 8 || errs[0].Line > 10 {
		t.Fatalf("errors = %v, want one in f.yaml at line 8-10 (the parser names the enclosing mapping or the line itself)", errs)
	}
	if !strings.Contains(errs[0].Error(), "f.yaml:") {
		t.Errorf("error %q does not name the file", errs[0])
	}
}

func TestParseDocumentsRejectsNonObjects(t *testing.T) {
	for name, in := range map[string]string{
		"scalar":     "just text\n",
		"no kind":    "apiVersion: v1\nmetadata: {name: x}\n",
		"list items": "apiVersion: v1\nkind: List\nitems: 3\n",
	} {
		objs, errs := ParseDocuments("f.yaml", []byte(in))
		if len(objs) != 0 || len(errs) != 1 || errs[0].Line != 1 {
			t.Errorf("%s: objects %d, errors %v; want one error at line 1", name, len(objs), errs)
		}
	}
}

func TestListsAreExpandedWithItemPositions(t *testing.T) {
	in := "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: a\n  - apiVersion: v1\n    kind: Secret\n    metadata:\n      name: b\n"
	objs, errs := ParseDocuments("f.yaml", []byte(in))
	if len(errs) != 0 || len(objs) != 2 || objs[1].Kind != "Secret" {
		t.Fatalf("objects %v errors %v", objs, errs)
	}
	if got := objs[1].LineOf("metadata.name"); got != 11 {
		t.Errorf("item LineOf = %d, want 11", got)
	}
}

func TestEmptyDocumentsAndJSONInput(t *testing.T) {
	in := "---\n---\n{\"apiVersion\": \"v1\", \"kind\": \"Namespace\", \"metadata\": {\"name\": \"x\"}}\n---\n"
	objs, errs := ParseDocuments("f.json", []byte(in))
	if len(errs) != 0 || len(objs) != 1 || objs[0].Name != "x" || objs[0].Line != 3 {
		t.Fatalf("objects %+v errors %v", objs, errs)
	}
}

func TestAliasBombIsRefused(t *testing.T) {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 12; i++ {
		b.WriteString("a" + string(rune('0'+i%10)) + string(rune('a'+i)) + ": &a" + string(rune('a'+i)) + " [")
		prev := "a0"
		if i > 1 {
			prev = "a" + string(rune('a'+i-1))
		}
		b.WriteString(strings.Repeat("*"+prev+", ", 9) + "*" + prev + "]\n")
	}
	objs, errs := ParseDocuments("bomb.yaml", []byte(b.String()))
	if len(objs) != 0 || len(errs) != 1 {
		t.Fatalf("alias bomb: %d objects, errors %v; want one error", len(objs), errs)
	}
}

func FuzzParseDocuments(f *testing.F) {
	f.Add([]byte(twoDocs))
	f.Add([]byte("apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: A, metadata: {name: a}}\n"))
	f.Add([]byte("a: &x [1]\nb: *x\n<<: {c: 1}\n...\n---\n"))
	f.Add([]byte("---\n- 1\n--- |\n  text\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, errs := ParseDocuments("fuzz.yaml", data)
		for _, o := range objs {
			if !json.Valid(o.JSON) {
				t.Fatalf("invalid JSON for %s: %s", o.Ref(), o.JSON)
			}
			if o.Kind == "" || o.APIVersion == "" || o.Line < 1 {
				t.Fatalf("object without kind/apiVersion/line: %+v", o)
			}
			if l := o.LineOf("metadata.name"); l < 1 {
				t.Fatalf("LineOf returned %d", l)
			}
		}
		for _, e := range errs {
			if e.File != "fuzz.yaml" || e.Msg == "" || e.Line < 0 {
				t.Fatalf("bad error %+v", e)
			}
		}
	})
}

// ParseDocuments reads a stream as kubectl apply -f does, and errors with
// a line where kubectl fails or drops a document.
func TestParseDocumentsLikeKubectl(t *testing.T) {
	cm := func(name string) string { return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n" }
	cases := []struct {
		name, in string
		objects  []string // name@line
		errs     []string // line: part of the message
	}{
		{"comments and separators with comments", "# head\n" + cm("a") + "--- # two\n" + cm("b") + "---#tight\n" + cm("c") + "# tail\n",
			[]string{"a@2", "b@7", "c@12"}, nil},
		{"document end, then a separator", cm("a") + "...\n---\n" + cm("b"), []string{"a@1", "b@7"}, nil},
		{"document end, then only comments", cm("a") + "... # end\n# nothing\n\n", []string{"a@1"}, nil},
		{"content after a document end: kubectl drops it", cm("a") + "...\n# then\n" + cm("dropped") + "---\n" + cm("b"),
			[]string{"a@1", "b@12"}, []string{`7: content after the document end "..." (line 5)`}},
		{"content on the separator line: kubectl refuses it", cm("a") + "--- {apiVersion: v1, kind: ConfigMap, metadata: {name: x}}\n" + cm("b"),
			[]string{"a@1", "b@6"}, []string{`5: invalid document separator "--- {apiVersion`}},
		{"a line of dashes", cm("a") + "----\n" + cm("b"), []string{"a@1", "b@6"}, []string{`5: invalid document separator "----"`}},
		{"CRLF line ends", strings.ReplaceAll(cm("a")+"---\r\n"+cm("b"), "\n", "\r\n"), []string{"a@1", "b@6"}, nil},
		{"nested Lists are flattened", "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: List\n  items:\n  - " +
			strings.ReplaceAll(cm("deep"), "\n", "\n    ") + "\n- " + strings.ReplaceAll(cm("shallow"), "\n", "\n  "),
			[]string{"deep@7", "shallow@12"}, nil},
		{"any kind with items is a List", "apiVersion: apps/v1\nkind: DeploymentList\nitems: []\n", nil, nil},
		{"a List with null items", "apiVersion: v1\nkind: List\nitems:\n", nil, []string{"1: List without an items list"}},
		{"aliases and merge keys in metadata", "base: &m {name: merged, labels: {a: b}}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  <<: *m\n",
			[]string{"merged@1"}, nil},
		{"a JSON stream", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}` + "\n\n" +
			"{\"apiVersion\":\"v1\",\n \"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"b\"}}{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"}}\n",
			[]string{"a@1", "b@3", "c@4"}, nil},
		{"JSON then YAML, as kubectl falls back", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}` + "\n---\n" + cm("b"),
			[]string{"a@1", "b@3"}, nil},
		{"a YAML flow mapping is not JSON", "{apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n", []string{"a@1"}, nil},
		{"broken JSON after two objects", "{\"apiVersion\":\"v1\",\"kind\":\"A\",\"metadata\":{\"name\":\"a\"}}\n{\"apiVersion\":\"v1\",\"kind\":\"A\",\"metadata\":{\"name\":\"b\"}}\n{\"apiVersion\": v1}\n",
			[]string{"a@1", "b@2"}, []string{"3: malformed JSON"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			objs, errs := ParseDocuments("f.yaml", []byte(c.in))
			var gotObjs, gotErrs []string
			for _, o := range objs {
				gotObjs = append(gotObjs, o.Name+"@"+strconv.Itoa(o.Line))
			}
			for _, e := range errs {
				gotErrs = append(gotErrs, strconv.Itoa(e.Line)+": "+e.Msg)
			}
			if !slices.Equal(gotObjs, c.objects) {
				t.Errorf("objects %v, want %v", gotObjs, c.objects)
			}
			if len(gotErrs) != len(c.errs) {
				t.Fatalf("errors %q, want %q", gotErrs, c.errs)
			}
			for i := range c.errs {
				if !strings.HasPrefix(gotErrs[i], c.errs[i]) {
					t.Errorf("error %q, want it to start with %q", gotErrs[i], c.errs[i])
				}
			}
		})
	}
}

// Metadata read through aliases and merge keys is what kubectl sees:
// suppressions and selectors depend on it.
func TestMetadataThroughMergeKeys(t *testing.T) {
	in := "x: &common {app: demo, tier: db}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: m\n  labels:\n    <<: *common\n    tier: cache\n  annotations: *common\n"
	objs, errs := ParseDocuments("f.yaml", []byte(in))
	if len(errs) != 0 || len(objs) != 1 {
		t.Fatalf("objects %v, errors %v", objs, errs)
	}
	o := objs[0]
	if o.Labels["app"] != "demo" || o.Labels["tier"] != "cache" || len(o.Labels) != 2 || o.Annotations["tier"] != "db" {
		t.Errorf("labels %v, annotations %v; want the merged keys, own keys winning", o.Labels, o.Annotations)
	}
}
