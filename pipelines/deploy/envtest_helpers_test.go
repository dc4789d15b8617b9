package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/statex/infrastructure/pipelines/internal/envtest"
	"github.com/statex/infrastructure/pipelines/manifest"
	"github.com/statex/infrastructure/pipelines/target"
)

// controlPlane is the one kube-apiserver + etcd every envtest case of this
// package shares (started by the first case that needs it).
var controlPlane envtest.ControlPlane

func TestMain(m *testing.M) {
	code := m.Run()
	if err := controlPlane.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "envtest: stop:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// behaviourAnnotation on a pod template scripts what the test's stand-in
// kubelet does with its pods (see kubelet).
const behaviourAnnotation = "envtest.statex.io/pods"

const (
	podsReady   = ""        // pods run and become ready
	podsUnready = "unready" // pods run, readiness never passes
	podsCrash   = "crash"   // a container crash-loops (5 restarts)
	podsNoPull  = "nopull"  // the image cannot be pulled
)

const (
	testEnvName   = "envtest"
	okImage       = "statex/postgres:17"
	brokenImage   = "statex/postgres:17-broken"
	externalImage = "docker.elastic.co/elasticsearch/elasticsearch:8.15.0"
)

var nsSeq atomic.Int64

// fixture is one case's namespace on the shared control plane, the set it
// deploys and the clients that look at the result.
type fixture struct {
	t   *testing.T
	ns  string
	cfg *rest.Config
	c   client.Client
	cs  kubernetes.Interface
	kl  *kubelet
	// hook sees every progress event before the kubelet acts on it.
	hook func(Event)
}

func newFixture(t *testing.T, name string) *fixture {
	t.Helper()
	cfg := controlPlane.Config(t)
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Unique per run: -count=N reuses the control plane.
	ns := fmt.Sprintf("%s-%d", name, nsSeq.Add(1))
	return &fixture{t: t, ns: ns, cfg: cfg, c: c, cs: cs, kl: &kubelet{t: t, c: c}}
}

// options are the defaults the cases deploy with: no service signals (they
// exec into pods), fast polls, a stage timeout no healthy stage comes near.
func (f *fixture) options(set *manifest.Rendered) Options {
	return Options{
		Rendered:     set,
		Target:       target.ForConfig(testEnvName, f.ns, f.cfg),
		StageTimeout: 30 * time.Second,
		PollInterval: 100 * time.Millisecond,
		Signals:      []Signal{},
		Progress: func(ev Event) {
			if f.hook != nil {
				f.hook(ev)
			}
			f.kl.progress(ev)
		},
	}
}

func (f *fixture) deploy(opts Options) (*Result, error) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := Deploy(ctx, opts)
	if res == nil {
		f.t.Fatalf("Deploy returned no result (err %v)", err)
	}
	return res, err
}

// mustDeploy deploys and fails the test unless the release succeeded.
func (f *fixture) mustDeploy(opts Options) *Result {
	f.t.Helper()
	res, err := f.deploy(opts)
	if err != nil || res.Status != ReleaseSucceeded {
		f.t.Fatalf("deploy: status %s, err %v; stages %s", res.Status, err, stageStatuses(res))
	}
	return res
}

// get reads a live object into a typed value; false when it does not exist.
func (f *fixture) get(obj client.Object, name string) bool {
	f.t.Helper()
	err := f.c.Get(context.Background(), client.ObjectKey{Namespace: f.ns, Name: name}, obj)
	if apierrors.IsNotFound(err) {
		return false
	}
	if err != nil {
		f.t.Fatalf("get %T %s: %v", obj, name, err)
	}
	return true
}

func (f *fixture) cluster(obj client.Object, name string) bool {
	f.t.Helper()
	err := f.c.Get(context.Background(), client.ObjectKey{Name: name}, obj)
	if apierrors.IsNotFound(err) {
		return false
	}
	if err != nil {
		f.t.Fatalf("get %T %s: %v", obj, name, err)
	}
	return true
}

func (f *fixture) ref(kind, name string) string { return kind + "/" + f.ns + "/" + name }

// set is a rendered set of typed objects, in the order given (the engine
// stages them itself).
func set(t *testing.T, objs ...runtime.Object) *manifest.Rendered {
	t.Helper()
	r := &manifest.Rendered{Env: testEnvName}
	h := sha256.New()
	for i, o := range objs {
		raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{Object: raw}
		// What a manifest would not carry.
		unstructured.RemoveNestedField(u.Object, "status")
		unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
		unstructured.RemoveNestedField(u.Object, "spec", "template", "metadata", "creationTimestamp")
		js, err := json.Marshal(u.Object)
		if err != nil {
			t.Fatal(err)
		}
		h.Write(js)
		r.Objects = append(r.Objects, &manifest.Object{
			APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Name: u.GetName(), Namespace: u.GetNamespace(),
			Labels: u.GetLabels(), Annotations: u.GetAnnotations(), JSON: js, File: "envtest.yaml", Line: i + 1,
		})
	}
	r.Hash = hex.EncodeToString(h.Sum(nil))
	return r
}

