package check

import (
	"encoding/json"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/statex/infrastructure/pipelines/internal/testrepo"
)

func renderedPolicies(t *testing.T) []networkingv1.NetworkPolicy {
	t.Helper()
	var out []networkingv1.NetworkPolicy
	for _, o := range testrepo.OfKind(testrepo.Rendered(t, "kind").Objects, "NetworkPolicy") {
		var p networkingv1.NetworkPolicy
		if err := json.Unmarshal(o.JSON, &p); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// The probes differ only in the client labels the data tier's ingress
// policies admit.
func TestProbesDifferOnlyInClientLabels(t *testing.T) {
	allowed, denied := probeLabels("allowed"), probeLabels("denied")
	for k, v := range denied {
		if k != "statex.io/check-probe" && allowed[k] != v {
			t.Errorf("label %s: allowed %q, denied %q", k, allowed[k], v)
		}
	}
	for k := range allowed {
		if _, ok := denied[k]; !ok && !strings.HasSuffix(k, "-client") {
			t.Errorf("the allowed probe also has %s", k)
		}
	}
}

// The rendered policies give both probes the same egress, so the denied
// probe is stopped by ingress alone. With the old check-probe-egress
// (selecting only the allowed probe) the denied probe's own egress
// default-deny closed every port, and a postgres-ingress admitting every
// pod passed; the check now fails before probing.
func TestProbesShareTheirEgress(t *testing.T) {
	policies := renderedPolicies(t)
	ev, err := sameEgress(policies, probeLabels("allowed"), probeLabels("denied"))
	if err != nil || !strings.Contains(ev, "check-probe-egress") {
		t.Fatalf("rendered kind set: %q, %v", ev, err)
	}
	old := make([]networkingv1.NetworkPolicy, len(policies))
	for i, p := range policies {
		old[i] = *p.DeepCopy()
		if p.Name == "check-probe-egress" {
			old[i].Spec.PodSelector = metav1.LabelSelector{MatchLabels: map[string]string{"statex.io/check-probe": "allowed"}}
		}
	}
	if _, err := sameEgress(old, probeLabels("allowed"), probeLabels("denied")); err == nil || !strings.Contains(err.Error(), "would not prove the ingress policy") {
		t.Errorf("old egress selector: %v, want the check to refuse", err)
	}
}

func TestEgressPoliciesFollowPolicyTypes(t *testing.T) {
	sel := metav1.LabelSelector{}
	policies := []networkingv1.NetworkPolicy{
		{ObjectMeta: metav1.ObjectMeta{Name: "ingress-only"}, Spec: networkingv1.NetworkPolicySpec{PodSelector: sel, PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}},
		// No policyTypes, egress rules: governs egress (API defaulting).
		{ObjectMeta: metav1.ObjectMeta{Name: "implicit"}, Spec: networkingv1.NetworkPolicySpec{PodSelector: sel, Egress: []networkingv1.NetworkPolicyEgressRule{{}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "other-pods"}, Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}, PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}}},
	}
	got, err := egressPolicies(policies, map[string]string{"x": "y"})
	if err != nil || strings.Join(got, ",") != "implicit" {
		t.Errorf("egressPolicies = %v, %v; want [implicit]", got, err)
	}
}
