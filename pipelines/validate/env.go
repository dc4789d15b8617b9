package validate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

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
	})
	return rep, rendered, err
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
