package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/statex/infrastructure/pipelines/cluster"
	"github.com/statex/infrastructure/pipelines/kube"
	"github.com/statex/infrastructure/pipelines/manifest"
)

// Defaults every verb shares, so one flag means one thing everywhere.
const (
	// defaultEnv is the environment of every verb that acts on one: the
	// local kind cluster, the only one safe to touch unnamed.
	defaultEnv = "kind"
	// The report formats of the verbs with a PASS/FAIL report.
	formatText, formatJSON, formatMarkdown = "text", "json", "markdown"
)

// reportFormats are what deploy, check, drill and up print.
var reportFormats = []string{formatText, formatJSON, formatMarkdown}

// Timeouts: how long one unit of each verb's work may take, the same
// whichever verb runs it (up runs check with checkTimeout).
const (
	checkTimeout   = 3 * time.Minute  // one service's check
	drillTimeout   = 5 * time.Minute  // one scenario's wait for writes and recovery
	stageTimeout   = 10 * time.Minute // one deploy stage becoming ready
	clusterTimeout = 5 * time.Minute  // the kind cluster becoming ready
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

// restConfig is the REST config of an environment's cluster: kube.Access
// decides which kubeconfig and context; cli-runtime loads them with
// --cluster and --user applied. Every client built from it reports the API
// server's warnings to a.warnings.
func (a *app) restConfig(cf *genericclioptions.ConfigFlags, env *manifest.Environment) (*rest.Config, error) {
	access := kube.Access{Kubeconfig: *cf.KubeConfig, Context: *cf.Context, TargetContext: env.Target.Context}
	if env.Target.Kind != nil {
		access.OwnKubeconfig = cluster.DefaultKubeconfig(env.Target.Kind.Cluster)
	}
	kubeconfig, context := access.Resolve()
	if kubeconfig != "" && kubeconfig == access.OwnKubeconfig {
		if _, err := os.Stat(kubeconfig); err != nil {
			return nil, fmt.Errorf("environment %s: no kubeconfig at %s: run 'statex cluster up --env %s' (or 'statex up --env %s'), or name a context with --context", env.Name, kubeconfig, env.Name, env.Name)
		}
	}
	// New flags, not the parsed ones changed: those keep what was typed.
	load := &genericclioptions.ConfigFlags{KubeConfig: &kubeconfig, Context: &context, ClusterName: cf.ClusterName, AuthInfoName: cf.AuthInfoName}
	cfg, err := load.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("environment %s: kubeconfig: %w", env.Name, err)
	}
	cfg.WarningHandlerWithContext = a.warnings
	return cfg, nil
}

// loadRepo finds the repository root (--root, $STATEX_ROOT, else upwards
// from the working directory) and reads its environments file.
func (a *app) loadRepo() (string, *manifest.Environments, error) {
	root := a.root
	if root == "" {
		if env := os.Getenv("STATEX_ROOT"); env != "" {
			root = env
		} else {
			var err error
			if root, err = manifest.FindRoot("."); err != nil {
				return "", nil, err
			}
		}
	}
	envs, err := manifest.LoadEnvironments(filepath.Join(root, manifest.EnvironmentsFile))
	if err != nil {
		return "", nil, err
	}
	return root, envs, nil
}
