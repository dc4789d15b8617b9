package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/statex/infrastructure/pipelines/manifest"
)

// TestMain gives this package's tests a render cache of their own: the
// README examples validate all four environments again and again, and
// after the first render each is a cache hit. The directory is new for
// every run and removed after it, so no test sees what another run left.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "statex-test-render-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "render cache:", err)
		os.Exit(1)
	}
	os.Setenv(manifest.CacheDirEnv, dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
