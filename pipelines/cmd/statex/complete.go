package main

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/statex/infrastructure/pipelines/check"
	"github.com/statex/infrastructure/pipelines/drill"
)

// Dynamic shell completion (statex completion bash|zsh|fish installs it;
// the shell then calls the hidden "statex __complete …"). Completions
// never fail loudly: a broken environments file completes nothing.

// completeEnvs completes --env from manifests/environments.yaml; after a
// comma (validate's --env prod,staging) it completes the next name.
func (a *app) completeEnvs(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	repo, err := a.repo()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
	}
	envs := repo.Environments
	prefix := ""
	if i := strings.LastIndexByte(toComplete, ','); i >= 0 {
		prefix = toComplete[:i+1]
	}
	var out []cobra.Completion
	for _, e := range envs.Environments {
		out = append(out, cobra.CompletionWithDesc(prefix+e.Name, e.Description))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeNames completes positional names, each once.
func completeNames(names func() []string) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		var out []cobra.Completion
		for _, n := range names() {
			if !slices.Contains(args, n) {
				out = append(out, n)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

var (
	completeServices  = completeNames(check.Services)
	completeScenarios = func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		var out []cobra.Completion
		for _, sc := range drill.Scenarios {
			if !slices.Contains(args, sc.Name) {
				out = append(out, cobra.CompletionWithDesc(sc.Name, sc.Description))
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
)

// completeContexts completes --context from the kubeconfig --kubeconfig
// names, else kubectl's ($KUBECONFIG, ~/.kube/config).
func (a *app) completeContexts(cf *genericclioptions.ConfigFlags) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		raw, err := cf.ToRawKubeConfigLoader().RawConfig()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
		}
		var out []cobra.Completion
		for name := range raw.Contexts {
			out = append(out, name)
		}
		slices.Sort(out)
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
