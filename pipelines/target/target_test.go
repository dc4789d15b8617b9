package target

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/statex/infrastructure/pipelines/cluster"
	"github.com/statex/infrastructure/pipelines/internal/testrepo"
)

func repo(t *testing.T) *Repo {
	t.Helper()
	r, err := Open(testrepo.Root(t))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Each of the repository's environments resolves into what its entry in
// environments.yaml says, and nothing else needs to look it up again.
func TestResolveTheRepositoryEnvironments(t *testing.T) {
	r := repo(t)
	kind, err := r.Resolve("kind", Kubectl{})
	if err != nil {
		t.Fatal(err)
	}
	if kind.Namespace != "statex-infrastructure" || kind.Overlay != filepath.Join(r.Root, "manifests", "overlays", "kind") ||
		kind.KubernetesVersion != "1.34" || kind.Previous != "" || kind.Secrets.External || len(kind.Secrets.Generated) == 0 {
		t.Errorf("kind: %+v", kind)
	}
	if kind.Kind == nil || kind.Kind.Cluster != "statex" || kind.Kind.Kubeconfig != cluster.DefaultKubeconfig("statex") ||
		kind.Kind.ImagesDir != filepath.Join(r.Root, "images") || kind.Context != "" {
		t.Errorf("kind cluster: %+v", kind.Kind)
	}
	if b := kind.Backup; b == nil || b.Offsite == nil || b.Offsite.Container != "statex-offsite" || b.Endpoint != "https://statex-offsite:9000" ||
		!strings.HasPrefix(b.Offsite.Image, "statex/minio:") || b.Bucket != "statex-kind-backups" || b.RetentionDays() != 1 {
		t.Errorf("kind backup: %+v", b)
	}
	prod, err := r.Resolve("prod", Kubectl{})
	if err != nil {
		t.Fatal(err)
	}
	if prod.Kind != nil || prod.Context != "statex-prod" || !prod.Secrets.External || prod.Previous != "staging" ||
		strings.Join(prod.Gates, ",") != "validate,deploy,check,drill,approval" {
		t.Errorf("prod: %+v", prod)
	}
	if b := prod.Backup; b == nil || b.Offsite != nil || !strings.HasPrefix(b.Endpoint, "https://") || b.RetentionMode != "compliance" {
		t.Errorf("prod backup: %+v", b)
	}
	preview, err := r.Resolve("preview", Kubectl{})
	if err != nil {
		t.Fatal(err)
	}
	if preview.TTL != 72*time.Hour || preview.Previous != "" || preview.Backup == nil || preview.Backup.Endpoint != "https://statex-preview-offsite:9000" {
		t.Errorf("preview: TTL %s, previous %q", preview.TTL, preview.Previous)
	}
	if _, err := r.Resolve("qa", Kubectl{}); err == nil || !strings.Contains(err.Error(), `no environment "qa" (defined: kind, preview, staging, prod)`) {
		t.Errorf("unknown environment: %v", err)
	}
}

// The image policy: only listed repositories may be missing, whatever
// their tag, and a project image never, even if someone lists it.
func TestImagePolicy(t *testing.T) {
	p := ImagePolicy{Unavailable: []string{"grafana/grafana", "statex/redis"}}
	for image, want := range map[string]bool{
		"grafana/grafana:11.1.0":           true,
		"docker.io/grafana/grafana:12":     true,
		"grafana/loki:3":                   false,
		"statex/redis:7":                   false,
		"registry.example/grafana/grafana": false,
	} {
		if got := p.MayBeUnavailable(image); got != want {
			t.Errorf("MayBeUnavailable(%q) = %v, want %v", image, got, want)
		}
	}
	if !p.Project("statex/redis:7") || p.Project("grafana/grafana:11") {
		t.Error("Project")
	}
}

// A kind target's cluster is reached through its own kubeconfig; when
// cluster up has not written it, the error says so and what to run.
// --kubeconfig names another file (written by cluster up --kubeconfig),
// and --context goes to kubectl's search.
func TestRESTConfigOfAKindTarget(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(t.TempDir(), "config"))
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	r := repo(t)
	kind, err := r.Resolve("kind", Kubectl{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kind.RESTConfig(); err == nil || !strings.Contains(err.Error(), "run 'statex cluster up --env kind'") {
		t.Errorf("no kubeconfig: %v", err)
	}
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, []byte("apiVersion: v1\nkind: Config\nclusters:\n- name: a\n  cluster: {server: https://127.0.0.1:7001}\n- name: b\n  cluster: {server: https://127.0.0.1:7002}\n"+
		"contexts:\n- name: a\n  context: {cluster: a}\n- name: b\n  context: {cluster: b}\ncurrent-context: a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		k    Kubectl
		want string
	}{
		{Kubectl{Kubeconfig: kc}, "https://127.0.0.1:7001"},
		{Kubectl{Kubeconfig: kc, Context: "b"}, "https://127.0.0.1:7002"},
		{Kubectl{Kubeconfig: kc, Cluster: "b"}, "https://127.0.0.1:7002"},
	} {
		tgt, err := r.Resolve("kind", tc.k)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := tgt.RESTConfig()
		if err != nil || cfg.Host != tc.want {
			t.Errorf("%+v: host %v, err %v; want %s", tc.k, cfg, err, tc.want)
		}
	}
	// A context target needs its context in the kubeconfig.
	staging, err := r.Resolve("staging", Kubectl{Kubeconfig: kc})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := staging.RESTConfig(); err == nil || !strings.Contains(err.Error(), "environment staging") || !strings.Contains(err.Error(), "statex-staging") {
		t.Errorf("staging without its context: %v", err)
	}
}

// STATEX_ROOT names the checkout when --root does not.
func TestOpenFromStatexRoot(t *testing.T) {
	t.Setenv("STATEX_ROOT", testrepo.Root(t))
	t.Chdir(t.TempDir())
	r, err := Open("")
	if err != nil || r.Root != testrepo.Root(t) || len(r.Names()) != 4 {
		t.Fatalf("repo %+v, err %v", r, err)
	}
	t.Setenv("STATEX_ROOT", "")
	if _, err := Open(""); err == nil {
		t.Error("no repository above a temporary directory: want an error")
	}
}

// A checkout of the manifests alone (no image recipes) still resolves a
// kind backup site: only starting it needs the image.
func TestResolveWithoutImageRecipes(t *testing.T) {
	root := t.TempDir()
	envs := "apiVersion: statex.io/v1alpha1\nkind: Environments\nnamespace: demo\nkubernetesVersion: \"1.34\"\nenvironments:\n" +
		"  - name: dev\n    overlay: overlays/dev\n    target: {kind: {cluster: demo}}\n    backup:\n      site: kind\n      bucket: demo-backups\n" +
		"      replicaBucket: demo-objects\n      credentialsSecret: backup-credentials\n      retention: 24h\n"
	if err := os.MkdirAll(filepath.Join(root, "manifests"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "manifests", "environments.yaml"), []byte(envs), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	tgt, err := r.Resolve("dev", Kubectl{})
	if err != nil || tgt.Backup == nil || tgt.Backup.Offsite == nil || tgt.Backup.Offsite.Image != "" || tgt.Backup.Endpoint != "https://demo-offsite:9000" {
		t.Fatalf("target %+v, err %v", tgt, err)
	}
}
