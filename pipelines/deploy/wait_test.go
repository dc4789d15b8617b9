package deploy

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/statex/infrastructure/pipelines/manifest"
)

// An unpullable external image is "unavailable" only where the environment
// lists it (kind's unavailableImages); everywhere else, and for project
// images always, it fails the stage. The real pull failure on kind is in
// tests/e2e (Elasticsearch, Grafana and Loki report unavailable).
func TestUnpullableImagesAreToleratedOnlyWhereTheEnvironmentSays(t *testing.T) {
	pod := func(image string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "grafana-0", Namespace: "ns", Labels: map[string]string{"app": "x"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}},
			Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "c", Image: image,
				State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "no registry"}}}}},
		}
	}
	workload := func(image string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": "x", "namespace": "ns"},
			"spec": map[string]any{
				"selector": map[string]any{"matchLabels": map[string]any{"app": "x"}},
				"template": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "c", "image": image}}}},
			},
		}}
	}
	kind := &manifest.Environment{Name: "kind", UnavailableImages: []string{"grafana/grafana"}}
	prod := &manifest.Environment{Name: "prod"}
	for _, tc := range []struct {
		name, image string
		env         *manifest.Environment
		want        string
	}{
		{"listed on kind", "grafana/grafana:12.1.1", kind, "unavailable"},
		{"listed, Docker Hub spelled out", "docker.io/grafana/grafana:12.1.1", kind, "unavailable"},
		{"not listed on kind", "grafana/loki:3.5.3", kind, "failed"},
		{"prod lists nothing", "grafana/grafana:12.1.1", prod, "failed"},
		{"project image never", "statex/redis:8.0", &manifest.Environment{UnavailableImages: []string{"statex/redis"}}, "failed"},
	} {
		c := fake.NewClientBuilder().WithScheme(scheme.Scheme).WithObjects(pod(tc.image)).Build()
		w := &waiter{c: c, mayBeUnavailable: tc.env.MayBeUnavailable, isProject: func(img string) bool { return strings.HasPrefix(img, "statex/") }}
		got, why := w.podTrouble(context.Background(), workload(tc.image))
		if got != tc.want {
			t.Errorf("%s: %q (%s), want %q", tc.name, got, why, tc.want)
		}
	}
}
