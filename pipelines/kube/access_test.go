package kube

import "testing"

func TestAccessResolve(t *testing.T) {
	const own = "/home/u/.config/statex/kubeconfig-statex"
	kind := Access{OwnKubeconfig: own}
	staging := Access{TargetContext: "statex-staging"}
	cases := []struct {
		name                string
		a                   Access
		kubeconfig, ctxName string
	}{
		{"kind: its own file", kind, own, ""},
		{"kind --kubeconfig: that file's current context", with(kind, "/k", ""), "/k", ""},
		{"kind --context: kubectl's search", with(kind, "", "kind-statex"), "", "kind-statex"},
		{"kind both", with(kind, "/k", "c"), "/k", "c"},
		{"context target: its context in kubectl's search", staging, "", "statex-staging"},
		{"context target --kubeconfig: its context there", with(staging, "/k", ""), "/k", "statex-staging"},
		{"context target --context wins", with(staging, "", "other"), "", "other"},
	}
	for _, c := range cases {
		kc, ctx := c.a.Resolve()
		if kc != c.kubeconfig || ctx != c.ctxName {
			t.Errorf("%s: (%q, %q), want (%q, %q)", c.name, kc, ctx, c.kubeconfig, c.ctxName)
		}
	}
}

func with(a Access, kubeconfig, context string) Access {
	a.Kubeconfig, a.Context = kubeconfig, context
	return a
}
