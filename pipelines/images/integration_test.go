package images

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The tests here build images with the real Docker daemon against the real
// Debian archive. Like tests/integration they run when STATEX_INTEGRATION=1
// (.ci/run sets it; then a missing daemon FAILS them) and skip otherwise.
//
//	STATEX_INTEGRATION=1 go test -run Integration -v ./pipelines/images/
func needDocker(t *testing.T) {
	t.Helper()
	if os.Getenv("STATEX_INTEGRATION") != "1" {
		t.Skip("set STATEX_INTEGRATION=1 to build images with Docker against the Debian archive")
	}
	if err := exec.Command("docker", "info").Run(); err != nil {
		t.Fatal("no Docker daemon (run .ci/docker-engine.sh):", err)
	}
}

func repoImages() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "images")
}

func logProgress(t *testing.T) func(Event) {
	return func(e Event) { t.Logf("%s: %s %s (%.1fs)", e.Image, e.Step, e.Status, e.Elapsed.Seconds()) }
}

// TestIntegrationRedis builds the redis image (and the base image when it is
// missing or stale: that needs root and debootstrap), checks that a second
// Build skips both, and that the image runs.
func TestIntegrationRedis(t *testing.T) {
	needDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	opts := Options{Dir: repoImages(), Names: []string{"redis"}, Progress: logProgress(t)}
	res, err := Build(ctx, opts)
	if err != nil {
		t.Fatalf("first build: %v", err)
	}
	if len(res.Images) != 2 || res.Images[0].Name != "base" || res.Images[1].Name != "redis" {
		t.Fatalf("results: %+v", res.Images)
	}
	for _, r := range res.Images {
		t.Logf("%s %s %s %.1fs %d bytes", r.Name, r.Tag, r.Status, r.Duration.Seconds(), r.Size)
		if r.Size == 0 || r.ID == "" || r.InputHash == "" || len(r.Packages) == 0 {
			t.Errorf("%s: incomplete result %+v", r.Name, r)
		}
	}

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

	// The image works: redis answers PONG.
	out, err := exec.CommandContext(ctx, "docker", "run", "--rm", "--entrypoint", "sh", res.Images[1].Tag, "-c",
		"redis-server --daemonize yes --dir /tmp >/dev/null && sleep 1 && redis-cli ping").CombinedOutput()
	if err != nil || string(out) != "PONG\n" {
		t.Errorf("redis smoke: %v: %q", err, out)
	}
}

