package cluster

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"

	kind "sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"
)

// loadImages puts local Docker images into every node's containerd, skipping
// nodes that already hold the same image ID (so a re-run costs a few
// crictl calls) and reporting images that are not built locally.
func loadImages(ctx context.Context, p *kind.Provider, name string, images []string, progress func(Event), start time.Time) ([]ImageLoad, error) {
	ns, err := p.ListNodes(name)
	if err != nil {
		return nil, fmt.Errorf("list nodes of %s: %w", name, err)
	}
	var out []ImageLoad
	for _, image := range images {
		id, err := exec.CommandContext(ctx, "docker", "image", "inspect", "--format", "{{.Id}}", image).Output()
		if err != nil {
			out = append(out, ImageLoad{Image: image, Status: "missing"})
			continue
		}
		want := strings.TrimSpace(string(id))
		var targets []int
		for i, n := range ns {
			if have, err := nodeutils.ImageID(n, image); err != nil || have != want {
				targets = append(targets, i)
			}
		}
		if len(targets) == 0 {
			out = append(out, ImageLoad{Image: image, Status: "present"})
			continue
		}
		if progress != nil {
			progress(Event{Step: "load " + image, Elapsed: time.Since(start)})
		}
		for _, i := range targets {
			if err := saveInto(ctx, image, func(r io.Reader) error { return nodeutils.LoadImageArchive(ns[i], r) }); err != nil {
				return out, fmt.Errorf("load %s into %s: %w", image, ns[i], err)
			}
		}
		out = append(out, ImageLoad{Image: image, Status: "loaded"})
	}
	return out, nil
}

// saveInto streams `docker save image` into load.
func saveInto(ctx context.Context, image string, load func(io.Reader) error) error {
	cmd := exec.CommandContext(ctx, "docker", "save", image)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	loadErr := load(stdout)
	_, _ = io.Copy(io.Discard, stdout) // let docker save finish if load stopped early
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("docker save: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return loadErr
}