// Object builders: the smallest objects the API server accepts that still
// place themselves in the engine's stages (app.kubernetes.io/name).

func namespaceObj(name string) *corev1.Namespace {
	return &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: name}}
}

func configMapObj(ns, name, version string) *corev1.ConfigMap {
	return &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Data:       map[string]string{"version": version}}
}

func serviceObj(ns, name string) *corev1.Service {
	return &corev1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{serviceLabel: name}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{serviceLabel: name},
			Ports: []corev1.ServicePort{{Name: "tcp", Port: 9000}}}}
}

func pvcObj(ns, name string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
}

func podTemplate(service, image, behaviour string) corev1.PodTemplateSpec {
	tpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{serviceLabel: service}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: service, Image: image}}},
	}
	if behaviour != "" {
		tpl.Annotations = map[string]string{behaviourAnnotation: behaviour}
	}
	return tpl
}

// deploymentObj is named after its service, which places it in a stage.
func deploymentObj(ns, service, image, behaviour string) *appsv1.Deployment {
	return &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: service, Namespace: ns, Labels: map[string]string{serviceLabel: service}},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{serviceLabel: service}},
			Template: podTemplate(service, image, behaviour),
		}}
}

func statefulSetObj(ns, service, image, behaviour string) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: metav1.ObjectMeta{Name: service, Namespace: ns, Labels: map[string]string{serviceLabel: service}},
		Spec: appsv1.StatefulSetSpec{
			ServiceName: service,
			Selector:    &metav1.LabelSelector{MatchLabels: map[string]string{serviceLabel: service}},
			Template:    podTemplate(service, image, behaviour),
		}}
}

func jobObj(ns, name, service, arg string) *batchv1.Job {
	tpl := podTemplate(service, okImage, "")
	tpl.Spec.RestartPolicy = corev1.RestartPolicyNever
	tpl.Spec.Containers[0].Args = []string{arg}
	return &batchv1.Job{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{serviceLabel: service}},
		Spec:       batchv1.JobSpec{Template: tpl}}
}

// kubelet stands in for what envtest lacks (the workload controllers and
// the kubelet), driven by the engine's progress events: for every workload
// the engine reports progressing it creates the pods the controller would
// and writes their status and the workload's, as the template's
// behaviourAnnotation says. The API server still validates every write and
// the engine judges readiness from what it reads back, as on a cluster.
// Like the real StatefulSet controller it replaces a ready pod of an older
// revision but never one that is not ready: a pod stuck on a failed
// revision stays until someone deletes it (the engine's rollback must).
type kubelet struct {
	t *testing.T
	c client.Client
}

var workloadGVK = map[string]schema.GroupVersionKind{
	"Deployment":  appsv1.SchemeGroupVersion.WithKind("Deployment"),
	"StatefulSet": appsv1.SchemeGroupVersion.WithKind("StatefulSet"),
	"Job":         batchv1.SchemeGroupVersion.WithKind("Job"),
}

func (k *kubelet) progress(ev Event) {
	for _, w := range ev.Workloads {
		if w.Status == "progressing" {
			if err := k.settle(w.Object); err != nil {
				k.t.Errorf("kubelet: %s: %v", w.Object, err)
			}
		}
	}
}

