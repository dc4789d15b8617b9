//go:build integration

package images

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// TestIntegrationRedis builds the redis image (and the base image when it is
// missing or stale: that needs root and debootstrap) against the real Docker
// daemon, then checks that a second Build skips both, and that the image runs.
//
//	go test -tags integration -run Integration -v ./pipelines/images/
func TestIntegrationRedis(t *testing.T) {
	if err := exec.Command("docker", "info").Run(); err != nil {
		t.Skip("no Docker daemon (run .ci/docker-engine.sh):", err)
	}
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "images")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	opts := Options{Dir: dir, Names: []string{"redis"}, Progress: func(e Event) { t.Logf("%s: %s (%.1fs)", e.Image, e.Step, e.Elapsed.Seconds()) }}
	res, err := Build(ctx, opts)
	if err != nil {
		t.Fatalf("first build: %v", err)
	}
	if len(res.Images) != 2 || res.Images[0].Name != "base" || res.Images[1].Name != "redis" {
		t.Fatalf("results: %+v", res.Images)
	}
	for _, r := range res.Images {
		t.Logf("%s %s %s %.1fs %d bytes", r.Name, r.Tag, r.Status, r.Duration.Seconds(), r.Size)
		if r.Size == 0 || r.ID == "" || r.InputHash == "" {
			t.Errorf("%s: incomplete result %+v", r.Name, r)
		}
	}

	t0 := time.Now()
	again, err := Build(ctx, opts)
	if err != nil {
		t.Fatalf("second build: %v", err)
	}
	for i, r := range again.Images {
		if r.Status != StatusSkipped {
			t.Errorf("%s: second build %s (%s), want skipped", r.Name, r.Status, r.Reason)
		}
		if r.ID != res.Images[i].ID {
			t.Errorf("%s: ID changed %s -> %s", r.Name, res.Images[i].ID, r.ID)
		}
	}
	if d := time.Since(t0); d > 30*time.Second {
		t.Errorf("no-change rebuild took %s", d)
	}

	// The image works: redis answers PONG.
	out, err := exec.CommandContext(ctx, "docker", "run", "--rm", "--entrypoint", "sh", res.Images[1].Tag, "-c",
		"redis-server --daemonize yes --dir /tmp >/dev/null && sleep 1 && redis-cli ping").CombinedOutput()
	if err != nil || string(out) != "PONG\n" {
		t.Errorf("redis smoke: %v: %q", err, out)
	}
	_ = os.Remove(filepath.Join(os.TempDir(), "statex-images", "redis.log"))
}
