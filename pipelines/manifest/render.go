package manifest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/kyaml/filesys"
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
}

// Render builds an environment's overlay with kustomize in-process (no
// kubectl, plugins disabled, loads restricted to the repository) and returns
// the rendered set. root is the repository root; paths in results are
// relative to it.
func Render(ctx context.Context, root string, envs *Environments, envName string) (*Rendered, error) {
	env, err := envs.Get(envName)
	if err != nil {
		return nil, err
	}
	overlay := envs.OverlayDir(env)
	if info, err := os.Stat(overlay); err != nil || !info.IsDir() {
		return nil, fmt.Errorf("%s: environment %q: overlay %s does not exist", envs.Path, env.Name, overlay)
	}
	out := &Rendered{Env: env.Name, Overlay: relTo(root, overlay)}
	out.YAML, out.Objects, err = kustomize(ctx, overlay, func(path string) string { return relTo(root, path) })
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(out.YAML)
	out.Hash = "sha256:" + hex.EncodeToString(sum[:])
	return out, nil
}

// kustomize builds the kustomization in dir in-process and returns the
// rendered stream (build metadata removed) and its objects, each located
// at the source document it came from. name turns a path on disk (dir
// joined with what kustomize recorded) into the file name findings carry.
func kustomize(ctx context.Context, dir string, name func(path string) string) ([]byte, []*Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	where := name(dir)
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionLegacy // namespaces and RBAC before workloads
	disk := filesys.MakeFsOnDisk()
	top, _, err := disk.CleanedAbs(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("kustomize build %s: %w", where, err)
	}
	resMap, err := krusty.MakeKustomizer(opts).Run(originFS{FileSystem: disk, dir: top.String()}, dir)
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
		stripBuildMetadata(res)
		doc, err := res.AsYAML()
		if err != nil {
			return nil, nil, fmt.Errorf("kustomize build %s: %s: %w", where, res.CurId(), err)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(doc)

		parsed, errs := ParseDocuments(where, doc)
		if len(errs) > 0 || len(parsed) != 1 {
			return nil, nil, fmt.Errorf("kustomize build %s: %s: rendered output does not parse", where, res.CurId())
		}
		obj := parsed[0]
		obj.File, obj.Line, obj.src = where, 0, nil
		switch {
		case origin == nil || origin.Repo != "":
		case origin.Path != "":
			if err := locate(obj, filepath.Join(dir, origin.Path), name, sources); err != nil {
				return nil, nil, err
			}
		case origin.ConfiguredIn != "":
			// Generated (configMapGenerator, secretGenerator): point at the
			// generator entry in the kustomization that declared it.
			if err := locateGenerator(obj, filepath.Join(dir, origin.ConfiguredIn), name); err != nil {
				return nil, nil, err
			}
		}
		objs = append(objs, obj)
	}
	return buf.Bytes(), objs, nil
}

// originFS reads the top kustomization with originAnnotations added to its
// buildMetadata: without them kustomize records no source file, and
// findings could only name the directory. The annotations are stripped
// from the output, so the rendered bytes do not change.
type originFS struct {
	filesys.FileSystem
	dir string // the kustomization's directory, as kustomize's loader names it
}

func (f originFS) ReadFile(path string) ([]byte, error) {
	data, err := f.FileSystem.ReadFile(path)
	if err != nil || filepath.Dir(path) != f.dir || !slices.Contains(konfig.RecognizedKustomizationFileNames(), filepath.Base(path)) {
		return data, err
	}
	return withOriginAnnotations(data), nil
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
func locate(obj *Object, src string, name func(string) string, cache map[string][]*Object) error {
	docs, ok := cache[src]
	if !ok {
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
func locateGenerator(obj *Object, file string, name func(string) string) error {
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
		if k == originAnnotation || k == transformationAnnotation || strings.HasPrefix(k, internalAnnotationPrefix) {
			delete(ann, k)
			changed = true
		}
	}
	if changed {
		_ = res.SetAnnotations(ann) // only fails for non-map metadata, which kustomize already rejected
	}
}

func relTo(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil && !strings.HasPrefix(r, "..") {
		return filepath.ToSlash(r)
	}
	return filepath.ToSlash(path)
}

// RenderedFile is the file name Render output is written to in a directory.
func RenderedFile(env string) string { return env + ".yaml" }
