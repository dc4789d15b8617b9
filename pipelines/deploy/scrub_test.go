package deploy

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	"github.com/statex/infrastructure/pipelines/kube"
	"github.com/statex/infrastructure/pipelines/manifest"
	"github.com/statex/infrastructure/pipelines/target"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// A dry run's diff is printed, put in the step summary and uploaded: a
// Secret's values appear in it only as masks, whether they changed or not,
// and wherever else the object carries them.
func TestDryRunDiffOfASecretIsMasked(t *testing.T) {
	const oldPw, newPw, same, extra = "old-password-value", "new-password-value", "unchanged-value-1", "string-data-value"
	lastApplied := `{"apiVersion":"v1","kind":"Secret","data":{"password":"` + b64(oldPw) + `"}}`
	live := obj(t, `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","annotations":{"kubectl.kubernetes.io/last-applied-configuration":`+quote(lastApplied)+`}},
		"data":{"password":"`+b64(oldPw)+`","user":"`+b64(same)+`"}}`)
	merged := obj(t, `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","annotations":{"kubectl.kubernetes.io/last-applied-configuration":`+quote(lastApplied)+`}},
		"data":{"password":"`+b64(newPw)+`","user":"`+b64(same)+`","token":"`+b64(newPw)+`"},"stringData":{"extra":"`+extra+`"}}`)
	got := diffText(live, merged)
	for _, v := range []string{oldPw, newPw, same, extra, b64(oldPw), b64(newPw), b64(same)} {
		if strings.Contains(got, v) {
			t.Errorf("diff shows %q:\n%s", v, got)
		}
	}
	// What changed is still visible, just not to what.
	for _, line := range []string{`~ /data/password: "*** (after)"`, `+ /data/token: "***"`, `+ /stringData`} {
		if !strings.Contains(got, line) {
			t.Errorf("diff lacks %q:\n%s", line, got)
		}
	}
	if strings.Contains(got, "/data/user") {
		t.Errorf("an unchanged key shows as changed:\n%s", got)
	}
	// The inputs are the caller's objects: masking works on copies.
	if v, _, _ := unstructured.NestedString(merged.Object, "data", "password"); v != b64(newPw) {
		t.Errorf("diffText changed its input: %q", v)
	}
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

// A failing pod's last log lines (and events, and the reason) are scrubbed
// of every value the namespace's Secrets hold before they are reported or
// stored in the release record.
func TestFailureLogTailsAreScrubbedOfSecretValues(t *testing.T) {
	const generated = "Zk3pQ9vX2mL7tR4wY8nB1cD5fG6hJ0kA-_generated"
	const rendered = "rendered-secret-value"
	cs := fake.NewSimpleClientset(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "postgres-credentials", Namespace: "ns"},
		Data:       map[string][]byte{"superuser-password": []byte(generated), "binary": {0x1f, 0x8b, 0xff, 0x00}},
	})
	e := &engine{cs: cs, ns: "ns", opts: Options{Rendered: &manifest.Rendered{Objects: []*manifest.Object{
		{Kind: "Secret", Name: "r", JSON: []byte(`{"kind":"Secret","data":{"k":"` + b64(rendered) + `"}}`)},
	}}}}
	f := &Failure{
		Stage:  "postgres",
		Reason: "StatefulSet/ns/postgres: crash loop",
		Events: []string{"Pod/postgres-0: BackOff: container env SUPERUSER_PASSWORD=" + generated},
		Logs: map[string]string{
			"postgres-0/postgres": "FATAL: password authentication failed for user postgres (password " + generated + ")\nconnecting with " + rendered,
		},
	}
	s, ok := e.failureScrubber(context.Background())
	if !ok {
		t.Fatal("secrets not readable from the fake clientset")
	}
	scrubFailure(f, s, ok)
	all := f.Reason + strings.Join(f.Events, "\n") + f.Logs["postgres-0/postgres"]
	if strings.Contains(all, generated) || strings.Contains(all, rendered) {
		t.Errorf("secret values survived:\n%s", all)
	}
	if !strings.Contains(f.Logs["postgres-0/postgres"], "FATAL: password authentication failed for user postgres (password ***)") {
		t.Errorf("the rest of the log line went too: %q", f.Logs["postgres-0/postgres"])
	}

	// Secrets that cannot be read: the log is withheld, not reported raw.
	denied := fake.NewSimpleClientset()
	denied.PrependReactor("list", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("forbidden")
	})
	e.cs = denied
	f.Logs["postgres-0/postgres"] = "password " + generated
	s, ok = e.failureScrubber(context.Background())
	scrubFailure(f, s, ok)
	if ok || f.Logs["postgres-0/postgres"] != logsWithheld {
		t.Errorf("unscrubbable log reported: %q", f.Logs["postgres-0/postgres"])
	}
}

// An unreachable API server stops a deploy, dry run or not, before
// anything is read or planned: ErrCluster (exit 2), naming the server, and
// a result that does not say "planned".
func TestDeployStopsOnUnreachableAPIServer(t *testing.T) {
	for _, dry := range []bool{true, false} {
		res, err := Deploy(context.Background(), Options{
			Rendered: &manifest.Rendered{}, DryRun: dry,
			Target: target.ForConfig("kind", "ns", &rest.Config{Host: "https://127.0.0.1:1", BearerToken: "token-must-not-show"}),
		})
		if !errors.Is(err, ErrCluster) || !kube.IsUnreachable(err) {
			t.Fatalf("dry run %v: error %v", dry, err)
		}
		if !strings.HasPrefix(err.Error(), "API server https://127.0.0.1:1 is unreachable") || strings.Contains(err.Error(), "token-must-not-show") {
			t.Errorf("error %q", err)
		}
		if res.Status != ReleaseFailed || len(res.Stages) > 0 {
			t.Errorf("dry run %v: result %+v", dry, res)
		}
	}
}
