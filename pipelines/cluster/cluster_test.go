package cluster

import (
	"context"
	"strings"
	"testing"
)

func TestResolveNodeImageOverrideAndOfflineError(t *testing.T) {
	img, src, err := ResolveNodeImage(context.Background(), "example/node:v1", "statex/kind-node:none")
	if err != nil || img != "example/node:v1" || src != "override" {
		t.Fatalf("override: %q %q %v", img, src, err)
	}
	t.Setenv("STATEX_OFFLINE", "1")
	_, _, err = ResolveNodeImage(context.Background(), "", "statex/kind-node:does-not-exist")
	if err == nil || !strings.Contains(err.Error(), "statex images build kind-node") {
		t.Fatalf("offline without images: %v, want the build hint", err)
	}
}

func TestPreflightNamesEveryCheckAndItsFix(t *testing.T) {
	checks := Preflight(context.Background())
	names := map[string]bool{}
	for _, c := range checks {
		names[c.Name] = true
		if c.Status != CheckOK && c.Fix == "" && !strings.Contains(c.Detail, "no such file") {
			t.Errorf("%s is %s without a fix: %s", c.Name, c.Status, c.Detail)
		}
	}
	for _, want := range []string{"docker", "inotify watches", "inotify instances", "vm.max_map_count", "disk"} {
		if !names[want] {
			t.Errorf("preflight lacks %q: %+v", want, checks)
		}
	}
}

func TestRemediateLeavesOKChecksAndUnknownFixesAlone(t *testing.T) {
	in := []Check{{Name: "docker", Status: CheckOK}, {Name: "disk", Status: CheckWarn, Fix: "docker system prune"}}
	out := Remediate(in)
	if out[0] != in[0] || out[1] != in[1] {
		t.Errorf("Remediate changed checks it cannot fix: %+v", out)
	}
}

func TestDefaultKubeconfigIsPerCluster(t *testing.T) {
	a, b := DefaultKubeconfig("a"), DefaultKubeconfig("b")
	if a == b || !strings.HasSuffix(a, "kubeconfig-a") {
		t.Errorf("kubeconfigs %q %q", a, b)
	}
}
