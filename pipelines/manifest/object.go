package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

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
	lineBase int  // lines before data in its file
	item     int  // index in a List's items, or -1
	fast     bool // the fast path took it: index it that way too
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
		if d.item >= 0 {
			items := mapValue(d.root, "items")
			if items == nil || d.item >= len(items.Content) {
				d.root = nil
				return
			}
			d.root = items.Content[d.item]
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

// SyntaxError is malformed YAML or an object without apiVersion/kind.
type SyntaxError struct {
	File string
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): `)

// ParseDocuments splits a YAML stream into objects. Lists (kind: List) are
// expanded. Documents that cannot be parsed become SyntaxErrors with the
// line in the stream; the other documents are still loaded. Large streams
// are parsed on all cores: documents are independent once split at their
// "---" markers, which YAML only allows at the start of a line.
func ParseDocuments(file string, data []byte) ([]*Object, []*SyntaxError) {
	chunks := splitDocuments(data)
	type parsed struct {
		objs []*Object
		errs []*SyntaxError
	}
	results := make([]parsed, len(chunks))
	parse := func(i int) {
		results[i].objs, results[i].errs = parseChunk(file, chunks[i].data, chunks[i].line)
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
}

// splitDocuments cuts a stream before every line that starts a document
// ("---" alone or followed by a space, tab or comment).
func splitDocuments(data []byte) []chunk {
	var chunks []chunk
	start, startLine, line := 0, 0, 0
	for i := 0; i < len(data); {
		end := bytes.IndexByte(data[i:], '\n')
		next := len(data)
		if end >= 0 {
			next = i + end + 1
		}
		if i > start && isDocumentMarker(data[i:next]) {
			chunks = append(chunks, chunk{data: data[start:i], line: startLine})
			start, startLine = i, line
		}
		line++
		i = next
	}
	return append(chunks, chunk{data: data[start:], line: startLine})
}

func isDocumentMarker(line []byte) bool {
	if !bytes.HasPrefix(line, []byte("---")) {
		return false
	}
	rest := line[3:]
	return len(rest) == 0 || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\n' || rest[0] == '\r'
}

func parseChunk(file string, data []byte, lineBase int) ([]*Object, []*SyntaxError) {
	if !bytes.Contains(data, []byte("\n...")) && !bytes.HasPrefix(data, []byte("...")) {
		if o, ok := fastObject(file, data, lineBase); ok {
			return []*Object{o}, nil
		}
	}
	return parseChunkTree(file, data, lineBase)
}

// parseChunkTree parses a chunk through yaml.v3's node tree: any YAML, with
// its errors, Lists and documents ended by "...".
func parseChunkTree(file string, data []byte, lineBase int) ([]*Object, []*SyntaxError) {
	var objs []*Object
	var errs []*SyntaxError
	var docs []*yaml.Node
	if bytes.Contains(data, []byte("\n...")) || bytes.HasPrefix(data, []byte("...")) {
		// "..." may end a document and start another without "---": let
		// the decoder split them (positions of later ones are not kept).
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var doc yaml.Node
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				errs = append(errs, yamlError(file, err, lineBase))
				break
			}
			docs = append(docs, &doc)
		}
	} else {
		var doc yaml.Node
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return nil, []*SyntaxError{yamlError(file, err, lineBase)}
		}
		docs = append(docs, &doc)
	}
	for _, doc := range docs {
		if len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			continue // an empty document between separators
		}
		src := &docSource{data: data, lineBase: lineBase, item: -1}
		if len(docs) > 1 {
			src = nil // positions fall back to the document's line
		}
		o, err := newObject(file, root, src, lineBase)
		if err != nil {
			errs = append(errs, err.(*SyntaxError))
			continue
		}
		if o.Kind == "List" || strings.HasSuffix(o.Kind, "List") && o.APIVersion == "v1" {
			items := mapValue(root, "items")
			if items == nil || items.Kind != yaml.SequenceNode {
				errs = append(errs, &SyntaxError{File: file, Line: o.Line, Msg: o.Kind + " without an items list"})
				continue
			}
			for i, it := range items.Content {
				var itemSrc *docSource
				if src != nil {
					itemSrc = &docSource{data: data, lineBase: lineBase, item: i}
				}
				item, err := newObject(file, it, itemSrc, lineBase)
				if err != nil {
					errs = append(errs, err.(*SyntaxError))
					continue
				}
				objs = append(objs, item)
			}
			continue
		}
		objs = append(objs, o)
	}
	return objs, errs
}

func yamlError(file string, err error, lineBase int) *SyntaxError {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &SyntaxError{File: file, Line: line + lineBase, Msg: "malformed YAML: " + msg[len(m[0]):]}
	}
	return &SyntaxError{File: file, Msg: "malformed YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

func newObject(file string, root *yaml.Node, src *docSource, lineBase int) (*Object, error) {
	line := root.Line + lineBase
	if root.Kind != yaml.MappingNode {
		return nil, &SyntaxError{File: file, Line: line, Msg: "document is not a mapping (expected a Kubernetes object)"}
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
		return nil, &SyntaxError{File: file, Line: line, Msg: "object without " + strings.Join(missing, " and ") + " (every document must be a Kubernetes object)"}
	}
	return o, nil
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

func stringMap(n *yaml.Node) map[string]string {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	m := make(map[string]string, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		m[n.Content[i].Value] = n.Content[i+1].Value
	}
	return m
}

// Set is a loaded manifest set: objects in load order plus the syntax
// errors met on the way (those files are reported, not silently skipped).
type Set struct {
	Objects []*Object
	Errors  []*SyntaxError
}

// LoadPaths reads YAML/JSON files and directories (recursively, sorted) into
// a Set. IO errors are returned; syntax errors are collected in the Set.
func LoadPaths(paths []string) (*Set, error) {
	var files []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		if !info.IsDir() {
			files = append(files, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path != p && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			if !d.IsDir() && isManifestFile(path) {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
	}
	sort.Strings(files)
	set := &Set{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f, err)
		}
		objs, errs := ParseDocuments(f, data)
		set.Objects = append(set.Objects, objs...)
		set.Errors = append(set.Errors, errs...)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no .yaml, .yml or .json files in %s", strings.Join(paths, ", "))
	}
	return set, nil
}

func isManifestFile(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml", ".json":
		// kustomization files describe a build, they are not objects.
		base := strings.ToLower(filepath.Base(path))
		return base != "kustomization.yaml" && base != "kustomization.yml" && base != "kustomization"
	}
	return false
}
