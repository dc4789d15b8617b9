package manifest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// cacheRepo is a repository whose render reads every kind of input: a
// base, an overlay patch, a configMapGenerator file, environments.yaml.
func cacheRepo(t *testing.T) string {
	return writeTree(t, map[string]string{
		EnvironmentsFile:                    envFile,
		"manifests/base/kustomization.yaml": "resources: [app.yaml]\n",
		"manifests/base/app.yaml":           "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  a: base-value\n",
		"manifests/overlays/dev/kustomization.yaml": "namespace: demo\nresources: [../../base]\nbuildMetadata: [originAnnotations]\n" +
			"configMapGenerator:\n  - name: settings\n    files: [settings.conf]\n" +
			"patches:\n  - path: patch.yaml\n",
		"manifests/overlays/dev/settings.conf": "level=generator-value\n",
		"manifests/overlays/dev/patch.yaml":    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  c: patch-value\n",
	})
}

func renderCached(t *testing.T, root, cache string) *Rendered {
	t.Helper()
	envs, err := LoadEnvironments(filepath.Join(root, EnvironmentsFile))
	if err != nil {
		t.Fatal(err)
	}
	r, err := RenderWith(context.Background(), root, envs, "dev", RenderOptions{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// sameRender compares everything a caller can see of two renders,
// including the source lines findings would get.
func sameRender(t *testing.T, a, b *Rendered) {
	t.Helper()
	if !bytes.Equal(a.YAML, b.YAML) || a.Hash != b.Hash || a.Env != b.Env || a.Overlay != b.Overlay || len(a.Objects) != len(b.Objects) {
		t.Fatalf("renders differ:\n%s\n---- vs ----\n%s", a.YAML, b.YAML)
	}
	for i := range a.Objects {
		x, y := a.Objects[i], b.Objects[i]
		if x.APIVersion != y.APIVersion || x.Kind != y.Kind || x.Name != y.Name || x.Namespace != y.Namespace ||
			!reflect.DeepEqual(x.Labels, y.Labels) || !reflect.DeepEqual(x.Annotations, y.Annotations) ||
			!bytes.Equal(x.JSON, y.JSON) || x.File != y.File || x.Line != y.Line {
			t.Errorf("object %d differs:\n%+v\n%+v", i, x, y)
		}
		for _, path := range []string{"data", "data.a", "data.level", "metadata.name", "spec.template.spec.containers[0].image"} {
			if x.LineOf(path) != y.LineOf(path) {
				t.Errorf("%s: LineOf(%s) %d vs %d", x.Ref(), path, x.LineOf(path), y.LineOf(path))
			}
		}
	}
}

func TestRenderCacheHitIsTheRender(t *testing.T) {
	root, cache := cacheRepo(t), t.TempDir()
	cold := renderCached(t, root, cache)
	if cold.Cached {
		t.Fatal("first render came from an empty cache")
	}
	warm := renderCached(t, root, cache)
	if !warm.Cached {
		t.Fatal("second render of an unchanged tree was not a cache hit")
	}
	sameRender(t, cold, warm)
	uncached := renderCached(t, root, "")
	if uncached.Cached {
		t.Fatal("render without a cache directory says it was cached")
	}
	sameRender(t, uncached, warm)
	if warm.Objects[0].File != "manifests/base/app.yaml" || warm.Objects[0].Line != 1 {
		t.Errorf("cached object lost its source: %s:%d", warm.Objects[0].File, warm.Objects[0].Line)
	}
}

// Any change to any input is a fresh render: each file kustomize reads,
// environments.yaml, and a file nobody references yet (kustomize may read
// it after the next edit, so the whole tree is the key).
func TestRenderCacheMissesOnEveryInputChange(t *testing.T) {
	for name, c := range map[string]struct {
		file, old, new string
		want           string // in the new render's YAML, when the output changes
	}{
		"base":                {"manifests/base/app.yaml", "base-value", "base-edited", "a: base-edited"},
		"overlay patch":       {"manifests/overlays/dev/patch.yaml", "patch-value", "patch-edited", "c: patch-edited"},
		"generator file":      {"manifests/overlays/dev/settings.conf", "generator-value", "generator-edited", "level=generator-edited"},
		"overlay":             {"manifests/overlays/dev/kustomization.yaml", "namespace: demo", "namespace: other", "namespace: other"},
		"environments.yaml":   {EnvironmentsFile, "namespace: demo\n", "namespace: demo\n# edited\n", ""},
		"unreferenced file":   {"manifests/base/later.yaml", "", "apiVersion: v1\nkind: ConfigMap\n", ""},
		"base, comment only":  {"manifests/base/app.yaml", "kind: ConfigMap\n", "kind: ConfigMap # edited\n", ""},
		"generator, one byte": {"manifests/overlays/dev/settings.conf", "\n", "\n\n", ""},
	} {
		t.Run(name, func(t *testing.T) {
			root, cache := cacheRepo(t), t.TempDir()
			before := renderCached(t, root, cache)
			if !renderCached(t, root, cache).Cached {
				t.Fatal("unchanged tree: no cache hit")
			}
			path := filepath.Join(root, c.file)
			data, _ := os.ReadFile(path)
			edited := c.new
			if c.old != "" {
				if !bytes.Contains(data, []byte(c.old)) {
					t.Fatalf("%s does not contain %q", c.file, c.old)
				}
				edited = strings.Replace(string(data), c.old, c.new, 1)
			}
			if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
				t.Fatal(err)
			}
			after := renderCached(t, root, cache)
			if after.Cached {
				t.Fatal("changed input, yet the render came from the cache")
			}
			if c.want != "" && (!bytes.Contains(after.YAML, []byte(c.want)) || bytes.Equal(after.YAML, before.YAML)) {
				t.Errorf("fresh render lacks %q:\n%s", c.want, after.YAML)
			}
			sameRender(t, after, renderCached(t, root, "")) // fresh means right
			if !renderCached(t, root, cache).Cached {
				t.Error("the fresh render was not stored")
			}
		})
	}
}

// A damaged entry is ignored and rebuilt, never returned.
func TestRenderCacheRebuildsCorruptEntries(t *testing.T) {
	for name, damage := range map[string]func([]byte) []byte{
		"truncated":   func(b []byte) []byte { return b[:len(b)/2] },
		"bit flipped": func(b []byte) []byte { b[len(b)-10] ^= 1; return b },
		"empty":       func([]byte) []byte { return nil },
		"garbage":     func(b []byte) []byte { return bytes.Repeat([]byte("x"), len(b)) },
	} {
		t.Run(name, func(t *testing.T) {
			root, cache := cacheRepo(t), t.TempDir()
			good := renderCached(t, root, cache)
			entries, _ := filepath.Glob(filepath.Join(cache, "*", "*.gob"))
			if len(entries) != 1 {
				t.Fatalf("want one cache entry, found %v", entries)
			}
			data, _ := os.ReadFile(entries[0])
			if err := os.WriteFile(entries[0], damage(data), 0o644); err != nil {
				t.Fatal(err)
			}
			r := renderCached(t, root, cache)
			if r.Cached {
				t.Fatal("a damaged entry was used")
			}
			sameRender(t, good, r)
			if again := renderCached(t, root, cache); !again.Cached {
				t.Error("the damaged entry was not rebuilt")
			}
		})
	}
}

// What the key does not cover is never cached: a base outside the
// manifests tree, a kustomization naming a remote file.
func TestRenderCacheStoresOnlyWhatTheKeyCovers(t *testing.T) {
	root := cacheRepo(t)
	outside := map[string]string{
		"shared/kustomization.yaml": "resources: [extra.yaml]\n",
		"shared/extra.yaml":         "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n",
	}
	for p, content := range outside {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	k := filepath.Join(root, "manifests/overlays/dev/kustomization.yaml")
	data, _ := os.ReadFile(k)
	if err := os.WriteFile(k, bytes.Replace(data, []byte("[../../base]"), []byte("[../../base, ../../../shared]"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	first := renderCached(t, root, cache)
	if !bytes.Contains(first.YAML, []byte("name: extra")) {
		t.Fatalf("outside base not rendered:\n%s", first.YAML)
	}
	if renderCached(t, root, cache).Cached {
		t.Error("a render that read outside the manifests tree was cached")
	}
	if entries, _ := filepath.Glob(filepath.Join(cache, "*", "*.gob")); len(entries) != 0 {
		t.Errorf("entries stored: %v", entries)
	}

	for value, remote := range map[string]bool{
		"https://example.com/x.yaml":   true,
		"cm.yaml=http://example.com/x": true,
		"HTTPS://EXAMPLE.COM/X":        true,
		"url=https://example.com":      true, // a literal that looks like a file source: stay safe
		"app.yaml":                     false,
		"# see https://example.com":    false, // a comment
	} {
		doc := "resources:\n  - " + value + "\n"
		if strings.HasPrefix(value, "#") {
			doc = value + "\nresources: [app.yaml]\n"
		}
		if got := namesURL([]byte(doc)); got != remote {
			t.Errorf("namesURL(%q) = %v, want %v", doc, got, remote)
		}
	}
	// A generator's literals are data; its files and envs are still read.
	for doc, remote := range map[string]bool{
		"configMapGenerator:\n  - name: t\n    literals:\n      - S3_ENDPOINT=http://site:9000\n": false,
		"configMapGenerator:\n  - name: t\n    files:\n      - f=https://example.com/f\n":         true,
	} {
		if got := namesURL([]byte(doc)); got != remote {
			t.Errorf("namesURL(%q) = %v, want %v", doc, got, remote)
		}
	}
}

func TestDefaultRenderOptionsFromEnvironment(t *testing.T) {
	t.Setenv(CacheDirEnv, "")
	t.Setenv(NoCacheEnv, "")
	if o := DefaultRenderOptions(); o.CacheDir != "" {
		t.Errorf("a test binary got a default cache (%s): tests must not share one", o.CacheDir)
	}
	dir := t.TempDir()
	t.Setenv(CacheDirEnv, dir)
	if o := DefaultRenderOptions(); o.CacheDir != dir {
		t.Errorf("%s ignored: %+v", CacheDirEnv, o)
	}
	for _, off := range []string{"1", "true", "yes"} {
		t.Setenv(NoCacheEnv, off)
		if o := DefaultRenderOptions(); o.CacheDir != "" {
			t.Errorf("%s=%s left the cache on", NoCacheEnv, off)
		}
	}
	t.Setenv(NoCacheEnv, "0")
	if o := DefaultRenderOptions(); o.CacheDir != dir {
		t.Errorf("%s=0 turned the cache off", NoCacheEnv)
	}
}
