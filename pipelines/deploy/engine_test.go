package deploy

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/statex/infrastructure/pipelines/manifest"
)

// The Patroni and RabbitMQ signals parse the command output and apply the
// checks' judgements (tested in pipelines/check); here only the wiring.
func TestSignalsJudgeCommandOutput(t *testing.T) {
	patroni := `{"members":[{"name":"postgres-0","role":"leader","state":"running"},
		{"name":"postgres-1","role":"sync_standby","state":"streaming"},
		{"name":"postgres-2","role":"replica","state":"streaming"}]}`
	if err := checkPatroni(patroni, 3); err != nil {
		t.Errorf("healthy Patroni: %v", err)
	}
	if err := checkPatroni(`Traceback (most recent call last)`, 3); err == nil {
		t.Error("non-JSON Patroni output passed")
	}
	if err := checkPatroni(patroni, 4); err == nil {
		t.Error("3 members passed for 4")
	}
	rabbit := `{"running_nodes":["rabbit@rabbitmq-0","rabbit@rabbitmq-1","rabbit@rabbitmq-2"],"alarms":[],"partitions":{}}`
	if err := checkRabbitCluster(rabbit, 3); err != nil {
		t.Errorf("3 running: %v", err)
	}
	if err := checkRabbitCluster(rabbit, 4); err == nil {
		t.Error("3 running passed for 4")
	}
}

func TestReadyCounts(t *testing.T) {
	for _, tc := range []struct {
		obj          string
		ready, total int
	}{
		{`{"kind":"StatefulSet","spec":{"replicas":3},"status":{"readyReplicas":2}}`, 2, 3},
		{`{"kind":"Deployment","spec":{},"status":{}}`, 0, 1},
		{`{"kind":"Job","spec":{"completions":1},"status":{"succeeded":1}}`, 1, 1},
		{`{"kind":"DaemonSet","status":{"numberReady":1,"desiredNumberScheduled":2}}`, 1, 2},
	} {
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON([]byte(strings.Replace(tc.obj, `{"kind"`, `{"apiVersion":"v1","kind"`, 1))); err != nil {
			t.Fatal(err)
		}
		r, d := readyCounts(u)
		if r != tc.ready || d != tc.total {
			t.Errorf("%s: %d/%d, want %d/%d", tc.obj, r, d, tc.ready, tc.total)
		}
	}
}

func TestDiffText(t *testing.T) {
	live := obj(t, `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"a","resourceVersion":"7","labels":{"x":"1"}},"spec":{"replicas":2,"paused":true},"status":{"replicas":2}}`)
	want := obj(t, `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"a","resourceVersion":"8","labels":{"x":"2"}},"spec":{"replicas":3,"minReadySeconds":5},"status":{"replicas":3}}`)
	got := diffText(live, want)
	for _, line := range []string{`~ /metadata/labels/x: "2"`, `~ /spec/replicas: 3`, `+ /spec/minReadySeconds: 5`, `- /spec/paused`} {
		if !strings.Contains(got, line) {
			t.Errorf("diff lacks %q:\n%s", line, got)
		}
	}
	if strings.Contains(got, "resourceVersion") || strings.Contains(got, "status") {
		t.Errorf("diff shows server-owned fields:\n%s", got)
	}
}

func obj(t *testing.T, s string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON([]byte(s)); err != nil {
		t.Fatal(err)
	}
	return u
}

// The release record round-trips through the API (fake clientset: the
// same calls run against kind in tests/e2e), and the history answers what
// rollback and prune need.
func TestReleaseHistory(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	const ns = "statex-infrastructure"
	cm := func(name string) StoredObject {
		return StoredObject{Ref: "ConfigMap/" + ns + "/" + name, Object: json.RawMessage(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"` + name + `","namespace":"` + ns + `"}}`)}
	}
	h, err := LoadHistory(ctx, cs, ns, "kind")
	if err != nil || len(h.Releases) != 0 || h.NextRevision() != 1 || h.LastSucceeded() != nil {
		t.Fatalf("empty history: %+v, %v", h, err)
	}
	for i, rel := range []*Release{
		{Env: "kind", Revision: 1, Status: ReleaseSucceeded, Objects: []StoredObject{cm("a"), cm("b")}},
		{Env: "kind", Revision: 2, Status: ReleaseSucceeded, Objects: []StoredObject{cm("a")}},
		{Env: "kind", Revision: 3, Status: ReleaseFailed, Objects: []StoredObject{cm("a"), cm("c")}},
		{Env: "other", Revision: 1, Status: ReleaseSucceeded, Objects: []StoredObject{cm("z")}},
	} {
		if err := saveRelease(ctx, cs, ns, rel); err != nil {
			t.Fatalf("save %d: %v", i, err)
		}
	}
	h, err = LoadHistory(ctx, cs, ns, "kind")
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Releases) != 3 || h.NextRevision() != 4 {
		t.Fatalf("want 3 kind releases, next 4; got %d, %d", len(h.Releases), h.NextRevision())
	}
	if last := h.LastSucceeded(); last == nil || last.Revision != 2 {
		t.Fatalf("last succeeded = %+v, want revision 2", last)
	}
	var inv []string
	for _, o := range h.Inventory() {
		inv = append(inv, o.Ref)
	}
	// b left with revision 2 and was pruned then; c came with the failed
	// revision 3 and may still exist.
	if got := strings.Join(inv, ","); got != "ConfigMap/"+ns+"/a,ConfigMap/"+ns+"/c" {
		t.Errorf("inventory = %s", got)
	}
	if raw, ok := h.LastSucceeded().Find("ConfigMap/" + ns + "/a"); !ok || !strings.Contains(string(raw), `"name":"a"`) {
		t.Errorf("Find a: %s %v", raw, ok)
	}
	// Trimming to 1 keeps the last successful release even though it is
	// not the newest.
	if err := trimHistory(ctx, cs, ns, h, 1); err != nil {
		t.Fatal(err)
	}
	h, _ = LoadHistory(ctx, cs, ns, "kind")
	if len(h.Releases) != 1 || h.Releases[0].Revision != 2 {
		t.Errorf("after trim: %d releases, first %d; want only revision 2", len(h.Releases), h.Releases[0].Revision)
	}
}

func TestPlanSecrets(t *testing.T) {
	ctx := context.Background()
	const ns = "statex-infrastructure"
	want := []manifest.GeneratedSecret{{Name: "a", Keys: []string{"x", "y"}}, {Name: "b", Keys: []string{"z"}}}
	cs := fake.NewClientset(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: ns},
		Data:       map[string][]byte{"x": []byte("1")},
	})
	got, err := PlanSecrets(ctx, cs, ns, want, false, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Action != "complete" || strings.Join(got[0].NewKeys, ",") != "y" || got[1].Action != "create" {
		t.Errorf("generate: %+v", got)
	}
	got, _ = PlanSecrets(ctx, cs, ns, want, true, true)
	if got[0].Action != "missing" || got[1].Action != "missing" {
		t.Errorf("external: %+v", got)
	}
	got, _ = PlanSecrets(ctx, cs, ns, want, false, false)
	if got[0].Action != "create" {
		t.Errorf("no namespace: %+v", got)
	}
	// Nothing was written.
	if s, _ := cs.CoreV1().Secrets(ns).Get(ctx, "b", metav1.GetOptions{}); s != nil && s.Name == "b" {
		t.Error("PlanSecrets created a Secret")
	}
}