func (k *kubelet) settle(ref string) error {
	ctx := context.Background()
	parts := strings.Split(ref, "/")
	if len(parts) != 3 {
		return fmt.Errorf("unexpected ref")
	}
	gvk, ok := workloadGVK[parts[0]]
	if !ok {
		return fmt.Errorf("no stand-in controller for %s", parts[0])
	}
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(gvk)
	if err := k.c.Get(ctx, client.ObjectKey{Namespace: parts[1], Name: parts[2]}, live); err != nil {
		return err
	}
	tpl := corev1.PodTemplateSpec{}
	raw, _, _ := unstructured.NestedMap(live.Object, "spec", "template")
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &tpl); err != nil {
		return err
	}
	behaviour := tpl.Annotations[behaviourAnnotation]
	gen := live.GetGeneration()
	now := metav1.Now()

	if gvk.Kind == "Job" {
		if behaviour != podsReady {
			return nil // never started
		}
		job := &batchv1.Job{}
		if err := k.c.Get(ctx, client.ObjectKeyFromObject(live), job); err != nil {
			return err
		}
		job.Status = batchv1.JobStatus{StartTime: &now, CompletionTime: &now, Succeeded: 1,
			UncountedTerminatedPods: &batchv1.UncountedTerminatedPods{},
			Conditions: []batchv1.JobCondition{
				{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now, LastProbeTime: now},
				{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now, LastProbeTime: now},
			}}
		return k.c.Status().Update(ctx, job)
	}

	replicas := int64(1)
	if v, ok, _ := unstructured.NestedInt64(live.Object, "spec", "replicas"); ok {
		replicas = v
	}
	images := map[string]bool{}
	for _, c := range tpl.Spec.Containers {
		images[c.Image] = true
	}
	var ready int64
	for i := range replicas {
		// A Deployment's pods are new for every template (a new
		// ReplicaSet); a StatefulSet's keep their names.
		name := fmt.Sprintf("%s-%s-g%d-%d", live.GetName(), string(live.GetUID())[:5], gen, i)
		sts := gvk.Kind == "StatefulSet"
		if sts {
			name = fmt.Sprintf("%s-%d", live.GetName(), i)
		}
		pod, err := k.pod(ctx, live.GetNamespace(), name, tpl, behaviour)
		if err != nil {
			return err
		}
		if sts && !ofTemplate(pod, images) && podReady(pod) {
			// The rolling update replaces a ready pod of an older
			// revision; an unready one it leaves alone (Kubernetes'
			// "forced rollback" caveat), which the engine must handle.
			if err := k.c.Delete(ctx, pod); err != nil {
				return err
			}
			if pod, err = k.pod(ctx, live.GetNamespace(), name, tpl, behaviour); err != nil {
				return err
			}
		}
		if podReady(pod) && ofTemplate(pod, images) {
			ready++
		}
	}
	status := map[string]any{
		"observedGeneration": gen, "replicas": replicas, "updatedReplicas": replicas,
		"readyReplicas": ready, "availableReplicas": ready,
	}
	if gvk.Kind == "StatefulSet" {
		status["currentReplicas"] = replicas
		status["currentRevision"] = fmt.Sprintf("%s-%d", live.GetName(), gen)
		status["updateRevision"] = fmt.Sprintf("%s-%d", live.GetName(), gen)
	} else if ready == replicas {
		status["conditions"] = []any{
			map[string]any{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
			map[string]any{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
		}
	}
	if err := unstructured.SetNestedField(live.Object, status, "status"); err != nil {
		return err
	}
	return k.c.Status().Update(ctx, live)
}

// pod returns the named pod, creating it from the template (with the
// status its behaviour calls for) when it does not exist.
func (k *kubelet) pod(ctx context.Context, ns, name string, tpl corev1.PodTemplateSpec, behaviour string) (*corev1.Pod, error) {
	p := &corev1.Pod{}
	err := k.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, p)
	if err == nil || !apierrors.IsNotFound(err) {
		return p, err
	}
	p = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: tpl.Labels, Annotations: tpl.Annotations},
		Spec: *tpl.Spec.DeepCopy()}
	if err := k.c.Create(ctx, p); err != nil {
		return nil, err
	}
	now := metav1.Now()
	ready := corev1.ConditionFalse
	phase := corev1.PodPending
	if behaviour == podsReady {
		ready, phase = corev1.ConditionTrue, corev1.PodRunning
	}
	// The API server set the QoS class at creation; it may not change.
	p.Status = corev1.PodStatus{Phase: phase, QOSClass: p.Status.QOSClass,
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: ready, LastTransitionTime: now}}}
	for _, c := range tpl.Spec.Containers {
		st := corev1.ContainerStatus{Name: c.Name, Image: c.Image, Ready: behaviour == podsReady}
		switch behaviour {
		case podsReady, podsUnready:
			st.State.Running = &corev1.ContainerStateRunning{StartedAt: now}
		case podsCrash:
			st.RestartCount = 5
			st.State.Waiting = &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 2m40s restarting failed container"}
		case podsNoPull:
			st.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "failed to pull image " + c.Image + ": not found"}
		}
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, st)
	}
	if err := k.c.Status().Update(ctx, p); err != nil {
		return nil, fmt.Errorf("pod %s status: %w", name, err)
	}
	return p, nil
}

// stageStatuses is "name=status ..." in stage order.
func stageStatuses(res *Result) string {
	var out []string
	for _, s := range res.Stages {
		out = append(out, s.Name+"="+s.Status)
	}
	return strings.Join(out, " ")
}

// actions maps each changed object of the deploy to its action.
func actions(res *Result) map[string]string {
	out := map[string]string{}
	for _, s := range res.Stages {
		for _, c := range s.Changes {
			out[c.Object] = c.Action
		}
	}
	return out
}

func refs(cs []Change) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Object)
	}
	slices.Sort(out)
	return out
}
