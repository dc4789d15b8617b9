// Package integration starts the project's own images (built offline by
// `statex images build`) with testcontainers-go and talks to them with real
// protocol clients. Nothing is pulled: ryuk (the reaper, a registry image) is
// disabled and every container is terminated by the test that started it.
//
// The tests run when STATEX_INTEGRATION=1 (tests/run sets it when Docker
// answers): then a missing daemon or image FAILS, so CI cannot go green
// without them. Without it they skip with the reason.
package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"
)

func TestMain(m *testing.M) {
	// The reaper image comes from a registry this machine cannot reach;
	// tests terminate their own containers instead.
	os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	os.Exit(m.Run())
}

// imageTag reads the image reference the image factory builds for name.
func imageTag(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "images", name, "TAG"))
	if err != nil {
		t.Fatalf("image %s: %v", name, err)
	}
	return strings.TrimSpace(string(data))
}

// requireImage skips (or, under STATEX_INTEGRATION=1, fails) when Docker or
// the locally built image is missing, and returns the image reference.
func requireImage(t *testing.T, name string) string {
	t.Helper()
	tag := imageTag(t, name)
	required := os.Getenv("STATEX_INTEGRATION") == "1"
	miss := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if required {
			t.Fatal(msg)
		}
		t.Skip(msg + " (set STATEX_INTEGRATION=1 to make this a failure)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		miss("no Docker daemon: %v: %s — run .ci/docker-engine.sh", err, strings.TrimSpace(string(out)))
	}
	if out, err := exec.CommandContext(ctx, "docker", "image", "inspect", "--format", "{{.Id}}", tag).CombinedOutput(); err != nil {
		miss("image %s is not built: %s — run: go run ./pipelines/cmd/statex images build %s", tag, strings.TrimSpace(string(out)), name)
	}
	return tag
}

// start runs a container and terminates it when the test ends.
func start(t *testing.T, image string, opts ...testcontainers.ContainerCustomizer) *testcontainers.DockerContainer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := testcontainers.Run(ctx, image, opts...)
	testcontainers.CleanupContainer(t, c)
	if err != nil {
		t.Fatalf("start %s: %v", image, err)
	}
	return c
}

// endpoint is host:port of a container port as seen from the test.
func endpoint(t *testing.T, c *testcontainers.DockerContainer, port string) string {
	t.Helper()
	ep, err := c.PortEndpoint(context.Background(), port, "")
	if err != nil {
		t.Fatalf("endpoint %s: %v", port, err)
	}
	return ep
}

// newNetwork is a Docker network for containers that talk to each other by
// alias, removed when the test ends.
func newNetwork(t *testing.T, ctx context.Context) *testcontainers.DockerNetwork {
	t.Helper()
	nw, err := network.New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nw.Remove(context.Background()) })
	return nw
}

// unique makes per-run test data names.
func unique(prefix string) string {
	return fmt.Sprintf("%s_%d", prefix, time.Now().UnixNano())
}
