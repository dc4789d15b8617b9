// Package e2e proves a real kind cluster built with no registry works for
// the platform: nodes Ready, pods from the project's images run, Services
// resolve by DNS, PVCs bind and keep data across pod restarts, and
// NetworkPolicies are enforced.
//
// It runs when STATEX_E2E=1 (then anything missing is a failure); it brings
// the environment's cluster up itself (statex cluster up) and leaves it
// running for the next run; its test namespace is deleted at the end.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/statex/infrastructure/pipelines/cluster"
	"github.com/statex/infrastructure/pipelines/images"
	"github.com/statex/infrastructure/pipelines/manifest"
)

func repoRoot(t *testing.T) string {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// up brings the kind environment's cluster up exactly as `statex cluster up` does.
func up(t *testing.T) (*cluster.UpResult, *kubernetes.Clientset, string) {
	t.Helper()
	if os.Getenv("STATEX_E2E") != "1" {
		t.Skip("e2e needs a kind cluster: set STATEX_E2E=1 (tests/run e2e)")
	}
	root := repoRoot(t)
	envs, err := manifest.LoadEnvironments(filepath.Join(root, manifest.EnvironmentsFile))
	if err != nil {
		t.Fatal(err)
	}
	env, err := envs.Get("kind")
	if err != nil {
		t.Fatal(err)
	}
	// The same node image and loaded images as the CLI's: which images a
	// kind cluster gets is images' policy, not the test's.
	nodeImage, load, err := images.ForKind(filepath.Join(root, "images"))
	if err != nil {
		t.Fatal(err)
	}
	opts := cluster.Options{Name: env.Target.Kind.Cluster, ReadyTimeout: 5 * time.Minute,
		OfflineNodeImage: nodeImage, Images: load,
		Progress: func(e cluster.Event) { t.Logf("cluster: %s (%.1fs)", e.Step, e.Elapsed.Seconds()) }}
	// The test's own pods run the Redis image (a server and redis-cli).
	var redis string
	for _, tag := range load {
		if name, _, _ := strings.Cut(path.Base(tag), ":"); name == "redis" {
			redis = tag
		}
	}
	if redis == "" {
		t.Fatalf("images.ForKind loads no redis image: %q", load)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	res, err := cluster.Up(ctx, opts)
	if err != nil {
		t.Fatalf("cluster up: %v", err)
	}
	cs, err := cluster.Client(res.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return res, cs, redis
}

func TestKindClusterServesThePlatformsNeeds(t *testing.T) {
	res, cs, image := up(t)
	for _, n := range res.Nodes {
		if !n.Ready || n.Container != "running" || !strings.HasPrefix(n.KubernetesVersion, "v1.34") {
			t.Fatalf("node %+v: want running, Ready, v1.34", n)
		}
	}
	for _, l := range res.Images {
		if l.Status == "missing" {
			t.Fatalf("image %s was not built (tests/run e2e builds every image; or statex images build)", l.Image)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	ns := fmt.Sprintf("statex-e2e-%d", time.Now().Unix())
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	k := &kube{t: t, cs: cs, ns: ns, image: image}

	t.Run("pod from a built image runs", func(t *testing.T) {
		k.t = t
		k.redisServer(ctx)
	})
	t.Run("service resolves by DNS from another pod", func(t *testing.T) {
		k.t = t
		// Retried briefly: endpoints can trail the pod's readiness by a moment.
		ok, logs := k.job(ctx, "dns", nil, fmt.Sprintf("for i in 1 2 3 4 5; do getent hosts redis.%s.svc.cluster.local && redis-cli -h redis ping | grep -qx PONG && exit 0; sleep 2; done; exit 1", ns))
		if !ok {
			t.Fatalf("DNS + PING from another pod failed:\n%s", logs)
		}
	})
	t.Run("PVC binds and data survives a pod restart", func(t *testing.T) {
		k.t = t
		k.pvcSurvivesRestart(ctx)
	})
	t.Run("NetworkPolicy blocks a denied client and lets an allowed one in", func(t *testing.T) {
		k.t = t
		k.networkPolicy(ctx)
	})
}

type kube struct {
	t     *testing.T
	cs    *kubernetes.Clientset
	ns    string
	image string
}

func restricted() (*corev1.PodSecurityContext, *corev1.SecurityContext) {
	yes, no := true, false
	return &corev1.PodSecurityContext{RunAsNonRoot: &yes, RunAsUser: ptr(int64(998)), FSGroup: ptr(int64(998)),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
		&corev1.SecurityContext{AllowPrivilegeEscalation: &no, Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
}

func ptr[T any](v T) *T { return &v }

func (k *kube) redisServer(ctx context.Context) {
	psc, sc := restricted()
	labels := map[string]string{"app": "redis"}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "redis", Labels: labels},
		Spec: corev1.PodSpec{SecurityContext: psc, Containers: []corev1.Container{{
			Name: "redis", Image: k.image, ImagePullPolicy: corev1.PullNever, SecurityContext: sc,
			Ports:          []corev1.ContainerPort{{Name: "redis", ContainerPort: 6379}},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"redis-cli", "ping"}}}, PeriodSeconds: 2},
		}}},
	}
	if _, err := k.cs.CoreV1().Pods(k.ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		k.t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "redis"},
		Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Name: "redis", Port: 6379, TargetPort: intstr.FromString("redis")}}},
	}
	if _, err := k.cs.CoreV1().Services(k.ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		k.t.Fatal(err)
	}
	k.waitPodReady(ctx, "redis")
}

