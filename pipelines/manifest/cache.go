package manifest

import (
	"bytes"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"

	yaml "go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// The render cache: an environment's Rendered, stored under a key that is
// a hash of everything the render could depend on, so a hit is the render
// itself and never a stale one.
//
//   - The whole manifests tree (the directory of environments.yaml): every
//     path, its type and its content. Not just what the last render read:
//     a new file kustomize would pick up changes the listing, so the key.
//   - What kustomize actually touched is recorded during the render; an
//     entry is stored only when every path lies inside that tree and
//     nothing was written or fetched (remote bases, URLs): whatever the
//     key does not cover is never cached.
//   - The statex binary: its build information (Go version, module and
//     dependency versions with sums, kustomize among them; VCS revision when
//     stamped) and the executable's path, size and modification time, so a
//     rebuilt binary never reads what another build wrote.
//   - The render options and the repository and overlay paths (findings
//     carry paths relative to the root).
//
// Entries are written atomically (temporary file, rename) and carry a
// checksum; one that does not read back whole, or whose content does not
// match its key, is ignored and rebuilt.

// Environment variables that control the cache.
const (
	// CacheDirEnv overrides where entries go (default: the user cache
	// directory, statex/render).
	CacheDirEnv = "STATEX_CACHE_DIR"
	// NoCacheEnv set to anything but "", "0" or "false" renders from
	// scratch and stores nothing.
	NoCacheEnv = "STATEX_NO_CACHE"
)

// cacheFormat changes whenever what an entry holds, or how Render builds
// what it holds, changes in a way the build identity would not show.
const cacheFormat = "statex-render-cache/2"

// RenderOptions tune Render.
type RenderOptions struct {
	// CacheDir holds render cache entries; "" renders from scratch.
	CacheDir string
}

// DefaultRenderOptions reads the environment: STATEX_NO_CACHE turns the
// cache off, STATEX_CACHE_DIR moves it, and otherwise it lives in the user
// cache directory. Test binaries get no default cache, so a test never
// depends on what another run left; a test that wants one sets
// STATEX_CACHE_DIR to a directory of its own.
func DefaultRenderOptions() RenderOptions {
	switch v := strings.TrimSpace(os.Getenv(NoCacheEnv)); v {
	case "", "0", "false":
	default:
		return RenderOptions{}
	}
	if dir := os.Getenv(CacheDirEnv); dir != "" {
		return RenderOptions{CacheDir: dir}
	}
	if testing.Testing() {
		return RenderOptions{}
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return RenderOptions{}
	}
	return RenderOptions{CacheDir: filepath.Join(dir, "statex", "render")}
}

// buildIdentity names the running binary as exactly as it can be named
// without hashing it; "" when it cannot be (then nothing is cached).
var buildIdentity = sync.OnceValue(func() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	info, err := os.Stat(exe)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%s\nexecutable %s %d %d\n", bi.String(), exe, info.Size(), info.ModTime().UnixNano())
})

// treeDigest hashes every entry under dir: relative path, type, and for
// files size and content. ok is false when the tree holds something whose
// content cannot be pinned this way (a symlink to a directory, a device):
// then renders of it are not cached.
func treeDigest(dir string) (digest string, ok bool, err error) {
	h := sha256.New()
	ok = true
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		switch t := d.Type(); {
		case t.IsDir():
			fmt.Fprintf(h, "d %q\n", rel)
		case t.IsRegular() || t&fs.ModeSymlink != 0:
			info, err := os.Stat(path) // follows a symlink: kustomize reads through it
			if err != nil {
				return err
			}
			if !info.Mode().IsRegular() {
				ok = false
				return filepath.SkipAll
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			fmt.Fprintf(h, "f %q %d %x\n", rel, len(data), sum)
		default:
			ok = false
			return filepath.SkipAll
		}
		return nil
	})
	if err != nil {
		return "", false, err
	}
	return hex.EncodeToString(h.Sum(nil)), ok, nil
}

