package cluster

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

// kindKubeconfig is what kind writes for cluster "statex" (the CA and key
// shortened: the merge copies them as they are).
const kindKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: kind-statex
  cluster:
    server: https://127.0.0.1:40123
    certificate-authority-data: Y2EK
contexts:
- name: kind-statex
  context: {cluster: kind-statex, user: kind-statex}
users:
- name: kind-statex
  user:
    client-certificate-data: Y2VydAo=
    client-key-data: a2V5Cg==
current-context: kind-statex
`

// The user's own kubeconfig, with a context of its own.
const userKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: work
  cluster: {server: "https://work.example:6443"}
contexts:
- name: work
  context: {cluster: work, user: me, namespace: team}
users:
- name: me
  user: {token: work-token}
current-context: work
`

func write(t *testing.T, path, data string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func contexts(t *testing.T, path string) (names []string, current string) {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for n := range cfg.Contexts {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, cfg.CurrentContext
}

// cluster up merges the cluster's context into $KUBECONFIG as kind does:
// added and made current, the user's contexts kept; a second merge
// changes nothing; cluster down's removal takes out the cluster's entries
// only, and removing again changes nothing.
func TestKubeconfigMergeIsIdempotentAndKeepsOtherContexts(t *testing.T) {
	dir := t.TempDir()
	from := write(t, filepath.Join(dir, "kubeconfig-statex"), kindKubeconfig)
	user := write(t, filepath.Join(dir, "config"), userKubeconfig)
	t.Setenv("KUBECONFIG", user)

	if got := UserKubeconfig().GetDefaultFilename(); got != user {
		t.Fatalf("merging into %s, want $KUBECONFIG %s", got, user)
	}
	if err := MergeKubeconfig(from, UserKubeconfig()); err != nil {
		t.Fatal(err)
	}
	names, current := contexts(t, user)
	if !slices.Equal(names, []string{"kind-statex", "work"}) || current != "kind-statex" {
		t.Fatalf("after merge: contexts %v, current %q", names, current)
	}
	merged, _ := os.ReadFile(user)
	for _, want := range []string{"work-token", "namespace: team", "https://127.0.0.1:40123", "client-key-data: a2V5Cg=="} {
		if !strings.Contains(string(merged), want) {
			t.Errorf("merged kubeconfig lacks %q:\n%s", want, merged)
		}
	}
	if data, _ := os.ReadFile(from); string(data) != kindKubeconfig {
		t.Errorf("the cluster's own kubeconfig was written:\n%s", data)
	}

	// Again: byte for byte the same file.
	if err := MergeKubeconfig(from, UserKubeconfig()); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(user); string(again) != string(merged) {
		t.Errorf("second merge changed the file:\n%s\nwas:\n%s", again, merged)
	}

	// A recreated cluster (new port) replaces its entries, nothing else.
	write(t, from, strings.Replace(kindKubeconfig, "40123", "40999", 1))
	if err := MergeKubeconfig(from, UserKubeconfig()); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(user)
	if strings.Contains(string(data), "40123") || !strings.Contains(string(data), "40999") || !strings.Contains(string(data), "work-token") {
		t.Errorf("after re-create:\n%s", data)
	}

	if err := RemoveKubeconfig("statex", UserKubeconfig()); err != nil {
		t.Fatal(err)
	}
	names, current = contexts(t, user)
	data, _ = os.ReadFile(user)
	if !slices.Equal(names, []string{"work"}) || current != "" || strings.Contains(string(data), "kind-statex") || !strings.Contains(string(data), "work-token") {
		t.Errorf("after remove: contexts %v, current %q:\n%s", names, current, data)
	}
	if err := RemoveKubeconfig("statex", UserKubeconfig()); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(user); string(again) != string(data) {
		t.Errorf("second remove changed the file")
	}
}

// With $KUBECONFIG a list, new entries go to the first file that exists
// (kubectl's and kind's rule), and no other file is touched; with no
// kubeconfig at all the file is created.
func TestKubeconfigMergeFollowsKubectlsFileRules(t *testing.T) {
	dir := t.TempDir()
	from := write(t, filepath.Join(dir, "kubeconfig-statex"), kindKubeconfig)
	missing := filepath.Join(dir, "missing")
	first := write(t, filepath.Join(dir, "first"), userKubeconfig)
	second := write(t, filepath.Join(dir, "second"), strings.ReplaceAll(userKubeconfig, "work", "home"))
	t.Setenv("KUBECONFIG", strings.Join([]string{missing, first, second}, string(os.PathListSeparator)))
	if err := MergeKubeconfig(from, UserKubeconfig()); err != nil {
		t.Fatal(err)
	}
	if names, _ := contexts(t, first); !slices.Equal(names, []string{"kind-statex", "work"}) {
		t.Errorf("first file: %v", names)
	}
	if data, _ := os.ReadFile(second); string(data) != strings.ReplaceAll(userKubeconfig, "work", "home") {
		t.Errorf("second file changed:\n%s", data)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("a missing file in the list was created")
	}

	fresh := filepath.Join(t.TempDir(), "sub", "config")
	t.Setenv("KUBECONFIG", fresh)
	if err := MergeKubeconfig(from, UserKubeconfig()); err != nil {
		t.Fatal(err)
	}
	if names, current := contexts(t, fresh); !slices.Equal(names, []string{"kind-statex"}) || current != "kind-statex" {
		t.Errorf("fresh kubeconfig: %v, current %q", names, current)
	}
}