// testImages lays out an images directory holding a copy of the real base
// recipe (same files, same hash: the base already built is reused) and one
// recipe per entry of recipes (name -> PACKAGES value).
func testImages(t *testing.T, recipes map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "base"), os.DirFS(filepath.Join(repoImages(), "base"))); err != nil {
		t.Fatal(err)
	}
	for name, pkgs := range recipes {
		d := filepath.Join(dir, name)
		must(t, os.MkdirAll(d, 0o755))
		must(t, os.WriteFile(filepath.Join(d, "TAG"), []byte("statex-test/apt-"+name+":1\n"), 0o644))
		must(t, os.WriteFile(filepath.Join(d, "Dockerfile"), []byte("FROM statex/debian:trixie\nARG PACKAGES="+pkgs+"\nLABEL statex.io/packages=\"${PACKAGES}\"\nRUN install-packages \"${PACKAGES}\"\n"), 0o644))
		t.Cleanup(func() { exec.Command("docker", "image", "rm", "-f", "statex-test/apt-"+name+":1").Run() })
	}
	return dir
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func find(t *testing.T, res Result, name string) ImageResult {
	t.Helper()
	for _, r := range res.Images {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no result for %s in %+v", name, res.Images)
	return ImageResult{}
}

// TestIntegrationPackagePolicy proves the package policy against the real
// archive: a series pin builds and records exact versions; the exact pin the
// archive dropped (roundcube 1.6.21+dfsg-0+deb13u1, replaced by a security
// release) fails before any build with the image, the package, the version
// wanted and what the archive offers; an image whose recorded packages are
// older than the archive's is rebuilt.
func TestIntegrationPackagePolicy(t *testing.T) {
	needDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	dir := testImages(t, map[string]string{
		"series": "hello=2.*",
		"gone":   "roundcube=1.6.21+dfsg-0+deb13u1",
	})

	res, err := Build(ctx, Options{Dir: dir, Names: []string{"series"}, Progress: logProgress(t)})
	if err != nil {
		t.Fatalf("series pin: %v", err)
	}
	series := find(t, res, "series")
	var hello Package
	for _, p := range series.Packages {
		if p.Name == "hello" {
			hello = p
		}
	}
	if series.Status != StatusBuilt || hello.Requested != "2.*" || !strings.HasPrefix(hello.Version, "2.") {
		t.Fatalf("series: %s %s, hello %+v", series.Status, series.Reason, hello)
	}
	labels := imageLabels(t, ctx, "statex-test/apt-series:1")
	if labels[LabelPackages] != "hello="+hello.Version || !strings.Contains(labels[LabelAptInstalled], "hello="+hello.Version) {
		t.Errorf("labels %s=%q %s=%q", LabelPackages, labels[LabelPackages], LabelAptInstalled, labels[LabelAptInstalled])
	}
	if out, err := exec.CommandContext(ctx, "docker", "run", "--rm", "statex-test/apt-series:1", "hello").CombinedOutput(); err != nil || !strings.Contains(string(out), "Hello, world!") {
		t.Errorf("hello: %v %q", err, out)
	}

	// Unchanged archive: skipped, in one resolution.
	again, err := Build(ctx, Options{Dir: dir, Names: []string{"series"}})
	if err != nil || find(t, again, "series").Status != StatusSkipped {
		t.Fatalf("second build: %v %+v", err, find(t, again, "series"))
	}

	// The archive moved past what the image holds: age the image's record
	// (as if it had been built when hello was older) and it is rebuilt.
	stale := series.InputHash
	in := Inputs{Parents: map[string]string{"base": find(t, res, "base").ID},
		BuildArgs: map[string]string{packagesArg: "hello=2.0-1"}, Extra: map[string]string{"apt": "hello=2.0-1"}}
	if stale, err = InputHash(filepath.Join(dir, "series"), in); err != nil {
		t.Fatal(err)
	}
	relabel := exec.CommandContext(ctx, "docker", "build", "-q", "--label", LabelInputHash+"="+stale,
		"--label", LabelPackages+"=hello=2.0-1", "--label", LabelAptInstalled+"=hello=2.0-1", "-t", "statex-test/apt-series:1", "-")
	relabel.Stdin = strings.NewReader("FROM statex-test/apt-series:1\n")
	if out, err := relabel.CombinedOutput(); err != nil {
		t.Fatalf("relabel: %v %s", err, out)
	}
	plan, err := Build(ctx, Options{Dir: dir, Names: []string{"series"}, DryRun: true})
	if p := find(t, plan, "series"); err != nil || p.Status != StatusPlanned || p.Reason != "inputs changed" {
		t.Errorf("aged image: %v %s %q, want %s %q", err, p.Status, p.Reason, StatusPlanned, "inputs changed")
	}
	// NoRefresh trusts the record and keeps it.
	kept, err := Build(ctx, Options{Dir: dir, Names: []string{"series"}, DryRun: true, NoRefresh: true})
	if p := find(t, kept, "series"); err != nil || p.Status != StatusSkipped {
		t.Errorf("NoRefresh: %v %s %q, want skipped", err, p.Status, p.Reason)
	}

	// The dropped exact pin.
	res, err = Build(ctx, Options{Dir: dir, Names: []string{"gone"}})
	gone := find(t, res, "gone")
	if err == nil || gone.Status != StatusFailed || gone.Reason != "apt resolve" {
		t.Fatalf("dropped pin: %v, %s %q", err, gone.Status, gone.Reason)
	}
	for _, want := range []string{"image gone", "package roundcube wants version 1.6.21+dfsg-0+deb13u1, which is not in the archive", "offers 1.6.", "trixie-security", "gone/Dockerfile", "roundcube=1.6.*"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	t.Logf("dropped pin: %v", err)
}

// TestIntegrationStaleBase proves that a base image holding a package older
// than the archive's is rebuilt (decided with DryRun: nothing is built).
func TestIntegrationStaleBase(t *testing.T) {
	needDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := t.TempDir()
	must(t, os.CopyFS(filepath.Join(dir, "base"), os.DirFS(filepath.Join(repoImages(), "base"))))
	must(t, os.WriteFile(filepath.Join(dir, "base", "TAG"), []byte("statex-test/debian:stale\n"), 0o644))
	t.Cleanup(func() { exec.Command("docker", "image", "rm", "-f", "statex-test/debian:stale").Run() })
	hash, err := InputHash(filepath.Join(dir, "base"), Inputs{BuildArgs: map[string]string{}})
	must(t, err)
	// The real base, with dpkg believing its hostname is older than the
	// archive's (a package nothing depends on by version, so apt can plan).
	mk := exec.CommandContext(ctx, "docker", "build", "-q", "--label", LabelInputHash+"="+hash, "-t", "statex-test/debian:stale", "-")
	mk.Stdin = strings.NewReader("FROM statex/debian:trixie\nRUN sed -i '/^Package: hostname$/,/^$/s/^Version: .*/Version: 1.0/' /var/lib/dpkg/status\n")
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("stale base: %v %s", err, out)
	}
	res, err := Build(ctx, Options{Dir: dir, DryRun: true})
	b := find(t, res, "base")
	if err != nil || b.Status != StatusPlanned || !strings.Contains(b.Reason, "the archive has newer packages: hostname 1.0 → ") {
		t.Errorf("stale base: %v %s %q", err, b.Status, b.Reason)
	}
}

func imageLabels(t *testing.T, ctx context.Context, ref string) map[string]string {
	t.Helper()
	b := &builder{opts: Options{Docker: "docker"}}
	info, ok := b.inspect(ctx, ref)
	if !ok {
		t.Fatalf("no image %s", ref)
	}
	return info.Config.Labels
}
