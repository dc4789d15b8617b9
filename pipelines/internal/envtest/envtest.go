// Package envtest gives tests a real kube-apiserver and etcd (started by
// controller-runtime's envtest) from the binaries the project already builds
// for its kind node image: statex/kind-k8s-bin holds kube-apiserver,
// statex/kind-etcd holds etcd. Nothing is downloaded. The binaries are copied
// out of the local Docker images once per machine into a cache directory
// keyed by the images' IDs, so a rebuilt image is extracted again and an
// unchanged one costs a `docker image inspect`.
//
// One control plane serves a whole test binary: a package declares a
// ControlPlane, calls Config from its tests and Stop from TestMain. When
// Docker or the images are missing the tests skip with the reason, except
// under STATEX_INTEGRATION=1 (.ci/run), where they fail.
package envtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	crenvtest "sigs.k8s.io/controller-runtime/pkg/envtest"
	crlog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/statex/infrastructure/pipelines/images"
)

// A binary to copy out of one of the project's images.
type binary struct {
	spec string // image directory under images/ (its TAG names the image)
	path string // absolute path inside the image
	name string // file name envtest looks for
}

var binaries = []binary{
	{spec: "kind-k8s-bin", path: "/kube-apiserver", name: "kube-apiserver"},
	{spec: "kind-etcd", path: "/usr/local/bin/etcd", name: "etcd"},
}

// UnavailableError says the binaries cannot be had on this machine (no
// Docker, an image not built): a reason to skip, not a failed test.
type UnavailableError struct{ Reason string }

func (e *UnavailableError) Error() string { return e.Reason }

// timings are what the control plane cost, for the test log.
type timings struct {
	// Extract is the time to find (and on a cache miss copy out) the
	// binaries; Extracted says whether they were copied this run.
	Extract   time.Duration
	Extracted bool
	// Start is envtest's start: etcd, kube-apiserver, the admin user and
	// the default namespace.
	Start time.Duration
}

// ControlPlane is one envtest control plane, started on first use.
type ControlPlane struct {
	once    sync.Once
	env     *crenvtest.Environment
	cfg     *rest.Config
	err     error
	dir     string
	timings timings
}

// Config returns an admin config for the API server, starting it on the
// first call. Binaries that are unavailable skip the test (fail it under
// STATEX_INTEGRATION=1); a control plane that does not start fails it.
func (cp *ControlPlane) Config(t testing.TB) *rest.Config {
	t.Helper()
	cp.once.Do(func() {
		cp.start()
		if cp.err == nil {
			how := "cached in"
			if cp.timings.Extracted {
				how = "extracted to"
			}
			t.Logf("envtest: binaries %s %s (%s); control plane started in %s",
				how, cp.dir, cp.timings.Extract.Round(time.Millisecond), cp.timings.Start.Round(time.Millisecond))
		}
	})
	var un *UnavailableError
	switch {
	case errors.As(cp.err, &un) && os.Getenv("STATEX_INTEGRATION") != "1":
		t.Skip("envtest: " + un.Reason + " (set STATEX_INTEGRATION=1 to make this a failure)")
	case cp.err != nil:
		t.Fatalf("envtest: %v", cp.err)
	}
	return rest.CopyConfig(cp.cfg)
}

// Stop ends etcd and the API server if they were started. Call it from
// TestMain after m.Run: envtest's processes outlive a test binary that
// exits without it.
func (cp *ControlPlane) Stop() error {
	if cp.env == nil {
		return nil
	}
	return cp.env.Stop()
}

