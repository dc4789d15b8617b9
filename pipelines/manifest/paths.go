package manifest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/api/konfig"
)

// StdinName is the file name of standard input ("-") in findings.
const StdinName = "<stdin>"

// Set is a loaded manifest set: objects in load order plus the syntax
// errors met on the way (those files are reported, not silently skipped).
type Set struct {
	Objects []*Object
	Errors  []*SyntaxError
	// Kustomizations are the directories rendered with kustomize.
	Kustomizations []string
	// Excluded are the files and directories LoadOptions.ExcludePaths
	// left out, so a report can say what it did not read.
	Excluded []string
}

// LoadOptions say how LoadPaths reads its paths.
type LoadOptions struct {
	// Stdin is read for the path "-".
	Stdin io.Reader
	// ExcludePaths are globs of files and directories not to read (see
	// ExcludeMatcher). They apply to the paths given and to what a
	// directory walk finds, not to the files a kustomization includes.
	ExcludePaths []string
}

// LoadPaths reads what `kubectl apply -f` takes, into a Set:
//
//   - "-" is standard input, named StdinName;
//   - a file is read whatever its extension, YAML or JSON (ParseDocuments);
//   - a directory holding a kustomization is rendered with kustomize, and
//     its objects point at their source files;
//   - any other directory is walked (recursively, in lexical order, hidden
//     directories left out) for .yaml, .yml and .json files. A directory
//     inside it holding a kustomization is not walked: that would read
//     kustomize's inputs (patches, generator files) as objects. It is an
//     error naming the two ways out;
//   - a path that does not exist but is a glob is expanded, as kubectl does.
//
// A kustomization read as a plain file (named, or of the kustomize API
// group) is an error: it is not an object. Unreadable paths and kustomize
// failures are returned as errors; syntax errors are collected in the Set.
func LoadPaths(ctx context.Context, paths []string, opts LoadOptions) (*Set, error) {
	exclude, err := NewExcludeMatcher(opts.ExcludePaths)
	if err != nil {
		return nil, err
	}
	l := &loader{set: &Set{}, exclude: exclude, seen: map[string]bool{}}
	stdinRead := false
	for _, p := range paths {
		switch {
		case p == "-":
			if stdinRead {
				return nil, fmt.Errorf("standard input (-) given twice")
			}
			stdinRead = true
			if opts.Stdin == nil {
				return nil, fmt.Errorf("standard input (-): not available here")
			}
			data, err := io.ReadAll(opts.Stdin)
			if err != nil {
				return nil, fmt.Errorf("read standard input: %w", err)
			}
			l.read++
			l.parse(StdinName, data)
			continue
		case strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "https://"):
			return nil, fmt.Errorf("%s: URLs are not fetched (validation works offline); download the file and pass its path", p)
		}
		matches := []string{p}
		if _, err := os.Stat(p); err != nil && strings.ContainsAny(p, "*?[") {
			// kubectl expands a pattern the shell left alone (quoted).
			if matches, _ = filepath.Glob(p); len(matches) == 0 {
				return nil, fmt.Errorf("read %s: no such file, and as a pattern it matches nothing", p)
			}
		}
		for _, m := range matches {
			if err := l.path(ctx, m); err != nil {
				return nil, err
			}
		}
	}
	if l.read == 0 && len(l.set.Errors) == 0 {
		msg := fmt.Sprintf("no .yaml, .yml or .json files in %s", strings.Join(paths, ", "))
		if n := len(l.set.Excluded); n > 0 {
			msg += fmt.Sprintf(" (%d excluded: %s)", n, strings.Join(l.set.Excluded, ", "))
		}
		return nil, errors.New(msg)
	}
	return l.set, nil
}

type loader struct {
	set     *Set
	exclude *ExcludeMatcher
	seen    map[string]bool // files and directories read, by clean path
	read    int             // files, streams and kustomizations read
}

// path loads one path given on the command line (or one match of it).
func (l *loader) path(ctx context.Context, p string) error {
	info, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("read %s: %w", p, err)
	}
	if l.exclude.Match(p) {
		l.set.Excluded = append(l.set.Excluded, filepath.ToSlash(p))
		return nil
	}
	if !info.IsDir() {
		return l.file(p)
	}
	if kustomizationIn(p) != "" {
		return l.kustomization(ctx, p)
	}
	return filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		if path == p {
			return nil
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if !d.IsDir() && !isManifestFile(path) {
			return nil
		}
		if rel, _ := filepath.Rel(p, path); l.exclude.Match(path) || l.exclude.Match(rel) {
			l.set.Excluded = append(l.set.Excluded, filepath.ToSlash(path))
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() {
			return l.file(path)
		}
		if kf := kustomizationIn(path); kf != "" {
			name := filepath.ToSlash(filepath.Join(path, kf))
			l.set.Errors = append(l.set.Errors, &SyntaxError{
				File: name, Line: 1,
				Msg: fmt.Sprintf("%s is a kustomize directory inside %s: its files are kustomize's inputs, not objects, so it was not read",
					filepath.ToSlash(path), filepath.ToSlash(p)),
				Hint: fmt.Sprintf("Validate it on its own, rendered: statex validate %s (or an environment: --env); or leave it out: --exclude-path %s",
					shellQuote(filepath.ToSlash(path)), shellQuote(filepath.ToSlash(path))),
			})
			return filepath.SkipDir
		}
		return nil
	})
}

