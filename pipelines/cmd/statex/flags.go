package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/utils/ptr"

	"github.com/statex/infrastructure/pipelines/check"
	"github.com/statex/infrastructure/pipelines/cluster"
	"github.com/statex/infrastructure/pipelines/deploy"
	"github.com/statex/infrastructure/pipelines/drill"
	"github.com/statex/infrastructure/pipelines/report"
	"github.com/statex/infrastructure/pipelines/target"
)

// Defaults every verb shares, so one flag means one thing everywhere.
const (
	// defaultEnv is the environment of every verb that acts on one: the
	// local kind cluster, the only one safe to touch unnamed.
	defaultEnv = "kind"
	// The report formats of the verbs with a PASS/FAIL report.
	formatText, formatJSON, formatMarkdown = report.Text, report.JSON, report.Markdown
)

// reportFormats are what deploy, check, drill and up print.
var reportFormats = report.Formats

// Timeouts: how long one unit of each verb's work may take, the same
// whichever verb runs it (up runs check with checkTimeout), and the same
// as the packages' own defaults.
const (
	checkTimeout   = check.DefaultTimeout        // one service's check
	drillTimeout   = drill.DefaultTimeout        // one scenario's wait for writes and recovery
	stageTimeout   = deploy.DefaultStageTimeout  // one deploy stage becoming ready
	clusterTimeout = cluster.DefaultReadyTimeout // the kind cluster becoming ready
)

// addEnv registers --env with completion of the environments file's names.
func (a *app) addEnv(cmd *cobra.Command, p *string, def, usage string) {
	cmd.Flags().StringVar(p, "env", def, usage)
	_ = cmd.RegisterFlagCompletionFunc("env", a.completeEnvs)
}

// addOutput registers -o/--output, the format of what goes to stdout.
func addOutput(cmd *cobra.Command, p *string, def string, formats []string, what string) {
	cmd.Flags().StringVarP(p, "output", "o", def, fmt.Sprintf("%s: %s", what, orList(formats)))
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(formats, cobra.ShellCompDirectiveNoFileComp))
}

// checkOutput rejects a format the verb does not print.
func checkOutput(format string, formats []string) error {
	if slices.Contains(formats, format) {
		return nil
	}
	return usagef("--output %q: want %s", format, orList(formats))
}

func orList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// addKubeFlags registers kubectl's kubeconfig flags (cli-runtime's): the
// ones that choose a cluster and a user. Left out: --namespace (the
// namespace is the environment's, rendered into its manifests), and the
// credential and server overrides, which belong in a kubeconfig.
func (a *app) addKubeFlags(cmd *cobra.Command) *genericclioptions.ConfigFlags {
	cf := &genericclioptions.ConfigFlags{
		KubeConfig:   ptr.To(""),
		Context:      ptr.To(""),
		ClusterName:  ptr.To(""),
		AuthInfoName: ptr.To(""),
	}
	cf.AddFlags(cmd.Flags())
	fl := cmd.Flags()
	fl.Lookup("kubeconfig").Usage = "kubeconfig file (default: a kind environment's own, written by cluster up; else $KUBECONFIG, else ~/.kube/config)"
	fl.Lookup("context").Usage = "kubeconfig context (default: the environment's target context; for kind, kind-<cluster> in $KUBECONFIG once given)"
	_ = cmd.RegisterFlagCompletionFunc("context", a.completeContexts(cf))
	return cf
}

// resolve resolves the environment named with kubectl's flags: the one
// target the verb hands down. Every client built from its REST config
// reports the API server's warnings to a.warnings.
func (a *app) resolve(envName string, cf *genericclioptions.ConfigFlags) (*target.Target, error) {
	repo, err := a.repo()
	if err != nil {
		return nil, err
	}
	k := target.Kubectl{Warnings: a.warnings}
	if cf != nil {
		k.Kubeconfig, k.Context, k.Cluster, k.User = ptr.Deref(cf.KubeConfig, ""), ptr.Deref(cf.Context, ""), ptr.Deref(cf.ClusterName, ""), ptr.Deref(cf.AuthInfoName, "")
	}
	return repo.Resolve(envName, k)
}

// repo is the repository --root names (else $STATEX_ROOT, else the one
// around the working directory).
func (a *app) repo() (*target.Repo, error) { return target.Open(a.root) }
