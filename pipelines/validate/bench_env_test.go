package validate

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/statex/infrastructure/pipelines/internal/testrepo"
	"github.com/statex/infrastructure/pipelines/manifest"
)

// kubectlImage holds the kubectl the project builds for its kind node.
const kubectlImage = "statex/kind-k8s-bin:v1.34.4"

const childEnv = "STATEX_BENCH_VALIDATE_CHILD"

// TestValidateAllEnvironmentsProcess is the body of one `statex validate`
// of every environment, run by BenchmarkValidateEnvironments in a fresh
// process each time, so "cold" includes everything a user's run pays
// (process start, kustomize's schema parse). Skipped otherwise.
func TestValidateAllEnvironmentsProcess(t *testing.T) {
	if os.Getenv(childEnv) != "1" {
		t.Skip("helper process of BenchmarkValidateEnvironments")
	}
	root, envs := repoEnvironments(t)
	var names []string
	for _, e := range envs.Environments {
		names = append(names, e.Name)
	}
	reps, _, err := Environments(context.Background(), root, envs, names)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reps {
		if r.Failed() {
			t.Fatalf("%s: %d errors", r.Target, r.Errors)
		}
	}
}

func repoEnvironments(t testing.TB) (string, *manifest.Environments) {
	return testrepo.Root(t), testrepo.Environments(t)
}

// timeRuns runs cmd n times and returns the median wall time.
func timeRuns(b *testing.B, n int, cmd func() *exec.Cmd) time.Duration {
	var times []time.Duration
	for range n {
		c := cmd()
		start := time.Now()
		if out, err := c.CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", c, err, out)
		}
		times = append(times, time.Since(start))
	}
	slices.Sort(times)
	return times[len(times)/2]
}

// kubectl finds a kubectl to compare with: $KUBECTL, the PATH, or the
// project's image (copied out of a container created and removed here).
func kubectl(b *testing.B) (string, error) {
	if k := os.Getenv("KUBECTL"); k != "" {
		return k, nil
	}
	if k, err := exec.LookPath("kubectl"); err == nil {
		return k, nil
	}
	if _, err := exec.LookPath("docker"); err != nil {
		return "", fmt.Errorf("no kubectl on PATH and no docker to take it from %s", kubectlImage)
	}
	out, err := exec.Command("docker", "create", kubectlImage, "/kubectl").Output()
	if err != nil {
		return "", fmt.Errorf("docker create %s: %v", kubectlImage, err)
	}
	id := strings.TrimSpace(string(out))
	defer exec.Command("docker", "rm", id).Run()
	dst := filepath.Join(b.TempDir(), "kubectl")
	if out, err := exec.Command("docker", "cp", id+":/kubectl", dst).CombinedOutput(); err != nil {
		return "", fmt.Errorf("docker cp %s:/kubectl: %v: %s", kubectlImage, err, out)
	}
	return dst, nil
}

// BenchmarkValidateEnvironments measures `statex validate` of every
// environment the way a user runs it, each run a fresh process: cold (no
// render cache) and with nothing changed (cache hits), against
// `kubectl kustomize` of one overlay (kind) measured in the same run.
// Targets: cold at most 2x kubectl, warm at most 1 s.
func BenchmarkValidateEnvironments(b *testing.B) {
	_, envs := repoEnvironments(b)
	kind, err := envs.Get("kind")
	if err != nil {
		b.Fatal(err)
	}
	child := func(extra ...string) func() *exec.Cmd {
		return func() *exec.Cmd {
			c := exec.Command(os.Args[0], "-test.run=^TestValidateAllEnvironmentsProcess$", "-test.count=1")
			c.Env = append(os.Environ(), childEnv+"=1", manifest.NoCacheEnv+"=", manifest.CacheDirEnv+"=")
			c.Env = append(c.Env, extra...)
			return c
		}
	}
	var kubectlWall time.Duration
	if k, err := kubectl(b); err != nil {
		b.Logf("no kubectl to compare with (%v): the ratio is not measured", err)
	} else {
		kubectlWall = timeRuns(b, 5, func() *exec.Cmd { return exec.Command(k, "kustomize", envs.OverlayDir(kind)) })
		b.Logf("kubectl kustomize %s: %.2f s wall (median of 5)", kind.Overlay, kubectlWall.Seconds())
	}
	report := func(b *testing.B, run func() *exec.Cmd) {
		var total time.Duration
		for b.Loop() {
			start := time.Now()
			c := run()
			if out, err := c.CombinedOutput(); err != nil {
				b.Fatalf("%v\n%s", err, out)
			}
			total += time.Since(start)
		}
		per := total / time.Duration(b.N)
		b.ReportMetric(per.Seconds(), "s/validate")
		if kubectlWall > 0 {
			b.ReportMetric(per.Seconds()/kubectlWall.Seconds(), "x-kubectl-kustomize")
			b.ReportMetric(kubectlWall.Seconds(), "kubectl-s")
		}
	}
	b.Run("cold", func(b *testing.B) { report(b, child()) })
	b.Run("unchanged", func(b *testing.B) {
		cache := b.TempDir()
		prime := child(manifest.CacheDirEnv + "=" + cache)()
		if out, err := prime.CombinedOutput(); err != nil {
			b.Fatalf("priming the cache: %v\n%s", err, out)
		}
		report(b, child(manifest.CacheDirEnv+"="+cache))
	})
}

// Validating from the render cache gives the very findings (rules,
// messages, files, lines) that validating a fresh render gives, for every
// environment of the repository; the fresh renders ran side by side.
func TestCachedRendersValidateTheSame(t *testing.T) {
	root, envs := repoEnvironments(t)
	var names []string
	for _, e := range envs.Environments {
		names = append(names, e.Name)
	}
	opts := manifest.RenderOptions{CacheDir: t.TempDir()}
	fresh, freshRendered, err := EnvironmentsWith(context.Background(), root, envs, names, opts)
	if err != nil {
		t.Fatal(err)
	}
	cached, cachedRendered, err := EnvironmentsWith(context.Background(), root, envs, names, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range names {
		if freshRendered[i].Cached || !cachedRendered[i].Cached {
			t.Fatalf("%s: cached %v then %v, want false then true", name, freshRendered[i].Cached, cachedRendered[i].Cached)
		}
		a, b := fresh[i], cached[i]
		if a.Target != name || b.Target != name {
			t.Errorf("reports out of order: %s, %s for %s", a.Target, b.Target, name)
		}
		a.ElapsedMS, b.ElapsedMS = 0, 0
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: findings differ between a fresh and a cached render:\n%+v\n%+v", name, a.Findings, b.Findings)
		}
		if len(a.Findings) == 0 {
			t.Errorf("%s: no findings at all: the comparison proves little", name)
		}
	}
}
