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

// Paths validates files and directories as they are (no kustomize). The
// environments file at root, when present, supplies generated secrets.
func Paths(ctx context.Context, root string, paths []string, kubeVersion string) (*Report, error) {
	set, err := manifest.LoadPaths(paths)
	if err != nil {
		return nil, err
	}
	if len(set.Objects) == 0 && len(set.Errors) == 0 {
		return nil, fmt.Errorf("%s: no Kubernetes objects found (is this a kustomize source tree? use --env)", strings.Join(paths, ", "))
	}
	opts := Options{Target: strings.Join(paths, " "), KubernetesVersion: kubeVersion}
	if root != "" {
		file := filepath.Join(root, manifest.EnvironmentsFile)
		if _, statErr := os.Stat(file); statErr == nil {
			envs, err := manifest.LoadEnvironments(file)
			if err != nil {
				return nil, err
			}
			opts.GeneratedSecrets = envs.GeneratedSecrets
			opts.DefaultNamespace = envs.Namespace
			if opts.KubernetesVersion == "" {
				opts.KubernetesVersion = envs.KubernetesVersion
			}
		}
	}
	return Validate(ctx, set, opts)
}
