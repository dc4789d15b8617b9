package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"

	yaml "go.yaml.in/yaml/v3"
)

// Object is one Kubernetes object of the set, as JSON (what the API server
// decodes) plus the YAML node it came from, for positions.
type Object struct {
	APIVersion  string
	Kind        string
	Name        string
	Namespace   string
	Labels      map[string]string
	Annotations map[string]string

	// JSON is the object converted the way kubectl converts YAML (YAML 1.1
	// booleans included), ready for strict decoding.
	JSON []byte

	// File and Line locate the object's document in its source file.
	File string
	Line int

	// src is the document in File, used to map field paths to lines. For
	// rendered objects it is the document the object came from (before
	// overlays), so lines point at what users edit.
	src *docSource
}

// docSource keeps a document's bytes, not its parse tree: trees are large
// and pointer-heavy, and only objects with findings need positions, so the
// document is parsed again on first use — by the fast path into a
// position index when it took the document, else by yaml.v3.
type docSource struct {
	data     []byte
	lineBase int   // lines before data in its file
	items    []int // indices through nested Lists' items; nil for a plain document
	fast     bool  // the fast path took it: index it that way too
	once     sync.Once
	root     *yaml.Node
	index    posIndex
}

func (d *docSource) positions() (posIndex, *yaml.Node) {
	d.once.Do(func() {
		if d.fast {
			if d.index = fastIndex(d.data); d.index != nil {
				return
			}
		}
		var doc yaml.Node
		if yaml.Unmarshal(d.data, &doc) != nil || len(doc.Content) == 0 {
			return
		}
		d.root = doc.Content[0]
		for _, i := range d.items {
			items := mapValue(d.root, "items")
			if items == nil || i >= len(items.Content) {
				d.root = nil
				return
			}
			d.root = items.Content[i]
		}
	})
	return d.index, d.root
}

// Ref is a short human name for the object: Kind/namespace/name.
func (o *Object) Ref() string {
	if o.Namespace == "" {
		return o.Kind + "/" + o.Name
	}
	return o.Kind + "/" + o.Namespace + "/" + o.Name
}

// Group is the API group of the object's apiVersion ("" for core).
func (o *Object) Group() string {
	if i := strings.IndexByte(o.APIVersion, '/'); i >= 0 {
		return o.APIVersion[:i]
	}
	return ""
}

// LineOf returns the source line of a field path such as
// "spec.template.spec.containers[0].image". When the field does not exist in
// the source (it was added by an overlay, or it is missing), it returns the
// line of the deepest ancestor that does, so a finding always has a line.
func (o *Object) LineOf(path string) int {
	if o.src == nil {
		return o.Line
	}
	ix, root := o.src.positions()
	if ix != nil {
		line, _ := ix.resolve(0, splitPath(path), int(ix[0].line), 0)
		return line + o.src.lineBase
	}
	if root == nil {
		return o.Line
	}
	line, _ := resolve(root, splitPath(path), root.Line, 0)
	return line + o.src.lineBase
}

// resolve walks segs from n and returns the line of the deepest node reached
// and how many segments it matched. A key segment that meets a sequence
// (decoder errors drop list indices: "spec.containers.ports") is tried on
// every element; the element that matches deepest wins. Repeated mapping
// keys resolve to the last one, the value a decoder keeps.
func resolve(n *yaml.Node, segs []pathSeg, line, depth int) (int, int) {
	if depth > maxDepth {
		return line, 0
	}
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if len(segs) == 0 {
		return line, 0
	}
	seg := segs[0]
	switch {
	case seg.index >= 0 && n.Kind == yaml.SequenceNode:
		if seg.index < len(n.Content) {
			next := n.Content[seg.index]
			l, d := resolve(next, segs[1:], next.Line, depth+1)
			return l, d + 1
		}
	case seg.index < 0 && n.Kind == yaml.MappingNode:
		for i := len(n.Content) - 2; i >= 0; i -= 2 {
			if n.Content[i].Value == seg.key {
				l, d := resolve(n.Content[i+1], segs[1:], n.Content[i].Line, depth+1)
				return l, d + 1
			}
		}
	case seg.index < 0 && n.Kind == yaml.SequenceNode:
		bestLine, bestDepth := line, 0
		for _, el := range n.Content {
			if l, d := resolve(el, segs, el.Line, depth+1); d > bestDepth {
				bestLine, bestDepth = l, d
			}
		}
		return bestLine, bestDepth
	}
	return line, 0
}

type pathSeg struct {
	key   string
	index int
}