func (k *kube) waitPodReady(ctx context.Context, name string) {
	for range 120 { // bounded: 120 × 1 s
		p, err := k.cs.CoreV1().Pods(k.ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
					return
				}
			}
		}
		time.Sleep(time.Second)
	}
	p, _ := k.cs.CoreV1().Pods(k.ns).Get(ctx, name, metav1.GetOptions{})
	k.t.Fatalf("pod %s not ready in 2 minutes: %+v", name, p.Status)
}

// job runs a shell command in a one-shot pod of the test image and reports
// whether it succeeded, with its logs.
func (k *kube) job(ctx context.Context, name string, labels map[string]string, script string, volumes ...corev1.Volume) (bool, string) {
	psc, sc := restricted()
	var mounts []corev1.VolumeMount
	for _, v := range volumes {
		mounts = append(mounts, corev1.VolumeMount{Name: v.Name, MountPath: "/" + v.Name})
	}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: batchv1.JobSpec{
			BackoffLimit:          ptr(int32(0)),
			ActiveDeadlineSeconds: ptr(int64(90)),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, SecurityContext: psc, Volumes: volumes,
					Containers: []corev1.Container{{Name: "run", Image: k.image, ImagePullPolicy: corev1.PullNever, SecurityContext: sc,
						Command: []string{"sh", "-c", script}, VolumeMounts: mounts}}},
			},
		},
	}
	if _, err := k.cs.BatchV1().Jobs(k.ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		k.t.Fatal(err)
	}
	var done *batchv1.Job
	for range 120 { // bounded: 120 × 1 s (the job's own deadline is 90 s)
		j, err := k.cs.BatchV1().Jobs(k.ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil && (j.Status.Succeeded > 0 || j.Status.Failed > 0) {
			done = j
			break
		}
		time.Sleep(time.Second)
	}
	logs := k.jobLogs(ctx, name)
	if done == nil {
		k.t.Fatalf("job %s did not finish in 2 minutes:\n%s", name, logs)
	}
	return done.Status.Succeeded > 0, logs
}

func (k *kube) jobLogs(ctx context.Context, job string) string {
	pods, err := k.cs.CoreV1().Pods(k.ns).List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + job})
	if err != nil || len(pods.Items) == 0 {
		return "(no pod)"
	}
	raw, err := k.cs.CoreV1().Pods(k.ns).GetLogs(pods.Items[0].Name, &corev1.PodLogOptions{}).Do(ctx).Raw()
	if err != nil {
		return "(logs: " + err.Error() + ")"
	}
	return string(bytes.TrimSpace(raw))
}

func (k *kube) pvcSurvivesRestart(ctx context.Context) {
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("64Mi")}},
		},
	}
	if _, err := k.cs.CoreV1().PersistentVolumeClaims(k.ns).Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		k.t.Fatal(err)
	}
	vol := corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}
	token := fmt.Sprintf("token-%d", time.Now().UnixNano())
	if ok, logs := k.job(ctx, "write", nil, "echo "+token+" > /data/token && sync", vol); !ok {
		k.t.Fatalf("writer failed:\n%s", logs)
	}
	got, err := k.cs.CoreV1().PersistentVolumeClaims(k.ns).Get(ctx, "data", metav1.GetOptions{})
	if err != nil || got.Status.Phase != corev1.ClaimBound {
		k.t.Fatalf("PVC not bound: %v %v", got.Status.Phase, err)
	}
	// A different pod (the writer is gone) reads what the first one wrote.
	if ok, logs := k.job(ctx, "read", nil, "test \"$(cat /data/token)\" = "+token, vol); !ok {
		k.t.Fatalf("data did not survive the pod: reader failed:\n%s", logs)
	}
}

func (k *kube) networkPolicy(ctx context.Context) {
	deny := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "redis-deny-all-ingress"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "redis"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
		},
	}
	if _, err := k.cs.NetworkingV1().NetworkPolicies(k.ns).Create(ctx, deny, metav1.CreateOptions{}); err != nil {
		k.t.Fatal(err)
	}
	probe := "for i in 1 2 3; do timeout 5 redis-cli -h redis ping | grep -qx PONG && exit 0; sleep 2; done; exit 1"
	// Give the policy controller a moment to program the node, then expect denial.
	time.Sleep(5 * time.Second)
	if ok, logs := k.job(ctx, "denied", map[string]string{"role": "stranger"}, probe); ok {
		k.t.Fatalf("a client not allowed by any policy reached redis:\n%s", logs)
	}
	allow := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "redis-allow-clients"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "redis"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": "client"}}}},
				Ports: []networkingv1.NetworkPolicyPort{{Port: ptr(intstr.FromInt32(6379))}},
			}},
		},
	}
	if _, err := k.cs.NetworkingV1().NetworkPolicies(k.ns).Create(ctx, allow, metav1.CreateOptions{}); err != nil {
		k.t.Fatal(err)
	}
	time.Sleep(5 * time.Second)
	if ok, logs := k.job(ctx, "allowed", map[string]string{"role": "client"}, probe); !ok {
		k.t.Fatalf("an allowed client could not reach redis:\n%s", logs)
	}
	// And the stranger is still kept out once an allow rule exists.
	if ok, logs := k.job(ctx, "denied-again", map[string]string{"role": "stranger"}, probe); ok {
		k.t.Fatalf("the allow rule let a stranger in:\n%s", logs)
	}
}