// renderKey is the cache key of rendering overlay (an environment of the
// tree at manifests) for root; "" when the render must not be cached.
func renderKey(root, manifests, overlay, env string) (string, error) {
	id := buildIdentity()
	if id == "" {
		return "", nil
	}
	tree, ok, err := treeDigest(manifests)
	if err != nil || !ok {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s", cacheFormat, id)
	opts := krustyOptions()
	// Field by field: the plugin config is a pointer, whose address %+v would print.
	fmt.Fprintf(h, "options reorder=%s managedBy=%t loads=%s plugins=%+v originAnnotations=requested\n",
		opts.Reorder, opts.AddManagedbyLabel, opts.LoadRestrictions, *opts.PluginConfig)
	fmt.Fprintf(h, "root %q\nmanifests %q\noverlay %q\nenv %q\ntree %s\n", root, manifests, overlay, env, tree)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// readLog records every path kustomize (and Render's source lookups)
// touched, so an entry is stored only when the key covers them all.
type readLog struct {
	mu      sync.Mutex
	paths   []string
	tainted string // why the render must not be cached, if it must not
}

func (l *readLog) read(path string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.paths = append(l.paths, path)
	l.mu.Unlock()
}

func (l *readLog) taint(why string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	if l.tainted == "" {
		l.tainted = why
	}
	l.mu.Unlock()
}

// coveredBy reports whether everything touched lies inside dir (whose
// whole content the key hashes), and why not.
func (l *readLog) coveredBy(dir string) (bool, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.tainted != "" {
		return false, l.tainted
	}
	for _, p := range l.paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return false, "unresolvable path " + p
		}
		if abs != dir && !strings.HasPrefix(abs, dir+string(filepath.Separator)) {
			return false, "read outside the manifests tree: " + abs
		}
	}
	return true, ""
}

// loggingFS records what kustomize touches; writes mark the render
// uncacheable (a render that writes is not a pure function of its tree).
type loggingFS struct {
	filesys.FileSystem
	log *readLog
}

func (f loggingFS) Create(path string) (filesys.File, error) {
	f.log.taint("kustomize wrote " + path)
	return f.FileSystem.Create(path)
}

func (f loggingFS) Mkdir(path string) error {
	f.log.taint("kustomize created " + path)
	return f.FileSystem.Mkdir(path)
}

func (f loggingFS) MkdirAll(path string) error {
	f.log.taint("kustomize created " + path)
	return f.FileSystem.MkdirAll(path)
}

func (f loggingFS) RemoveAll(path string) error {
	f.log.taint("kustomize removed " + path)
	return f.FileSystem.RemoveAll(path)
}

func (f loggingFS) WriteFile(path string, data []byte) error {
	f.log.taint("kustomize wrote " + path)
	return f.FileSystem.WriteFile(path, data)
}

func (f loggingFS) Open(path string) (filesys.File, error) {
	f.log.read(path)
	return f.FileSystem.Open(path)
}

func (f loggingFS) IsDir(path string) bool {
	f.log.read(path)
	return f.FileSystem.IsDir(path)
}

func (f loggingFS) ReadDir(path string) ([]string, error) {
	f.log.read(path)
	return f.FileSystem.ReadDir(path)
}

func (f loggingFS) CleanedAbs(path string) (filesys.ConfirmedDir, string, error) {
	f.log.read(path)
	d, name, err := f.FileSystem.CleanedAbs(path)
	if err == nil {
		f.log.read(d.Join(name)) // where symlinks led
	}
	return d, name, err
}

func (f loggingFS) Exists(path string) bool {
	f.log.read(path)
	return f.FileSystem.Exists(path)
}

func (f loggingFS) Glob(pattern string) ([]string, error) {
	f.log.read(pattern)
	return f.FileSystem.Glob(pattern)
}

func (f loggingFS) ReadFile(path string) ([]byte, error) {
	f.log.read(path)
	data, err := f.FileSystem.ReadFile(path)
	if err == nil && isKustomizationFile(path) && namesURL(data) {
		// A remote file is fetched over HTTP, past any file system: what
		// it holds is not in the key. (Remote git bases are cloned and
		// then read through here, outside the tree, so they are caught
		// by the coverage check.)
		f.log.taint(path + " names a remote file")
	}
	return data, err
}

// namesURL reports whether a kustomization holds a value kustomize would
// fetch over HTTP: an http(s) URL, alone or after "key=". A generator's
// literals are data (S3_ENDPOINT=http://…), never fetched. What does not
// parse counts as naming one (kustomize will report it).
func namesURL(data []byte) bool {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil {
		return true
	}
	var walk func(n *yaml.Node, depth int) bool
	walk = func(n *yaml.Node, depth int) bool {
		if n == nil || depth > maxDepth {
			return depth > maxDepth
		}
		if n.Kind == yaml.ScalarNode {
			v := strings.ToLower(strings.TrimSpace(n.Value))
			if _, after, ok := strings.Cut(v, "="); ok && !strings.HasPrefix(v, "http") {
				v = after
			}
			return strings.HasPrefix(v, "http://") || strings.HasPrefix(v, "https://")
		}
		for i, c := range n.Content {
			if n.Kind == yaml.MappingNode && i%2 == 1 && n.Content[i-1].Value == "literals" {
				continue
			}
			if walk(c, depth+1) {
				return true
			}
		}
		return false
	}
	return walk(&doc, 0)
}

