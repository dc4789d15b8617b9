package manifest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	yaml "go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/openapi"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// Annotations kustomize adds for build metadata; they locate sources for
// validation and are stripped from the rendered output.
const (
	originAnnotation         = "config.kubernetes.io/origin"
	transformationAnnotation = "alpha.config.kubernetes.io/transformations"
	internalAnnotationPrefix = "internal.config.kubernetes.io/"
)

// Rendered is an environment's manifest set after kustomize.
type Rendered struct {
	Env     string
	Overlay string
	// YAML is the output users apply: objects in kustomize's legacy (apply)
	// order, build metadata removed, separated by "---".
	YAML []byte
	// Hash is sha256 of YAML: same input, same bytes, same hash.
	Hash string
	// Objects are the rendered objects, each mapped back to its source file.
	Objects []*Object
	// Cached is true when the render came from the render cache (see
	// RenderOptions): the same bytes and objects, without kustomize.
	Cached bool
}

// Render builds an environment's overlay with kustomize in-process (no
// kubectl, plugins disabled, loads restricted to the repository) and returns
// the rendered set. root is the repository root; paths in results are
// relative to it. Renders are cached as DefaultRenderOptions says.
func Render(ctx context.Context, root string, envs *Environments, envName string) (*Rendered, error) {
	return RenderWith(ctx, root, envs, envName, DefaultRenderOptions())
}

// RenderWith is Render with explicit options.
func RenderWith(ctx context.Context, root string, envs *Environments, envName string, opts RenderOptions) (*Rendered, error) {
	env, err := envs.Get(envName)
	if err != nil {
		return nil, err
	}
	overlay := envs.OverlayDir(env)
	if info, err := os.Stat(overlay); err != nil || !info.IsDir() {
		return nil, fmt.Errorf("%s: environment %q: overlay %s does not exist", envs.Path, env.Name, overlay)
	}
	var key, manifests string
	if opts.CacheDir != "" {
		// A key that cannot be computed only costs the cache, never the render.
		root, _ = filepath.Abs(root)
		overlay, _ = filepath.Abs(overlay)
		manifests, _ = filepath.Abs(filepath.Dir(envs.Path))
		key, _ = renderKey(root, manifests, overlay, env.Name)
		if key != "" {
			if r := loadCached(opts.CacheDir, key); r != nil {
				return r, nil
			}
		}
	}
	var log *readLog
	if key != "" {
		log = &readLog{}
	}
	out := &Rendered{Env: env.Name, Overlay: relTo(root, overlay)}
	out.YAML, out.Objects, err = kustomize(ctx, overlay, func(path string) string { return relTo(root, path) }, log)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(out.YAML)
	out.Hash = "sha256:" + hex.EncodeToString(sum[:])
	if key != "" {
		if ok, why := log.coveredBy(manifests); ok {
			_ = storeCached(opts.CacheDir, key, out) // a cache that cannot be written only costs the next run
		} else {
			// Said at -v 1: a render that is never cached is only slower.
			slog.Debug("render not cached", "environment", envName, "why", why)
		}
	}
	return out, nil
}

// kustomize builds the kustomization in dir in-process and returns the
// rendered stream (build metadata removed) and its objects, each located
// at the source document it came from. name turns a path on disk (dir
// joined with what kustomize recorded) into the file name findings carry.
//
// log, when not nil, records every path read (for the render cache).
//
// Sources are found without kustomize's origin tracking, which also turns
// on its transformer bookkeeping: that re-encodes every resource's history
// after every transformer and was about two thirds of a render's CPU. Each
// document of a resource file is labelled with its file as kustomize reads
// it (sourceAnnotation, stripped again), and generated objects are matched
// to their generator. tracked uses kustomize's origins instead; a test
// holds the two to the same bytes and the same files and lines.
func kustomize(ctx context.Context, dir string, name func(path string) string, log *readLog) ([]byte, []*Object, error) {
	return kustomizeWith(ctx, dir, name, log, false)
}

