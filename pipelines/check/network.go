package check

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"

	"github.com/statex/infrastructure/pipelines/service"
	"github.com/statex/infrastructure/pipelines/verdict"
)

// NetworkPolicy: two probe pods inside the namespace try to open the data
// tier's ports. Both have the same egress allowance (check-probe-egress
// selects both); the "allowed" probe also carries the client labels the
// data tier's ingress policies admit, the "denied" one carries none. So a
// port closed to the denied probe is closed by the ingress policy alone: if
// its own egress were denied too, a data-tier policy admitting every pod
// would still read as "closed". Port-forwards bypass policy, so this is the
// only check that runs in the cluster. The probe image is the one the Redis
// pods run (a project image, present on every node; bash's /dev/tcp is the
// client).

// probeTargets are what the probes try, by service.
var probeTargets = []string{"postgres:5432", "redis-headless:6379", "rabbitmq:5672"}

var probeService = map[string]string{"postgres:5432": "PostgreSQL", "redis-headless:6379": "Redis", "rabbitmq:5672": "RabbitMQ"}

// probeLabels are a probe pod's labels: the two differ only in the client
// labels.
func probeLabels(kind string) map[string]string {
	labels := map[string]string{"statex.io/check-probe": kind, "app.kubernetes.io/part-of": "statex", "app.kubernetes.io/component": "check-probe"}
	if kind == "allowed" {
		for _, k := range []string{"statex.io/postgres-client", "statex.io/redis-client", "statex.io/rabbitmq-client"} {
			labels[k] = "true"
		}
	}
	return labels
}

// A new pod's traffic is admitted a moment after it starts (kube-router adds
// its IP to the policy sets, ~1.3 s measured), so each target gets
// ATTEMPTS tries before it counts as closed; targets are probed in parallel.
const probeScript = `sleep 2
probe() {
  h=${1%%:*}; p=${1#*:}; r=closed
  # "closed" must mean the policy, not a name that did not resolve.
  getent hosts "$h" >/dev/null || { echo "$1 unresolved"; return; }
  for i in $(seq 1 "$ATTEMPTS"); do
    if timeout 2 bash -c "</dev/tcp/$h/$p" 2>/dev/null; then r=open; break; fi
    sleep 1
  done
  echo "$1 $r"
}
for t in %s; do probe "$t" & done
wait`

func checkNetworkPolicy(ctx context.Context, e *Env) Result {
	start := time.Now()
	var s verdict.Steps
	c := e.Cluster
	var image string
	var uid int64
	s.Do("find the probe image", func() (string, error) {
		pods, err := c.Pods(ctx, service.RedisService)
		if err != nil {
			return "", err
		}
		for _, p := range pods {
			for _, ct := range p.Spec.Containers {
				if ct.Name == "redis" {
					image = ct.Image
					if sc := p.Spec.SecurityContext; sc != nil && sc.RunAsUser != nil {
						uid = *sc.RunAsUser
					}
				}
			}
		}
		if image == "" || uid == 0 {
			return "", fmt.Errorf("no redis pod to borrow a non-root image from")
		}
		return fmt.Sprintf("%s as uid %d", image, uid), nil
	})
	s.Do("the denied probe has the allowed probe's egress allowance", func() (string, error) {
		list, err := c.CS.NetworkingV1().NetworkPolicies(c.Namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return "", err
		}
		return sameEgress(list.Items, probeLabels("allowed"), probeLabels("denied"))
	})
	names := map[string]string{}
	s.Do("start an allowed and a denied probe pod", func() (string, error) {
		for _, kind := range []string{"allowed", "denied"} {
			name := "statex-probe-" + kind + "-" + strings.ToLower(e.RunID[len(e.RunID)-6:])
			// Both retry through the admission delay (a new pod's traffic
			// is refused for a moment): a denied probe that gave up sooner
			// would miss a port the policy wrongly opens. Refused
			// connections fail at once, so retrying costs seconds.
			if _, err := c.CS.CoreV1().Pods(c.Namespace).Create(ctx, probePod(name, image, uid, probeLabels(kind), 8), metav1.CreateOptions{}); err != nil {
				return "", err
			}
			names[kind] = name
		}
		return names["allowed"] + ", " + names["denied"], nil
	})
	results := map[string]map[string]string{}
	s.Do("probes finish", func() (string, error) {
		for kind, name := range names {
			out, err := c.WaitPodLog(ctx, name, 2*time.Minute)
			if err != nil {
				return "", err
			}
			results[kind] = map[string]string{}
			for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
				if t, r, ok := strings.Cut(l, " "); ok {
					results[kind][t] = r
				}
			}
		}
		return "both probes reported", nil
	})
	s.Test("the allowed client reaches PostgreSQL, Redis and RabbitMQ", func() (string, error) {
		return judgeProbe(results["allowed"], "open")
	})
	s.Test("a pod with the same egress but no client label reaches none of them", func() (string, error) {
		return judgeProbe(results["denied"], "closed")
	})
	s.Always("delete the probe pods", func() (string, error) {
		var gone []string
		for _, name := range names {
			if err := c.CS.CoreV1().Pods(c.Namespace).Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return "", err
			}
			gone = append(gone, name)
		}
		return fmt.Sprintf("%d deleted", len(gone)), nil
	})
	return finish("networkpolicy", &s, start)
}

