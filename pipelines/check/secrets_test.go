package check

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"

	"github.com/statex/infrastructure/pipelines/kube"
	"github.com/statex/infrastructure/pipelines/target"
	"github.com/statex/infrastructure/pipelines/verdict"
)

const hostilePassword = "s3cr3t/p@ss:w%rd?#x"

// Every value a check read from a Secret is scrubbed from what its steps
// report, whatever quoted it.
func TestStepsAreScrubbedOfSecretsRead(t *testing.T) {
	cs := fake.NewClientset(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "postgres-credentials", Namespace: "ns"},
		Data:       map[string][]byte{"superuser-password": []byte(hostilePassword)},
	})
	c := &kube.Cluster{CS: cs, Namespace: "ns"}
	if _, err := c.Secret(context.Background(), "postgres-credentials", "superuser-password"); err != nil {
		t.Fatal(err)
	}
	steps := []Step{{Name: "connect", Error: "auth failed for " + hostilePassword}, {Name: "exec", Evidence: "env: PASSWORD=" + hostilePassword}}
	verdict.Scrub(steps, c.Scrubber().String)
	for _, s := range steps {
		if strings.Contains(s.Error+s.Evidence, "s3cr3t") || !strings.Contains(s.Error+s.Evidence, kube.Redacted) {
			t.Errorf("step %+v", s)
		}
	}
}

func TestRunStopsOnUnreachableAPIServer(t *testing.T) {
	_, err := Run(context.Background(), Options{Target: target.ForConfig("kind", "x", &rest.Config{Host: "https://127.0.0.1:1"})})
	if !kube.IsUnreachable(err) || !strings.Contains(err.Error(), "API server https://127.0.0.1:1 is unreachable") {
		t.Errorf("error %v", err)
	}
}