func kustomizeWith(ctx context.Context, dir string, name func(path string) string, log *readLog, tracked bool) ([]byte, []*Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	where := name(dir)
	initOpenAPI()
	opts := krustyOptions()
	var disk filesys.FileSystem = filesys.MakeFsOnDisk()
	if log != nil {
		disk = loggingFS{FileSystem: disk, log: log}
	}
	top, _, err := disk.CleanedAbs(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("kustomize build %s: %w", where, err)
	}
	ofs := &originFS{FileSystem: disk, dir: top.String(), given: dir, tracked: tracked, resources: map[string]bool{}}
	resMap, err := krusty.MakeKustomizer(opts).Run(ofs, dir)
	if err != nil {
		return nil, nil, fmt.Errorf("kustomize build %s: %w", where, err)
	}
	if resMap.Size() == 0 {
		return nil, nil, fmt.Errorf("kustomize build %s: rendered no objects", where)
	}
	sources := map[string][]*Object{}
	var buf bytes.Buffer
	var objs []*Object
	for i, res := range resMap.Resources() {
		origin, err := res.GetOrigin()
		if err != nil {
			return nil, nil, fmt.Errorf("kustomize build %s: %s: %w", where, res.CurId(), err)
		}
		source := res.GetAnnotations()[sourceAnnotation]
		stripBuildMetadata(res)
		doc, err := res.AsYAML()
		if err != nil {
			return nil, nil, fmt.Errorf("kustomize build %s: %s: %w", where, res.CurId(), err)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(doc)

		// The object comes from kustomize's own node: writing it out and
		// parsing it back would give the same JSON (the node is already
		// resolved; nodeToJSON reads it as kubectl reads the written YAML).
		obj, serr := newObject(where, res.YNode(), nil, 0)
		if serr != nil {
			return nil, nil, fmt.Errorf("kustomize build %s: %s: %s", where, res.CurId(), serr.Msg)
		}
		obj.Line = 0
		switch {
		case !tracked:
			if err := ofs.locate(obj, source, name, sources, log); err != nil {
				return nil, nil, err
			}
		case origin == nil || origin.Repo != "":
		case origin.Path != "":
			if err := locate(obj, filepath.Join(dir, origin.Path), name, sources, log); err != nil {
				return nil, nil, err
			}
		case origin.ConfiguredIn != "":
			// Generated (configMapGenerator, secretGenerator): point at the
			// generator entry in the kustomization that declared it.
			if err := locateGenerator(obj, filepath.Join(dir, origin.ConfiguredIn), name, log); err != nil {
				return nil, nil, err
			}
		}
		objs = append(objs, obj)
	}
	return buf.Bytes(), objs, nil
}

// krustyOptions are the kustomize options of every render: kustomize's
// defaults (loads restricted to the kustomization root, plugins off) with
// the legacy order (namespaces and RBAC before workloads).
func krustyOptions() *krusty.Options {
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionLegacy
	return opts
}

// initOpenAPI parses kustomize's built-in OpenAPI schema (a global) once,
// before any render: renders may then run side by side, reading it. Lazily
// parsed, a render could read its namespace-scope map while another one
// fills it.
var initOpenAPI = sync.OnceFunc(func() {
	openapi.SchemaForResourceType(kyaml.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"})
})

// originFS reads the top kustomization with originAnnotations added to its
// buildMetadata: without them kustomize records no source file, and
// findings could only name the directory. The annotations are stripped
// from the output, so the rendered bytes do not change.
//
// Untracked (the default), it instead takes origin tracking out of the
// top kustomization, learns from every kustomization read which files are
// resources and which generators exist, and labels each document of a
// resource file with the file (sourceAnnotation).
type originFS struct {
	filesys.FileSystem
	dir     string // the kustomization's directory, as kustomize's loader names it
	given   string // the same directory as the caller named it
	tracked bool

	mu         sync.Mutex
	resources  map[string]bool // resource files named by kustomizations read so far
	generators []generator
}

// generator is a configMapGenerator or secretGenerator entry.
type generator struct {
	name, kustomization string
}

// sourceAnnotation labels a document with the file it came from while
// kustomize works on it; it never reaches the output.
const sourceAnnotation = "internal.statex.io/source"

func (f *originFS) ReadFile(path string) ([]byte, error) {
	data, err := f.FileSystem.ReadFile(path)
	if err != nil {
		return data, err
	}
	path = filepath.Clean(path)
	switch {
	case isKustomizationFile(path):
		if !f.tracked {
			f.learn(path, data)
		}
		if filepath.Dir(path) != f.dir {
			return data, nil
		}
		if f.tracked {
			return withOriginAnnotations(data), nil
		}
		return withoutOriginTracking(data), nil
	case !f.tracked && f.isResource(path):
		return withSource(data, path), nil
	}
	return data, nil
}

func (f *originFS) isResource(path string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.resources[path]
}

// learn records the resource files and generators of a kustomization.
// What does not parse is left to kustomize to report.
func (f *originFS) learn(path string, data []byte) {
	var k struct {
		Resources          []string         `yaml:"resources"`
		Bases              []string         `yaml:"bases"`
		ConfigMapGenerator []generatorEntry `yaml:"configMapGenerator"`
		SecretGenerator    []generatorEntry `yaml:"secretGenerator"`
	}
	if yaml.Unmarshal(data, &k) != nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range append(k.Resources, k.Bases...) {
		if !filepath.IsAbs(r) {
			r = filepath.Join(filepath.Dir(path), r)
		}
		f.resources[filepath.Clean(r)] = true
	}
	for _, g := range append(k.ConfigMapGenerator, k.SecretGenerator...) {
		// A merge adds to what another kustomization generated, which
		// stays the object's origin (as kustomize records it).
		if g.Behavior != "merge" {
			f.generators = append(f.generators, generator{g.Name, path})
		}
	}
}

type generatorEntry struct {
	Name     string `yaml:"name"`
	Behavior string `yaml:"behavior"`
}

// locate points obj at its source: the file its documents were labelled
// with, or for a generated ConfigMap or Secret the generator whose name
// its own name carries (the longest such, as names get prefixes and hash
// suffixes).
func (f *originFS) locate(obj *Object, source string, name func(string) string, cache map[string][]*Object, log *readLog) error {
	if source != "" {
		return locate(obj, f.asGiven(source), name, cache, log)
	}
	if obj.Kind != "ConfigMap" && obj.Kind != "Secret" {
		return nil
	}
	f.mu.Lock()
	var best generator
	for _, g := range f.generators {
		if g.name != "" && strings.Contains(obj.Name, g.name) && len(g.name) > len(best.name) {
			best = g
		}
	}
	f.mu.Unlock()
	if best.kustomization == "" {
		return nil
	}
	return locateGenerator(obj, f.asGiven(best.kustomization), name, log)
}

// asGiven names a path kustomize read (absolute) relative to the directory
// as the caller named it, as kustomize's origins are.
func (f *originFS) asGiven(path string) string {
	if rel, err := filepath.Rel(f.dir, path); err == nil {
		return filepath.Join(f.given, rel)
	}
	return path
}

// withoutOriginTracking drops originAnnotations and transformerAnnotations
// from a kustomization's buildMetadata (both only add build metadata,
// which is stripped from the output anyway). What it cannot read is
// returned as it is.
func withoutOriginTracking(data []byte) []byte {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return data
	}
	meta := mapValue(doc.Content[0], "buildMetadata")
	if meta == nil || meta.Kind != yaml.SequenceNode {
		return data
	}
	kept := meta.Content[:0:0]
	for _, m := range meta.Content {
		if m.Value != "originAnnotations" && m.Value != "transformerAnnotations" {
			kept = append(kept, m)
		}
	}
	if len(kept) == len(meta.Content) {
		return data
	}
	meta.Content = kept
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return data
	}
	return out
}