// splitPath splits "a.b[2].c" (and the apiserver's "a.b[2]" error paths)
// into segments; keys with dots may be quoted as a["x.y"].
func splitPath(path string) []pathSeg {
	var segs []pathSeg
	for path != "" {
		switch path[0] {
		case '.':
			path = path[1:]
		case '[':
			end := strings.IndexByte(path, ']')
			if end < 0 {
				return segs
			}
			inner := path[1:end]
			if i, err := strconv.Atoi(inner); err == nil {
				segs = append(segs, pathSeg{index: i})
			} else {
				segs = append(segs, pathSeg{key: strings.Trim(inner, `"'`), index: -1})
			}
			path = path[end+1:]
		default:
			end := strings.IndexAny(path, ".[")
			if end < 0 {
				end = len(path)
			}
			segs = append(segs, pathSeg{key: path[:end], index: -1})
			path = path[end:]
		}
	}
	return segs
}

// SyntaxError is malformed YAML or JSON, or a document that is not a
// Kubernetes object.
type SyntaxError struct {
	File string
	Line int
	Msg  string
	// Hint says how to fix it when the generic YAML advice would mislead
	// (a config file among manifests, a kustomization).
	Hint string `json:",omitempty"`

	// notObject marks a document that parsed but is no Kubernetes object:
	// the loader then suggests leaving its file out.
	notObject bool
}

