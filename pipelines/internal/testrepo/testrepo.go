// Package testrepo gives tests the repository's own environments and
// rendered sets: tests judge what is really deployed, not a hand-written
// copy of it. Each environment is rendered once per test binary, however
// many tests ask for it.
package testrepo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/statex/infrastructure/pipelines/manifest"
)

var cache struct {
	sync.Mutex
	root     string
	envs     *manifest.Environments
	rendered map[string]*manifest.Rendered
}

// Root is the repository's root: the nearest directory above the test's
// working directory that holds environments.yaml and go.mod.
func Root(t testing.TB) string {
	t.Helper()
	cache.Lock()
	defer cache.Unlock()
	root, err := rootLocked()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func rootLocked() (string, error) {
	if cache.root != "" {
		return cache.root, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if isFile(filepath.Join(dir, "go.mod")) && isFile(filepath.Join(dir, manifest.EnvironmentsFile)) {
			cache.root = dir
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testrepo: no directory above the test holds go.mod and " + manifest.EnvironmentsFile)
		}
		dir = parent
	}
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// Environments is the repository's environments file, loaded.
func Environments(t testing.TB) *manifest.Environments {
	t.Helper()
	cache.Lock()
	defer cache.Unlock()
	envs, err := environmentsLocked()
	if err != nil {
		t.Fatal(err)
	}
	return envs
}

func environmentsLocked() (*manifest.Environments, error) {
	if cache.envs != nil {
		return cache.envs, nil
	}
	root, err := rootLocked()
	if err != nil {
		return nil, err
	}
	envs, err := manifest.LoadEnvironments(filepath.Join(root, manifest.EnvironmentsFile))
	if err != nil {
		return nil, err
	}
	cache.envs = envs
	return envs, nil
}

// Env is one environment of the repository.
func Env(t testing.TB, name string) *manifest.Environment {
	t.Helper()
	env, err := Environments(t).Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// Rendered is an environment's rendered set. Callers share it: read, never
// modify.
func Rendered(t testing.TB, env string) *manifest.Rendered {
	t.Helper()
	cache.Lock()
	defer cache.Unlock()
	if r, ok := cache.rendered[env]; ok {
		return r
	}
	envs, err := environmentsLocked()
	if err != nil {
		t.Fatal(err)
	}
	r, err := manifest.Render(context.Background(), cache.root, envs, env)
	if err != nil {
		t.Fatalf("render %s: %v", env, err)
	}
	if cache.rendered == nil {
		cache.rendered = map[string]*manifest.Rendered{}
	}
	cache.rendered[env] = r
	return r
}

// OfKind keeps the objects of one kind.
func OfKind(objs []*manifest.Object, kind string) []*manifest.Object {
	var out []*manifest.Object
	for _, o := range objs {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}