func (l *loader) file(p string) error {
	key := filepath.Clean(p)
	if l.seen[key] {
		return nil // named twice (a directory and a file in it): read once
	}
	l.seen[key] = true
	name := filepath.ToSlash(p)
	if slices.Contains(konfig.RecognizedKustomizationFileNames(), filepath.Base(p)) {
		l.set.Errors = append(l.set.Errors, kustomizationError(name, 1, filepath.Dir(p)))
		return nil
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("read %s: %w", p, err)
	}
	l.read++
	l.parse(name, data)
	return nil
}

func (l *loader) parse(name string, data []byte) {
	objs, errs := ParseDocuments(name, data)
	for _, e := range errs {
		if e.notObject && e.Hint == "" && name != StdinName {
			e.Hint = "Not a Kubernetes manifest (a config file, a test fixture)? Leave it out: --exclude-path " + shellQuote(name)
		}
	}
	l.set.Errors = append(l.set.Errors, errs...)
	for _, o := range objs {
		// kustomize.config.k8s.io objects (Kustomization, Component) exist
		// only for kustomize: kubectl apply -f fails on them.
		if strings.HasPrefix(o.APIVersion, "kustomize.config.k8s.io/") {
			e := kustomizationError(name, o.Line, filepath.Dir(filepath.FromSlash(name)))
			if name == StdinName {
				e.Hint = "Render it first (statex render, kustomize build DIR), or pass its directory to statex validate"
			}
			l.set.Errors = append(l.set.Errors, e)
			continue
		}
		l.set.Objects = append(l.set.Objects, o)
	}
}

func (l *loader) kustomization(ctx context.Context, dir string) error {
	key := filepath.Clean(dir)
	if l.seen[key] {
		return nil
	}
	l.seen[key] = true
	_, objs, err := kustomize(ctx, dir, func(p string) string { return filepath.ToSlash(filepath.Clean(p)) }, nil)
	if err != nil {
		return err
	}
	l.read++
	l.set.Kustomizations = append(l.set.Kustomizations, filepath.ToSlash(dir))
	l.set.Objects = append(l.set.Objects, objs...)
	return nil
}

func kustomizationError(file string, line int, dir string) *SyntaxError {
	dir = filepath.ToSlash(dir)
	return &SyntaxError{
		File: file, Line: line,
		Msg: "a kustomization, not a Kubernetes object (kubectl apply -f rejects it)",
		Hint: fmt.Sprintf("Pass its directory to validate what it renders: statex validate %s; or leave it out: --exclude-path %s",
			shellQuote(dir), shellQuote(file)),
	}
}

// kustomizationIn returns the name of the kustomization file in dir, or "".
func kustomizationIn(dir string) string {
	for _, name := range konfig.RecognizedKustomizationFileNames() {
		if info, err := os.Stat(filepath.Join(dir, name)); err == nil && !info.IsDir() {
			return name
		}
	}
	return ""
}

// isManifestFile is what kubectl reads from a directory.
func isManifestFile(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// shellQuote quotes a path for a command line a user can paste.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ExcludeMatcher matches paths against exclusion globs. A glob is matched
// against the slash-separated path, one segment per segment with
// path.Match syntax, where "**" stands for any number of segments; a glob
// without "/" is matched against every single segment (a file or
// directory name anywhere). A path is excluded when it, or a directory it
// is in, matches. LoadPaths tries each path found in a directory both as
// found ("legacy/config/app.yml") and relative to that directory
// ("config/app.yml").
type ExcludeMatcher struct {
	globs [][]string
}

// NewExcludeMatcher checks the globs; a malformed one is an error.
func NewExcludeMatcher(globs []string) (*ExcludeMatcher, error) {
	m := &ExcludeMatcher{}
	for _, g := range globs {
		clean := path.Clean(filepath.ToSlash(strings.TrimSpace(g)))
		if g == "" || clean == "." {
			return nil, fmt.Errorf("exclude path %q: empty pattern", g)
		}
		segs := strings.Split(strings.TrimPrefix(clean, "/"), "/")
		for _, s := range segs {
			if _, err := path.Match(s, ""); err != nil {
				return nil, fmt.Errorf("exclude path %q: %w", g, err)
			}
		}
		if strings.HasPrefix(clean, "/") {
			segs[0] = "/" + segs[0]
		}
		m.globs = append(m.globs, segs)
	}
	return m, nil
}

// Match reports whether p, or a directory it is in, is excluded.
func (m *ExcludeMatcher) Match(p string) bool {
	if m == nil || len(m.globs) == 0 {
		return false
	}
	clean := path.Clean(filepath.ToSlash(p))
	segs := strings.Split(strings.TrimPrefix(clean, "/"), "/")
	if strings.HasPrefix(clean, "/") {
		segs[0] = "/" + segs[0]
	}
	for _, g := range m.globs {
		if len(g) == 1 && g[0] != "**" {
			for _, s := range segs {
				if ok, _ := path.Match(g[0], s); ok {
					return true
				}
			}
			continue
		}
		for n := 1; n <= len(segs); n++ {
			if globMatch(g, segs[:n]) {
				return true
			}
		}
	}
	return false
}

func globMatch(pat, segs []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for i := 0; i <= len(segs); i++ {
				if globMatch(pat[1:], segs[i:]) {
					return true
				}
			}
			return false
		}
		if len(segs) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], segs[0]); !ok {
			return false
		}
		pat, segs = pat[1:], segs[1:]
	}
	return len(segs) == 0
}
