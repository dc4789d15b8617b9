package validate

import (
	"fmt"
	"strings"

	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

// Pod Security is judged by the admission plugin's own library
// (k8s.io/pod-security-admission, the version matching k8s.io/api) at the
// levels the set's Namespace objects carry, as the API server of the
// target version would: enforce violations are errors, warn violations
// warnings. The platform's stricter policy rules run on top, whatever the
// namespace says.

// podSecurity is the Pod Security policy of one namespace of the set.
type podSecurity struct {
	policy psaapi.Policy
}

// newPodSecurityEvaluator builds the evaluator for Kubernetes 1.minor:
// "latest" then means that release's checks, not the library's newest.
func newPodSecurityEvaluator(minor int) (policy.Evaluator, error) {
	emulated := psaapi.MajorMinorVersion(1, minor)
	eval, err := policy.NewEvaluator(policy.DefaultChecks(), &emulated)
	if err != nil {
		return nil, fmt.Errorf("pod security checks: %w", err)
	}
	return eval, nil
}

// podSecurityNamespaces reads the pod-security.kubernetes.io labels of the
// set's Namespaces. A namespace the set does not define has levels only
// the cluster knows, so its pods get no Pod Security finding (the policy
// rules still apply). Malformed labels are findings on the Namespace: the
// API server refuses them. Runs before the parallel pass.
func (v *run) podSecurityNamespaces() map[string]*podSecurity {
	// The API server's default admission configuration: privileged:latest.
	defaults := psaapi.Policy{
		Enforce: psaapi.LevelVersion{Level: psaapi.LevelPrivileged, Version: psaapi.LatestVersion()},
		Audit:   psaapi.LevelVersion{Level: psaapi.LevelPrivileged, Version: psaapi.LatestVersion()},
		Warn:    psaapi.LevelVersion{Level: psaapi.LevelPrivileged, Version: psaapi.LatestVersion()},
	}
	out := map[string]*podSecurity{}
	for _, it := range v.items {
		o := it.obj
		if o.Kind != "Namespace" || o.APIVersion != "v1" || o.Name == "" {
			continue
		}
		p, errs := psaapi.PolicyToEvaluate(o.Labels, defaults)
		for _, e := range errs {
			it.add(RulePodSecurity, e.Field, "Namespace %s: %s (the API server refuses the namespace)", o.Name, e.Error())
		}
		out[o.Name] = &podSecurity{policy: p}
	}
	return out
}

// checkPodSecurity evaluates a pod template at its namespace's enforce and
// warn levels.
func (v *run) checkPodSecurity(it *item, p *podTemplate) {
	ns := v.podSecurity[it.ns]
	if ns == nil || v.psa == nil {
		return
	}
	what := fmt.Sprintf("pods of %s %s", it.obj.Kind, it.obj.Name)
	if it.obj.Kind == "Pod" {
		what = "pod " + it.obj.Name
	}
	enforce, warn := ns.policy.Enforce, ns.policy.Warn
	if reason := v.podSecurityViolation(enforce, p); reason != "" {
		it.add(RulePodSecurity, p.path, "%s would be forbidden: violates PodSecurity %q: %s (namespace %s, %s)",
			what, enforce.String(), reason, it.ns, psaapi.EnforceLevelLabel)
	}
	if warn.Equivalent(&enforce) {
		return // the API server does not warn about what it enforces
	}
	if reason := v.podSecurityViolation(warn, p); reason != "" {
		it.add(RulePodSecurityWarn, p.path, "%s would draw a warning: violates PodSecurity %q: %s (namespace %s, %s)",
			what, warn.String(), reason, it.ns, psaapi.WarnLevelLabel)
	}
}

// podSecurityViolation is the admission plugin's forbidden detail for the
// pod at lv, "" when it is allowed.
func (v *run) podSecurityViolation(lv psaapi.LevelVersion, p *podTemplate) string {
	if lv.Level == psaapi.LevelPrivileged || p.meta == nil {
		return ""
	}
	agg := policy.AggregateCheckResults(v.psa.EvaluatePod(lv, p.meta, p.spec))
	if agg.Allowed {
		return ""
	}
	return strings.TrimSpace(agg.ForbiddenDetail())
}