// withSource labels every object document of a resource file with the
// file. A file it cannot read as YAML mappings is returned as it is (its
// objects then have no line; kustomize reports real errors).
func withSource(data []byte, path string) []byte {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for range 100000 {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return data
		}
		docs = append(docs, &doc)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	for _, doc := range docs {
		if len(doc.Content) == 1 && doc.Content[0].Kind == yaml.MappingNode && mapValue(doc.Content[0], "items") == nil {
			setAnnotation(doc.Content[0], sourceAnnotation, path)
		}
		if enc.Encode(doc) != nil {
			return data
		}
	}
	if enc.Close() != nil {
		return data
	}
	return buf.Bytes()
}

func setAnnotation(obj *yaml.Node, key, value string) {
	str := func(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }
	meta := mapValue(obj, "metadata")
	if meta == nil || meta.Kind != yaml.MappingNode {
		return // not an object kustomize can take: it reports that
	}
	ann := mapValue(meta, "annotations")
	if ann == nil {
		ann = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		meta.Content = append(meta.Content, str("annotations"), ann)
	}
	if ann.Kind == yaml.MappingNode {
		ann.Content = append(ann.Content, str(key), str(value))
	}
}

// withOriginAnnotations adds originAnnotations to a kustomization's
// buildMetadata. What it cannot read is returned as it is, for kustomize
// to report.
func withOriginAnnotations(data []byte) []byte {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return data
	}
	root := doc.Content[0]
	meta := mapValue(root, "buildMetadata")
	switch {
	case meta == nil:
		root.Content = append(root.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "buildMetadata"},
			&yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"})
		meta = root.Content[len(root.Content)-1]
	case meta.Kind != yaml.SequenceNode:
		return data
	}
	for _, m := range meta.Content {
		if m.Value == "originAnnotations" {
			return data
		}
	}
	meta.Content = append(meta.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "originAnnotations"})
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return data
	}
	return out
}

