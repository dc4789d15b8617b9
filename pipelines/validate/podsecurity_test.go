package validate

import (
	"context"
	"strings"
	"testing"

	"github.com/statex/infrastructure/pipelines/manifest"
)

// findingsOf validates a YAML stream with the test options.
func findingsOf(t *testing.T, opts Options, docs ...string) []Finding {
	t.Helper()
	objs, errs := manifest.ParseDocuments("case.yaml", []byte(strings.Join(docs, "\n---\n")))
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	rep, err := Validate(context.Background(), &manifest.Set{Objects: objs}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep.Findings
}

func namespace(labels string) string {
	return "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n  labels:\n" + labels
}

const privilegedPod = `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: demo}
spec:
  containers:
    - name: app
      image: registry.example.com/app:1.0
      securityContext: {privileged: true}
`

func byRule(fs []Finding, rule string) []Finding {
	var out []Finding
	for _, f := range fs {
		if f.Rule == rule {
			out = append(out, f)
		}
	}
	return out
}

// The namespace's own labels decide: the same privileged pod is forbidden
// under restricted, warned about under a privileged enforce with a
// baseline warn, and not judged by Pod Security at all under privileged —
// while the platform's own rule flags it every time.
func TestPodSecurityFollowsTheNamespaceLevels(t *testing.T) {
	for name, c := range map[string]struct {
		labels string
		rule   string   // "": no Pod Security finding
		reason []string // what the message must contain
	}{
		"restricted enforced": {
			labels: "    pod-security.kubernetes.io/enforce: restricted\n    pod-security.kubernetes.io/enforce-version: v1.34\n",
			rule:   RulePodSecurity,
			reason: []string{`pod web would be forbidden: violates PodSecurity "restricted:v1.34": `, `privileged (container "app" must not set securityContext.privileged=true)`, "runAsNonRoot != true"},
		},
		"baseline warned": {
			labels: "    pod-security.kubernetes.io/enforce: privileged\n    pod-security.kubernetes.io/warn: baseline\n",
			rule:   RulePodSecurityWarn,
			reason: []string{`pod web would draw a warning: violates PodSecurity "baseline:latest": privileged (container "app" must not set securityContext.privileged=true) (namespace demo, pod-security.kubernetes.io/warn)`},
		},
		"privileged": {labels: "    pod-security.kubernetes.io/enforce: privileged\n"},
		// Enforce given alone also sets warn; the server warns once, not twice.
		"baseline enforced only": {
			labels: "    pod-security.kubernetes.io/enforce: baseline\n",
			rule:   RulePodSecurity,
			reason: []string{`pod web would be forbidden: violates PodSecurity "baseline:latest": privileged (`},
		},
	} {
		t.Run(name, func(t *testing.T) {
			fs := findingsOf(t, testOptions, namespace(c.labels), privilegedPod)
			if len(byRule(fs, RulePrivileged)) != 1 {
				t.Errorf("the platform's privileged rule did not fire: %+v", fs)
			}
			psa := append(byRule(fs, RulePodSecurity), byRule(fs, RulePodSecurityWarn)...)
			if c.rule == "" {
				if len(psa) != 0 {
					t.Errorf("privileged namespace judged by Pod Security: %+v", psa)
				}
				return
			}
			if len(psa) != 1 || psa[0].Rule != c.rule {
				t.Fatalf("want one %s, got %+v", c.rule, psa)
			}
			for _, want := range c.reason {
				if !strings.Contains(psa[0].Message, want) {
					t.Errorf("message %q lacks %q", psa[0].Message, want)
				}
			}
			lines := strings.Split(namespace(c.labels)+"\n---\n"+privilegedPod, "\n")
			if l := psa[0].Line; psa[0].Path != "spec" || l < 1 || l > len(lines) || lines[l-1] != "spec:" {
				t.Errorf("finding at line %d path %q, want the pod's spec: line", l, psa[0].Path)
			}
		})
	}
}

// A namespace the set does not define has levels only the cluster knows:
// no Pod Security verdict is invented for it.
func TestPodSecurityNeedsTheNamespaceInTheSet(t *testing.T) {
	fs := findingsOf(t, testOptions, privilegedPod)
	if psa := append(byRule(fs, RulePodSecurity), byRule(fs, RulePodSecurityWarn)...); len(psa) != 0 {
		t.Errorf("Pod Security judged without the Namespace: %+v", psa)
	}
}

// Lifecycles come from k8s.io/api: the message names the release and the
// replacement the type declares.
func TestAPILifecycleFromKubernetesTypes(t *testing.T) {
	for name, c := range map[string]struct {
		doc, version, rule, want string
	}{
		"removed": {"apiVersion: batch/v1beta1\nkind: CronJob\nmetadata: {name: x, namespace: demo}\n", "1.34",
			RuleAPIVersionRemoved, "batch/v1beta1 CronJob is not served by Kubernetes 1.34 (removed in 1.25); use batch/v1 CronJob"},
		"not yet removed at an older target": {"apiVersion: batch/v1beta1\nkind: CronJob\nmetadata: {name: x, namespace: demo}\nspec: {schedule: '@daily', jobTemplate: {spec: {template: {spec: {containers: []}}}}}\n", "1.24",
			RuleAPIVersionDeprecated, "batch/v1beta1 CronJob is deprecated since Kubernetes 1.21 and goes away in 1.25; use batch/v1 CronJob"},
		"deprecated": {"apiVersion: storage.k8s.io/v1beta1\nkind: VolumeAttributesClass\nmetadata: {name: x}\ndriverName: d\n", "1.34",
			RuleAPIVersionDeprecated, "use storage.k8s.io/v1 VolumeAttributesClass"},
		"gone from k8s.io/api": {"apiVersion: autoscaling/v2beta2\nkind: HorizontalPodAutoscaler\nmetadata: {name: x, namespace: demo}\n", "1.34",
			RuleAPIVersionRemoved, "use autoscaling/v2 HorizontalPodAutoscaler"},
		"kind gone everywhere": {"apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: x}\n", "1.34",
			RuleAPIVersionRemoved, "no version of policy (policy/v1, policy/v1beta1) has kind PodSecurityPolicy"},
		"introduced later": {"apiVersion: admissionregistration.k8s.io/v1\nkind: MutatingAdmissionPolicy\nmetadata: {name: x}\n", "1.34",
			RuleAPIVersionRemoved, "(introduced in 1.36); use admissionregistration.k8s.io/v1beta1 MutatingAdmissionPolicy"},
		"outside k8s.io/api": {"apiVersion: apiextensions.k8s.io/v1beta1\nkind: CustomResourceDefinition\nmetadata: {name: x}\n", "1.34",
			RuleAPIVersionRemoved, "use apiextensions.k8s.io/v1"},
	} {
		t.Run(name, func(t *testing.T) {
			opts := testOptions
			opts.KubernetesVersion = c.version
			found := byRule(findingsOf(t, opts, c.doc), c.rule)
			if len(found) != 1 || !strings.Contains(found[0].Message, c.want) {
				t.Fatalf("want one %s containing %q, got %+v", c.rule, c.want, found)
			}
		})
	}
	// A stable, current type draws neither.
	fs := findingsOf(t, testOptions, "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: x, namespace: demo}\nspec: {schedule: '@daily', jobTemplate: {spec: {template: {spec: {containers: []}}}}}\n")
	if n := len(byRule(fs, RuleAPIVersionRemoved)) + len(byRule(fs, RuleAPIVersionDeprecated)); n != 0 {
		t.Errorf("batch/v1 CronJob judged removed or deprecated: %+v", fs)
	}
}
