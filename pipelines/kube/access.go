package kube

// Access is the choice of kubeconfig and context that reaches an
// environment's cluster: kubectl's flags where the user gave them, the
// environment's own defaults underneath. Kept here, not in a door, so the
// CLI, the Dagger module and tests resolve it the same way.
type Access struct {
	// Kubeconfig and Context are --kubeconfig and --context as given; ""
	// when not given.
	Kubeconfig, Context string
	// OwnKubeconfig is the file a kind environment's cluster was written to
	// (statex cluster up); "" for an environment that targets a context.
	OwnKubeconfig string
	// TargetContext is the context an environment targets; "" for kind.
	TargetContext string
}

// Resolve returns the kubeconfig file to load ("" for kubectl's own
// search: $KUBECONFIG, else ~/.kube/config) and the context to use (""
// for that kubeconfig's current context):
//   - --kubeconfig and --context always win;
//   - a kind environment with neither uses its own kubeconfig file; with
//     --context alone, kubectl's search (cluster up merged context
//     kind-<cluster> into it);
//   - a context target uses its context in kubectl's search, or in
//     --kubeconfig.
func (a Access) Resolve() (kubeconfig, context string) {
	kubeconfig, context = a.Kubeconfig, a.Context
	if a.OwnKubeconfig != "" && kubeconfig == "" && context == "" {
		kubeconfig = a.OwnKubeconfig
	}
	if context == "" {
		context = a.TargetContext
	}
	return kubeconfig, context
}
