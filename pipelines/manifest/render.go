package manifest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

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
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionLegacy // namespaces and RBAC before workloads
	resMap, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), overlay)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", relTo(root, overlay), err)
	}
	if resMap.Size() == 0 {
		return nil, fmt.Errorf("kustomize build %s: rendered no objects", relTo(root, overlay))
	}
	out := &Rendered{Env: env.Name, Overlay: relTo(root, overlay)}
	sources := map[string][]*Object{}
	var buf bytes.Buffer
	for i, res := range resMap.Resources() {
		origin, err := res.GetOrigin()
		if err != nil {
			return nil, fmt.Errorf("kustomize build %s: %s: %w", out.Overlay, res.CurId(), err)
		}
		stripBuildMetadata(res)
		doc, err := res.AsYAML()
		if err != nil {
			return nil, fmt.Errorf("kustomize build %s: %s: %w", out.Overlay, res.CurId(), err)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(doc)

		objs, errs := ParseDocuments(out.Overlay, doc)
		if len(errs) > 0 || len(objs) != 1 {
			return nil, fmt.Errorf("kustomize build %s: %s: rendered output does not parse", out.Overlay, res.CurId())
		}
		obj := objs[0]
		obj.File, obj.Line, obj.src = out.Overlay, 0, nil
		switch {
		case origin == nil || origin.Repo != "":
		case origin.Path != "":
			if err := locate(obj, root, filepath.Join(overlay, origin.Path), sources); err != nil {
				return nil, err
			}
		case origin.ConfiguredIn != "":
			// Generated (configMapGenerator, secretGenerator): point at the
			// generator entry in the kustomization that declared it.
			if err := locateGenerator(obj, root, filepath.Join(overlay, origin.ConfiguredIn)); err != nil {
				return nil, err
			}
		}
		out.Objects = append(out.Objects, obj)
	}
	out.YAML = buf.Bytes()
	sum := sha256.Sum256(out.YAML)
	out.Hash = "sha256:" + hex.EncodeToString(sum[:])
	return out, nil
}

// locate points a rendered object at the document it came from, so findings
// name the file and line the user edits rather than the rendered stream.
func locate(obj *Object, root, src string, cache map[string][]*Object) error {
	docs, ok := cache[src]
	if !ok {
		data, err := os.ReadFile(src)
		if err != nil {
			return fmt.Errorf("read %s: %w", relTo(root, src), err)
		}
		docs, _ = ParseDocuments(relTo(root, src), data)
		cache[src] = docs
	}
	obj.File = relTo(root, src)
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
func locateGenerator(obj *Object, root, file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("read %s: %w", relTo(root, file), err)
	}
	obj.File, obj.Line = relTo(root, file), 1
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