func (cp *ControlPlane) start() {
	// envtest and the clients log through controller-runtime; without a
	// logger it prints a stack trace after 30 s. Test output stays quiet.
	crlog.SetLogger(crlog.Log.WithSink(crlog.NullLogSink{}))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	t0 := time.Now()
	dir, extracted, err := Binaries(ctx)
	cp.timings.Extract, cp.timings.Extracted, cp.dir = time.Since(t0), extracted, dir
	if err != nil {
		cp.err = err
		return
	}
	cp.env = &crenvtest.Environment{
		BinaryAssetsDirectory: dir,
		// Two shared cores: the defaults (20 s) are tight for a cold etcd.
		ControlPlaneStartTimeout: 90 * time.Second,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	t1 := time.Now()
	cfg, err := cp.env.Start()
	cp.timings.Start = time.Since(t1)
	if err != nil {
		_ = cp.env.Stop()
		cp.env = nil
		cp.err = fmt.Errorf("start kube-apiserver and etcd from %s: %w", dir, err)
		return
	}
	cp.cfg = cfg
}

// Binaries returns a directory holding kube-apiserver and etcd, copying them
// out of the project's images on a cache miss (extracted is then true).
// KUBEBUILDER_ASSETS, envtest's own variable, names a directory to use as it
// is. Missing Docker or images are an *UnavailableError naming the fix.
func Binaries(ctx context.Context) (dir string, extracted bool, err error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		for _, b := range binaries {
			if _, err := os.Stat(filepath.Join(dir, b.name)); err != nil {
				return "", false, fmt.Errorf("KUBEBUILDER_ASSETS=%s: %w", dir, err)
			}
		}
		return dir, false, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", false, err
	}
	specs, err := images.Discover(filepath.Join(root, "images"))
	if err != nil {
		return "", false, err
	}
	tags := map[string]string{}
	for _, s := range specs {
		tags[s.Name] = s.Tag
	}
	if _, err := exec.LookPath("docker"); err != nil {
		return "", false, &UnavailableError{Reason: "no docker CLI on PATH to copy kube-apiserver and etcd out of the project's images (or set KUBEBUILDER_ASSETS to a directory holding them)"}
	}
	if out, err := docker(ctx, "info", "--format", "{{.ServerVersion}}"); err != nil {
		return "", false, &UnavailableError{Reason: fmt.Sprintf("no Docker daemon: %v: %s — run .ci/docker-engine.sh", err, out)}
	}
	// The cache key is every source image's ID: a rebuilt image (a new
	// Kubernetes patch release) is a new directory.
	var ids []string
	for _, b := range binaries {
		tag, ok := tags[b.spec]
		if !ok {
			return "", false, fmt.Errorf("images/%s/TAG is missing: envtest's binaries come from that image", b.spec)
		}
		id, err := docker(ctx, "image", "inspect", "--format", "{{.Id}}", tag)
		if err != nil {
			return "", false, &UnavailableError{Reason: fmt.Sprintf("image %s is not built (%s) — run: go run ./pipelines/cmd/statex images build %s", tag, id, b.spec)}
		}
		ids = append(ids, shortID(id))
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	parent := filepath.Join(base, "statex", "envtest")
	dir = filepath.Join(parent, strings.Join(ids, "-"))
	if complete(dir) {
		return dir, false, nil
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", false, err
	}
	// Copy into a private directory and rename it into place, so a
	// concurrent test binary never sees half a binary.
	tmp, err := os.MkdirTemp(parent, ".extract-")
	if err != nil {
		return "", false, err
	}
	defer os.RemoveAll(tmp)
	for _, b := range binaries {
		if err := copyOut(ctx, tags[b.spec], b.path, filepath.Join(tmp, b.name)); err != nil {
			return "", false, err
		}
	}
	if err := os.Rename(tmp, dir); err != nil && !complete(dir) {
		return "", false, fmt.Errorf("envtest cache %s: %w", dir, err)
	}
	return dir, true, nil
}

// copyOut copies one file out of an image through a created (never
// started) container. The command argument is there because the carrier
// image is FROM scratch with no CMD, and docker create insists on one.
func copyOut(ctx context.Context, image, src, dst string) error {
	id, err := docker(ctx, "create", image, src)
	if err != nil {
		return fmt.Errorf("docker create %s: %v: %s", image, err, id)
	}
	defer func() {
		// A fresh context: the container is removed even when ctx ran out.
		rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = docker(rctx, "rm", "-f", id)
	}()
	if out, err := docker(ctx, "cp", id+":"+src, dst); err != nil {
		return fmt.Errorf("docker cp %s:%s: %v: %s", image, src, err, out)
	}
	return os.Chmod(dst, 0o755)
}

func complete(dir string) bool {
	for _, b := range binaries {
		info, err := os.Stat(filepath.Join(dir, b.name))
		if err != nil || !info.Mode().IsRegular() || info.Size() == 0 {
			return false
		}
	}
	return true
}

// shortID is an image ID without its algorithm, 12 hex digits like docker's.
func shortID(id string) string {
	id = strings.TrimPrefix(strings.TrimSpace(id), "sha256:")
	if len(id) > 12 {
		id = id[:12]
	}
	return id
}

func docker(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}

// repoRoot is the module root above the working directory (go test runs in
// the package directory).
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for range 32 {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(data, []byte("module github.com/statex/infrastructure\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", errors.New("envtest: not inside the github.com/statex/infrastructure module (no go.mod above the working directory)")
}
