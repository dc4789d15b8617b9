package validate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/statex/infrastructure/pipelines/manifest"
)

// Environment renders one environment of the repository at root and
// validates the result against that environment's namespace, generated
// secrets and Kubernetes version. A render failure is returned as an error
// (nothing was validated); findings are in the report.
func Environment(ctx context.Context, root string, envs *manifest.Environments, name string) (*Report, *manifest.Rendered, error) {
	rendered, err := manifest.Render(ctx, root, envs, name)
	if err != nil {
		return nil, nil, err
	}
	env, _ := envs.Get(name) // Render already resolved it
	rep, err := Validate(ctx, &manifest.Set{Objects: rendered.Objects}, Options{
		Target:            name,
		KubernetesVersion: envs.KubernetesVersion,
		DefaultNamespace:  envs.NamespaceOf(env),
		GeneratedSecrets:  envs.GeneratedSecrets,
		Backup:            BackupTargetOf(env),
	})
	return rep, rendered, err
}

// Environments validates several environments as Environment does, with
// the default render options (the render cache; see manifest.Render).
func Environments(ctx context.Context, root string, envs *manifest.Environments, names []string) ([]*Report, []*manifest.Rendered, error) {
	return EnvironmentsWith(ctx, root, envs, names, manifest.DefaultRenderOptions())
}

// EnvironmentsWith renders and validates the named environments in
// parallel, one per core: renders are independent, and kustomize is almost
// all of the cost. Results are in the order of names; the first error (in
// that order) is returned.
func EnvironmentsWith(ctx context.Context, root string, envs *manifest.Environments, names []string, opts manifest.RenderOptions) ([]*Report, []*manifest.Rendered, error) {
	reps := make([]*Report, len(names))
	rendered := make([]*manifest.Rendered, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(runtime.GOMAXPROCS(0), len(names)) {
		wg.Go(func() {
			for i := range next {
				r, err := manifest.RenderWith(ctx, root, envs, names[i], opts)
				if err != nil {
					errs[i] = err
					continue
				}
				env, _ := envs.Get(names[i]) // RenderWith already resolved it
				rendered[i] = r
				reps[i], errs[i] = Validate(ctx, &manifest.Set{Objects: r.Objects}, Options{
					Target:            names[i],
					KubernetesVersion: envs.KubernetesVersion,
					DefaultNamespace:  envs.NamespaceOf(env),
					GeneratedSecrets:  envs.GeneratedSecrets,
					Backup:            BackupTargetOf(env),
				})
			}
		})
	}
	for i := range names {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, nil, err
		}
	}
	return reps, rendered, nil
}

// PathOptions say how Paths reads and judges its paths.
type PathOptions struct {
	manifest.LoadOptions
	// KubernetesVersion overrides the environments file's (then 1.34).
	KubernetesVersion string
}

// Paths validates what `kubectl apply -f` takes: files and directories as
// they are, standard input ("-"), and directories holding a kustomization,
// rendered (see manifest.LoadPaths). The environments file at root, when
// present, supplies the namespace, generated secrets and version.
func Paths(ctx context.Context, root string, paths []string, opts PathOptions) (*Report, error) {
	set, err := manifest.LoadPaths(ctx, paths, opts.LoadOptions)
	if err != nil {
		return nil, err
	}
	target := make([]string, len(paths))
	for i, p := range paths {
		if target[i] = p; p == "-" {
			target[i] = manifest.StdinName
		}
	}
	if len(set.Objects) == 0 && len(set.Errors) == 0 {
		return nil, fmt.Errorf("%s: no Kubernetes objects found (only comments or empty documents)", strings.Join(target, ", "))
	}
	vopts := Options{Target: strings.Join(target, " "), KubernetesVersion: opts.KubernetesVersion}
	if root != "" {
		file := filepath.Join(root, manifest.EnvironmentsFile)
		if _, statErr := os.Stat(file); statErr == nil {
			envs, err := manifest.LoadEnvironments(file)
			if err != nil {
				return nil, err
			}
			vopts.GeneratedSecrets = envs.GeneratedSecrets
			vopts.DefaultNamespace = envs.Namespace
			if vopts.KubernetesVersion == "" {
				vopts.KubernetesVersion = envs.KubernetesVersion
			}
		}
	}
	rep, err := Validate(ctx, set, vopts)
	if err != nil {
		return nil, err
	}
	rep.ExcludedPaths, rep.Kustomizations = set.Excluded, set.Kustomizations
	return rep, nil
}