// sameEgress wants both label sets selected by the same egress policies:
// then the destinations each may reach are the same, and only ingress
// policies can tell the probes apart.
func sameEgress(policies []networkingv1.NetworkPolicy, allowed, denied map[string]string) (string, error) {
	a, err := egressPolicies(policies, allowed)
	if err != nil {
		return "", err
	}
	d, err := egressPolicies(policies, denied)
	if err != nil {
		return "", err
	}
	ev := "egress policies of both probes: " + strings.Join(a, ", ")
	if !slices.Equal(a, d) {
		return "", fmt.Errorf("the allowed probe's egress is %v, the denied probe's %v: a closed port would not prove the ingress policy", a, d)
	}
	return ev, nil
}

// egressPolicies names the policies that govern the egress of a pod with
// labels, sorted. A policy without policyTypes governs egress when it has
// egress rules (the API's defaulting).
func egressPolicies(policies []networkingv1.NetworkPolicy, labels map[string]string) ([]string, error) {
	var out []string
	for _, p := range policies {
		egress := len(p.Spec.PolicyTypes) == 0 && len(p.Spec.Egress) > 0
		if slices.Contains(p.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
			egress = true
		}
		if !egress {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
		if err != nil {
			return nil, fmt.Errorf("NetworkPolicy %s: %w", p.Name, err)
		}
		if sel.Matches(k8slabels.Set(labels)) {
			out = append(out, p.Name)
		}
	}
	slices.Sort(out)
	return out, nil
}

func judgeProbe(got map[string]string, want string) (string, error) {
	var ev, bad []string
	for _, t := range probeTargets {
		ev = append(ev, t+" "+got[t])
		if got[t] != want {
			bad = append(bad, probeService[t]+" ("+t+") "+cmp.Or(got[t], "no answer"))
		}
	}
	if len(bad) > 0 {
		return strings.Join(ev, ", "), fmt.Errorf("want %s: %s", want, strings.Join(bad, ", "))
	}
	return strings.Join(ev, ", "), nil
}

func probePod(name, image string, uid int64, labels map[string]string, attempts int) *corev1.Pod {
	no, yes := false, true
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: corev1.PodSpec{
			RestartPolicy:                corev1.RestartPolicyNever,
			AutomountServiceAccountToken: &no,
			SecurityContext: &corev1.PodSecurityContext{RunAsUser: &uid, RunAsGroup: &uid, RunAsNonRoot: &yes,
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			Containers: []corev1.Container{{
				Name: "probe", Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
				Command: []string{"bash", "-c", fmt.Sprintf(probeScript, strings.Join(probeTargets, " "))},
				Env:     []corev1.EnvVar{{Name: "ATTEMPTS", Value: fmt.Sprint(attempts)}},
				SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &no, ReadOnlyRootFilesystem: &yes,
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: mustQuantity("10m"), corev1.ResourceMemory: mustQuantity("16Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceCPU: mustQuantity("200m"), corev1.ResourceMemory: mustQuantity("64Mi")},
				},
			}},
		},
	}
}

func mustQuantity(s string) resource.Quantity { return resource.MustParse(s) }