func (f loggingFS) Walk(path string, walkFn filepath.WalkFunc) error {
	f.log.read(path)
	return f.FileSystem.Walk(path, walkFn)
}

// cacheEntry is what a cache file holds (gob, after a sha256 of it).
type cacheEntry struct {
	Key     string
	Env     string
	Overlay string
	YAML    []byte
	Hash    string
	Objects []cachedObject
	Sources []cachedSource
}

type cachedObject struct {
	APIVersion, Kind, Name, Namespace string
	Labels, Annotations               map[string]string
	// gob drops empty maps: these keep "empty" apart from "absent".
	HasLabels, HasAnnotations bool
	JSON                      []byte
	File                      string
	Line                      int
	Source                    int // index in Sources, -1 for none
}

type cachedSource struct {
	Data     []byte
	LineBase int
	Items    []int
	Fast     bool
}

func entryOf(key string, r *Rendered) *cacheEntry {
	e := &cacheEntry{Key: key, Env: r.Env, Overlay: r.Overlay, YAML: r.YAML, Hash: r.Hash}
	index := map[*docSource]int{}
	for _, o := range r.Objects {
		src := -1
		if o.src != nil {
			i, ok := index[o.src]
			if !ok {
				i = len(e.Sources)
				index[o.src] = i
				e.Sources = append(e.Sources, cachedSource{Data: o.src.data, LineBase: o.src.lineBase, Items: o.src.items, Fast: o.src.fast})
			}
			src = i
		}
		e.Objects = append(e.Objects, cachedObject{
			APIVersion: o.APIVersion, Kind: o.Kind, Name: o.Name, Namespace: o.Namespace,
			Labels: o.Labels, Annotations: o.Annotations, HasLabels: o.Labels != nil, HasAnnotations: o.Annotations != nil,
			JSON: o.JSON, File: o.File, Line: o.Line, Source: src,
		})
	}
	return e
}

func (e *cacheEntry) rendered() (*Rendered, error) {
	sum := sha256.Sum256(e.YAML)
	if e.Hash != "sha256:"+hex.EncodeToString(sum[:]) || len(e.Objects) == 0 {
		return nil, errors.New("entry does not match its own hash")
	}
	srcs := make([]*docSource, len(e.Sources))
	for i, s := range e.Sources {
		srcs[i] = &docSource{data: s.Data, lineBase: s.LineBase, items: s.Items, fast: s.Fast}
	}
	r := &Rendered{Env: e.Env, Overlay: e.Overlay, YAML: e.YAML, Hash: e.Hash, Cached: true}
	for _, c := range e.Objects {
		o := &Object{
			APIVersion: c.APIVersion, Kind: c.Kind, Name: c.Name, Namespace: c.Namespace,
			Labels: c.Labels, Annotations: c.Annotations, JSON: c.JSON, File: c.File, Line: c.Line,
		}
		if c.HasLabels && o.Labels == nil {
			o.Labels = map[string]string{}
		}
		if c.HasAnnotations && o.Annotations == nil {
			o.Annotations = map[string]string{}
		}
		switch {
		case c.Source >= len(srcs):
			return nil, errors.New("entry names a source it does not hold")
		case c.Source >= 0:
			o.src = srcs[c.Source]
		}
		r.Objects = append(r.Objects, o)
	}
	return r, nil
}

func cacheFile(dir, key string) string { return filepath.Join(dir, key[:2], key+".gob") }

// loadCached returns the entry for key, or nil when there is none or it
// is damaged (then it is rebuilt and overwritten).
func loadCached(dir, key string) *Rendered {
	data, err := os.ReadFile(cacheFile(dir, key))
	if err != nil || len(data) < sha256.Size {
		return nil
	}
	body := data[sha256.Size:]
	if sum := sha256.Sum256(body); !bytes.Equal(sum[:], data[:sha256.Size]) {
		return nil
	}
	var e cacheEntry
	if gob.NewDecoder(bytes.NewReader(body)).Decode(&e) != nil || e.Key != key {
		return nil
	}
	r, err := e.rendered()
	if err != nil {
		return nil
	}
	return r
}

// storeCached writes the entry atomically: readers see the old file or
// the whole new one, never a part.
func storeCached(dir, key string, r *Rendered) error {
	var body bytes.Buffer
	if err := gob.NewEncoder(&body).Encode(entryOf(key, r)); err != nil {
		return err
	}
	file := cacheFile(dir, key)
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	sum := sha256.Sum256(body.Bytes())
	if _, err := tmp.Write(sum[:]); err != nil {
		tmp.Close()
		return err
	}
	if _, err := io.Copy(tmp, &body); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}
