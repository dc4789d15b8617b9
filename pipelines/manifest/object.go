package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

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

	// source is the document's root node in File, used to map field paths
	// to lines. For rendered objects it is the node in the original file the
	// object came from (before overlays), so lines point at what users edit.
	source *yaml.Node
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
	if o.source == nil {
		return o.Line
	}
	line, _ := resolve(o.source, splitPath(path), o.source.Line, 0)
	return line
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
// expanded. Documents that cannot be parsed become SyntaxErrors; a syntax
// error ends the stream because the YAML parser cannot resynchronise.
func ParseDocuments(file string, data []byte) ([]*Object, []*SyntaxError) {
	var objs []*Object
	var errs []*SyntaxError
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, yamlError(file, err))
			break
		}
		if len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			continue // an empty document between separators
		}
		o, err := newObject(file, root)
		if err != nil {
			errs = append(errs, err.(*SyntaxError))
			continue
		}
		if o.Kind == "List" || strings.HasSuffix(o.Kind, "List") && o.APIVersion == "v1" {
			items := mapValue(root, "items")
			if items == nil || items.Kind != yaml.SequenceNode {
				errs = append(errs, &SyntaxError{File: file, Line: root.Line, Msg: o.Kind + " without an items list"})
				continue
			}
			for _, it := range items.Content {
				item, err := newObject(file, it)
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

func yamlError(file string, err error) *SyntaxError {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &SyntaxError{File: file, Line: line, Msg: "malformed YAML: " + msg[len(m[0]):]}
	}
	return &SyntaxError{File: file, Msg: "malformed YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

func newObject(file string, root *yaml.Node) (*Object, error) {
	if root.Kind != yaml.MappingNode {
		return nil, &SyntaxError{File: file, Line: root.Line, Msg: "document is not a mapping (expected a Kubernetes object)"}
	}
	js, err := nodeToJSON(root)
	if err != nil {
		return nil, &SyntaxError{File: file, Line: root.Line, Msg: err.Error()}
	}
	o := &Object{File: file, Line: root.Line, source: root, JSON: js}
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
		return nil, &SyntaxError{File: file, Line: root.Line, Msg: "object without " + strings.Join(missing, " and ") + " (every document must be a Kubernetes object)"}
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