// locate points a rendered object at the document it came from, so findings
// name the file and line the user edits rather than the rendered stream.
func locate(obj *Object, src string, name func(string) string, cache map[string][]*Object, log *readLog) error {
	docs, ok := cache[src]
	if !ok {
		log.read(src)
		data, err := os.ReadFile(src)
		if err != nil {
			return fmt.Errorf("read %s: %w", name(src), err)
		}
		docs, _ = ParseDocuments(name(src), data)
		cache[src] = docs
	}
	obj.File = name(src)
	// Overlays may rename (prefixes) or re-namespace objects; match on kind
	// and name first, then fall back to the only object of that kind.
	var sameKind []*Object
	for _, d := range docs {
		if d.Kind != obj.Kind {
			continue
		}
		if d.Name == obj.Name {
			obj.Line, obj.src = d.Line, d.src
			return nil
		}
		sameKind = append(sameKind, d)
	}
	if len(sameKind) == 1 {
		obj.Line, obj.src = sameKind[0].Line, sameKind[0].src
	} else if len(docs) > 0 {
		obj.Line = docs[0].Line
	}
	return nil
}

// locateGenerator finds the "name:" entry of the generator that produced
// obj (generated names carry a hash suffix) in the kustomization file.
func locateGenerator(obj *Object, file string, name func(string) string, log *readLog) error {
	log.read(file)
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("read %s: %w", name(file), err)
	}
	obj.File, obj.Line = name(file), 1
	best := 0
	for i, line := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "- "))
		name, ok := strings.CutPrefix(t, "name:")
		name = strings.Trim(strings.TrimSpace(name), `"'`)
		if ok && name != "" && strings.HasPrefix(obj.Name, name) && len(name) > best {
			obj.Line, best = i+1, len(name)
		}
	}
	return nil
}

func stripBuildMetadata(res *resource.Resource) {
	ann := res.GetAnnotations()
	changed := false
	for k := range ann {
		if k == originAnnotation || k == transformationAnnotation || k == sourceAnnotation || strings.HasPrefix(k, internalAnnotationPrefix) {
			delete(ann, k)
			changed = true
		}
	}
	if changed {
		_ = res.SetAnnotations(ann) // only fails for non-map metadata, which kustomize already rejected
	}
}

func isKustomizationFile(path string) bool {
	return slices.Contains(konfig.RecognizedKustomizationFileNames(), filepath.Base(path))
}

func relTo(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil && !strings.HasPrefix(r, "..") {
		return filepath.ToSlash(r)
	}
	return filepath.ToSlash(path)
}

// RenderedFile is the file name Render output is written to in a directory.
func RenderedFile(env string) string { return env + ".yaml" }
