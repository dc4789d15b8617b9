package manifest

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestImageRepositoryDropsTagAndDigest(t *testing.T) {
	for ref, want := range map[string]string{
		"grafana/grafana:12.2.1":                   "grafana/grafana",
		"grafana/grafana":                          "grafana/grafana",
		"grafana/grafana@sha256:abc":               "grafana/grafana",
		"grafana/grafana:12.2.1@sha256:abc":        "grafana/grafana",
		"registry:5000/team/app:1.0":               "registry:5000/team/app",
		"registry:5000/team/app":                   "registry:5000/team/app",
		"docker.elastic.co/elasticsearch/es:8.1.0": "docker.elastic.co/elasticsearch/es",
	} {
		if got := ImageRepository(ref); got != want {
			t.Errorf("ImageRepository(%q) = %q, want %q", ref, got, want)
		}
	}
}

// The allowance is by repository: any tag of a listed repository, nothing
// else — not a look-alike name, not an unlisted registry's copy.
func TestMayBeUnavailableMatchesListedRepositoriesOnly(t *testing.T) {
	env := &Environment{Name: "offline", UnavailableImages: []string{"grafana/grafana"}}
	for image, want := range map[string]bool{
		"grafana/grafana:12.2.1":            true,
		"grafana/grafana:13.0.0@sha256:abc": true,
		"docker.io/grafana/grafana:12.2.1":  true,
		"grafana/grafana-oss:12.2.1":        false,
		"grafana/loki:3.5.8":                false,
		"mirror:5000/grafana/grafana:12.2":  false,
		"statex/redis:8.0":                  false,
	} {
		if got := env.MayBeUnavailable(image); got != want {
			t.Errorf("MayBeUnavailable(%q) = %v, want %v", image, got, want)
		}
	}
	if (&Environment{Name: "online"}).MayBeUnavailable("grafana/grafana:12.2.1") {
		t.Error("an environment listing nothing tolerated an image")
	}
}

func TestLoadEnvironmentsRejectsBadUnavailableImages(t *testing.T) {
	head := "apiVersion: statex.io/v1alpha1\nkind: Environments\nnamespace: demo\nkubernetesVersion: \"1.34\"\nenvironments:\n  - name: x\n    overlay: o\n    target: {context: c}\n"
	for name, c := range map[string]struct{ list, want string }{
		// A tagged entry would never match and silently excuse nothing.
		"tagged":    {`[grafana/grafana:12.2.1]`, `unavailableImages[0] "grafana/grafana:12.2.1": want an image repository`},
		"digest":    {`["grafana/grafana@sha256:abc"]`, "want an image repository"},
		"empty":     {`[""]`, "want an image repository"},
		"duplicate": {`[grafana/loki, grafana/loki]`, `"grafana/loki" listed twice`},
	} {
		t.Run(name, func(t *testing.T) {
			root := writeTree(t, map[string]string{EnvironmentsFile: head + "    unavailableImages: " + c.list + "\n"})
			_, err := LoadEnvironments(filepath.Join(root, EnvironmentsFile))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v, want it to mention %q", err, c.want)
			}
		})
	}
	root := writeTree(t, map[string]string{EnvironmentsFile: head + "    unavailableImages: [registry:5000/team/app, grafana/loki]\n"})
	if _, err := LoadEnvironments(filepath.Join(root, EnvironmentsFile)); err != nil {
		t.Errorf("repositories (one with a registry port): %v", err)
	}
}

// Only kind (offline, no registry) may run without an image; every other
// environment pulls everything, so there an unpullable image fails.
func TestOnlyKindMayRunWithoutImages(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	envs, err := LoadEnvironments(filepath.Join(root, EnvironmentsFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, env := range envs.Environments {
		if got := len(env.UnavailableImages) > 0; got != (env.Name == "kind") {
			t.Errorf("%s: unavailableImages %v", env.Name, env.UnavailableImages)
		}
	}
}
