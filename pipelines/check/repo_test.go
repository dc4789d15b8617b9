package check

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/statex/infrastructure/pipelines/manifest"
)

// The repository's own environments and rendered sets: the tests judge
// what is really deployed, not a hand-written copy of it.

var repoOnce struct {
	sync.Once
	envs     *manifest.Environments
	rendered map[string]*manifest.Rendered
	err      error
}

func repoEnvs(t *testing.T) *manifest.Environments {
	t.Helper()
	loadRepo()
	if repoOnce.err != nil {
		t.Fatal(repoOnce.err)
	}
	return repoOnce.envs
}

func repoEnv(t *testing.T, name string) *manifest.Environment {
	t.Helper()
	env, err := repoEnvs(t).Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// rendered is an environment's rendered set (kind and staging are
// rendered once per test binary).
func rendered(t *testing.T, env string) []*manifest.Object {
	t.Helper()
	loadRepo()
	if repoOnce.err != nil {
		t.Fatal(repoOnce.err)
	}
	r, ok := repoOnce.rendered[env]
	if !ok {
		t.Fatalf("environment %s is not rendered for tests", env)
	}
	return r.Objects
}

func loadRepo() {
	repoOnce.Do(func() {
		root, err := filepath.Abs("../..")
		if err != nil {
			repoOnce.err = err
			return
		}
		if repoOnce.envs, repoOnce.err = manifest.LoadEnvironments(filepath.Join(root, manifest.EnvironmentsFile)); repoOnce.err != nil {
			return
		}
		repoOnce.rendered = map[string]*manifest.Rendered{}
		for _, env := range []string{"kind", "staging"} {
			r, err := manifest.Render(context.Background(), root, repoOnce.envs, env)
			if err != nil {
				repoOnce.err = err
				return
			}
			repoOnce.rendered[env] = r
		}
	})
}

// objectsOf decodes the rendered objects of one kind.
func objectsOf(objs []*manifest.Object, kind string) []*manifest.Object {
	var out []*manifest.Object
	for _, o := range objs {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}