func (e *SyntaxError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): `)

// ParseDocuments splits a stream into objects the way `kubectl apply -f`
// does, and says so where kubectl would fail or drop something:
//
//   - a stream whose first character is '{' is read as JSON objects one
//     after another (after one object that does not parse as JSON, the
//     rest is YAML, as kubectl falls back);
//   - otherwise it is YAML documents separated by lines that start with
//     "---"; kubectl refuses anything but a comment after the "---";
//   - a "..." line ends a document; kubectl silently drops whatever
//     follows it before the next "---", so that is an error here;
//   - a document with an items field is a List (of any kind, as kubectl
//     decides), expanded recursively;
//   - empty documents are skipped.
//
// Documents that cannot be read become SyntaxErrors with their line in
// the stream; the other documents are still loaded. Large streams are
// parsed on all cores: documents are independent once split.
func ParseDocuments(file string, data []byte) ([]*Object, []*SyntaxError) {
	if isJSONStream(data) {
		return parseJSONStream(file, data)
	}
	return parseYAMLStream(file, data, 0)
}

func parseYAMLStream(file string, data []byte, lineBase int) ([]*Object, []*SyntaxError) {
	chunks := splitDocuments(data)
	type parsed struct {
		objs []*Object
		errs []*SyntaxError
	}
	results := make([]parsed, len(chunks))
	parse := func(i int) {
		c := chunks[i]
		if c.problem != "" {
			results[i].errs = []*SyntaxError{{File: file, Line: c.line + 1 + lineBase, Msg: c.problem}}
			return
		}
		results[i].objs, results[i].errs = parseChunk(file, c.data, c.line+lineBase)
	}
	workers := runtime.GOMAXPROCS(0)
	if len(chunks) < 32 || workers == 1 {
		for i := range chunks {
			parse(i)
		}
	} else {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := w; i < len(chunks); i += workers {
					parse(i)
				}
			})
		}
		wg.Wait()
	}
	var objs []*Object
	var errs []*SyntaxError
	for _, r := range results {
		objs = append(objs, r.objs...)
		errs = append(errs, r.errs...)
	}
	return objs, errs
}

type chunk struct {
	data []byte
	line int // lines before the chunk in the stream
	// problem, when set, makes the chunk an error at line+1 instead of a
	// document: something kubectl refuses or drops.
	problem string
}

// splitDocuments cuts a YAML stream where kubectl's reader does: at every
// line that starts with "---" (the line itself belongs to no document). A
// "..." line ends its document early; content after it, up to the next
// "---", becomes a problem chunk, because kubectl never applies it.
func splitDocuments(data []byte) []chunk {
	var chunks []chunk
	start, startLine := 0, 0 // the current document
	ended, endedAt := false, 0
	flush := func(end int) {
		if end > start {
			chunks = append(chunks, chunk{data: data[start:end], line: startLine})
		}
	}
	line := 0
	for i := 0; i < len(data); line++ {
		next := len(data)
		if end := bytes.IndexByte(data[i:], '\n'); end >= 0 {
			next = i + end + 1
		}
		text := data[i:next]
		switch {
		case bytes.HasPrefix(text, []byte("---")):
			if !ended {
				flush(i)
			}
			ended = false
			start, startLine = next, line+1
			if rest := bytes.TrimSpace(text[3:]); len(rest) > 0 && rest[0] != '#' {
				chunks = append(chunks, chunk{line: line, problem: fmt.Sprintf(
					"invalid document separator %q: kubectl allows only a comment after \"---\"; put the content on the next line",
					bytes.TrimRight(text, "\r\n"))})
			}
		case ended:
			if c := bytes.TrimSpace(text); len(c) > 0 && c[0] != '#' && !isEndMarker(text) && endedAt >= 0 {
				chunks = append(chunks, chunk{line: line, problem: "content after the document end \"...\" (line " +
					strconv.Itoa(endedAt+1) + `) without a "---": kubectl ignores it up to the next "---"; start the document with "---"`})
				endedAt = -1 // one error per stretch is enough
			}
		case isEndMarker(text):
			flush(i)
			ended, endedAt = true, line
		}
		i = next
	}
	if !ended {
		flush(len(data))
	}
	if len(chunks) == 0 {
		chunks = append(chunks, chunk{data: data[len(data):]})
	}
	return chunks
}

// isEndMarker reports a "..." document end line, as YAML defines it.
func isEndMarker(line []byte) bool {
	if !bytes.HasPrefix(line, []byte("...")) {
		return false
	}
	rest := line[3:]
	return len(rest) == 0 || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\n' || rest[0] == '\r'
}

// isJSONStream is kubectl's guess: the first non-space character is '{'.
func isJSONStream(data []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeftFunc(data, unicode.IsSpace), []byte("{"))
}

// parseJSONStream reads JSON objects one after another, as kubectl does:
// after two objects the stream is JSON and an error is an error; after
// none or one, what does not parse as JSON is read as YAML.
func parseJSONStream(file string, data []byte) ([]*Object, []*SyntaxError) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var objs []*Object
	var errs []*SyntaxError
	consumed := 0
	for count := 0; ; count++ {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return objs, errs
		}
		if err != nil {
			if count > 1 {
				offset := consumed
				var syn *json.SyntaxError
				if errors.As(err, &syn) {
					offset = int(syn.Offset)
				}
				offset = min(offset, len(data))
				return objs, append(errs, &SyntaxError{File: file, Line: bytes.Count(data[:offset], []byte("\n")) + 1, Msg: "malformed JSON: " + err.Error()})
			}
			rest := data[consumed:]
			if count == 1 {
				// kubectl drops the rest of the line the object ended on.
				if nl := bytes.IndexByte(rest, '\n'); nl >= 0 && len(bytes.TrimSpace(rest[:nl])) == 0 {
					rest = rest[nl+1:]
				}
			}
			o, e := parseYAMLStream(file, rest, bytes.Count(data[:len(data)-len(rest)], []byte("\n")))
			return append(objs, o...), append(errs, e...)
		}
		end := int(dec.InputOffset())
		start := end - len(raw)
		o, e := parseChunk(file, data[start:end], bytes.Count(data[:start], []byte("\n")))
		objs, errs = append(objs, o...), append(errs, e...)
		consumed = end
	}
}

func parseChunk(file string, data []byte, lineBase int) ([]*Object, []*SyntaxError) {
	if !bytes.Contains(data, []byte("\n...")) && !bytes.HasPrefix(data, []byte("...")) {
		if o, ok := fastObject(file, data, lineBase); ok {
			return []*Object{o}, nil
		}
	}
	return parseChunkTree(file, data, lineBase)
}

// parseChunkTree parses a chunk (one document) through yaml.v3's node
// tree: any YAML, with its errors and Lists.
func parseChunkTree(file string, data []byte, lineBase int) ([]*Object, []*SyntaxError) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, []*SyntaxError{yamlError(file, err, lineBase)}
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, nil // an empty document between separators
	}
	var objs []*Object
	var errs []*SyntaxError
	expand(file, root, data, lineBase, nil, &objs, &errs)
	return objs, errs
}

// maxListDepth bounds Lists inside Lists; kubectl flattens any depth, no
// real file nests more than once.
const maxListDepth = 8

// expand adds the object at n, or the items of a List, to objs. A
// document with an items field is a List whatever its kind, because that
// is how kubectl's decoder tells them apart.
func expand(file string, n *yaml.Node, data []byte, lineBase int, path []int, objs *[]*Object, errs *[]*SyntaxError) {
	src := &docSource{data: data, lineBase: lineBase, items: path}
	o, err := newObject(file, n, src, lineBase)
	if err != nil {
		*errs = append(*errs, err)
		return
	}
	items := mapValue(n, "items")
	if items == nil && o.Kind != "List" {
		*objs = append(*objs, o)
		return
	}
	switch {
	case items == nil || items.Kind != yaml.SequenceNode:
		*errs = append(*errs, &SyntaxError{File: file, Line: o.Line, Msg: o.Kind + " without an items list (kubectl reads a document with items as a List)"})
		return
	case len(path) >= maxListDepth:
		*errs = append(*errs, &SyntaxError{File: file, Line: o.Line, Msg: fmt.Sprintf("Lists nested deeper than %d", maxListDepth)})
		return
	}
	for i, it := range items.Content {
		expand(file, it, data, lineBase, append(slices.Clip(path), i), objs, errs)
	}
}

func yamlError(file string, err error, lineBase int) *SyntaxError {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &SyntaxError{File: file, Line: line + lineBase, Msg: "malformed YAML: " + msg[len(m[0]):]}
	}
	return &SyntaxError{File: file, Line: lineBase + 1, Msg: "malformed YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

func newObject(file string, root *yaml.Node, src *docSource, lineBase int) (*Object, *SyntaxError) {
	line := root.Line + lineBase
	if root.Kind != yaml.MappingNode {
		return nil, &SyntaxError{File: file, Line: line, Msg: "document is not a mapping (expected a Kubernetes object)", notObject: true}
	}
	js, err := nodeToJSON(root)
	if err != nil {
		return nil, &SyntaxError{File: file, Line: line, Msg: err.Error()}
	}
	o := &Object{File: file, Line: line, src: src, JSON: js}
	o.APIVersion = scalar(mapValue(root, "apiVersion"))
	o.Kind = scalar(mapValue(root, "kind"))
	if meta := mapValue(root, "metadata"); meta != nil {
		o.Name = scalar(mapValue(meta, "name"))
		o.Namespace = scalar(mapValue(meta, "namespace"))
		o.Labels = stringMap(mapValue(meta, "labels"))
		o.Annotations = stringMap(mapValue(meta, "annotations"))
	}
	var missing []string
	if o.APIVersion == "" {
		missing = append(missing, "apiVersion")
	}
	if o.Kind == "" {
		missing = append(missing, "kind")
	}
	if len(missing) > 0 {
		return nil, &SyntaxError{File: file, Line: line, Msg: "object without " + strings.Join(missing, " and ") + " (every document must be a Kubernetes object)", notObject: true}
	}
	return o, nil
}

// deref follows aliases to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxDepth; i++ {
		n = n.Alias
	}
	return n
}

// mapValue is the value of key in mapping n: its first own occurrence,
// else the first in what "<<" merges in (own keys win in YAML's merge).
func mapValue(n *yaml.Node, key string) *yaml.Node {
	return mapValueDepth(n, key, 0)
}

func mapValueDepth(n *yaml.Node, key string, depth int) *yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode || depth > maxDepth {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Value == key && k.Tag != "!!merge" {
			return deref(n.Content[i+1])
		}
	}
	for _, src := range mergeSources(n) {
		if v := mapValueDepth(src, key, depth+1); v != nil {
			return v
		}
	}
	return nil
}

// mergeSources are the mappings "<<" keys of n merge in, in order.
func mergeSources(n *yaml.Node) []*yaml.Node {
	var out []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Tag != "!!merge" {
			continue
		}
		v := deref(n.Content[i+1])
		if v != nil && v.Kind == yaml.SequenceNode {
			for _, el := range v.Content {
				out = append(out, deref(el))
			}
		} else {
			out = append(out, v)
		}
	}
	return out
}

func scalar(n *yaml.Node) string {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// stringMap reads labels or annotations: merged keys first, own keys over
// them (the last of repeated ones, as a decoder keeps).
func stringMap(n *yaml.Node) map[string]string {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	m := make(map[string]string, len(n.Content)/2)
	stringMapInto(m, n, 0)
	return m
}

func stringMapInto(m map[string]string, n *yaml.Node, depth int) {
	if n == nil || n.Kind != yaml.MappingNode || depth > maxDepth {
		return
	}
	srcs := mergeSources(n)
	for i := len(srcs) - 1; i >= 0; i-- { // earlier sources win over later ones
		stringMapInto(m, srcs[i], depth+1)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Tag != "!!merge" {
			m[n.Content[i].Value] = scalar(n.Content[i+1])
		}
	}
}
