package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/statex/infrastructure/pipelines/manifest"
	"github.com/statex/infrastructure/pipelines/report"
)

const renderHelp = `Render an environment's manifests with kustomize (in-process, no kubectl).

Output is deterministic: the same sources give byte-identical YAML and the
same content hash, so the hash identifies exactly what would be applied.

Usage:
  statex render [--env ENV] [--output-dir DIR] [--output yaml|json]

Examples:
  statex render --env kind                 # YAML on stdout, hash on stderr
  statex render --env prod --output-dir out/   # writes out/prod.yaml, prints the hash
  statex render --env staging -o json      # summary: env, objects, hash
`

var renderFormats = []string{"yaml", formatJSON}

type renderSummary struct {
	Env     string `json:"env"`
	Overlay string `json:"overlay"`
	Objects int    `json:"objects"`
	Hash    string `json:"hash"`
	File    string `json:"file,omitempty"`
}

func (a *app) renderCommand() *cobra.Command {
	var envName, outDir, format string
	cmd := &cobra.Command{
		Use: "render", Short: "render an environment's manifests with kustomize and print their content hash", Long: renderHelp,
	}
	a.addEnv(cmd, &envName, defaultEnv, "environment to render (see manifests/environments.yaml)")
	cmd.Flags().StringVar(&outDir, "output-dir", "", "write the rendered set to DIR/<env>.yaml instead of stdout")
	_ = cmd.MarkFlagDirname("output-dir")
	addOutput(cmd, &format, "yaml", renderFormats, "yaml: the manifests (a summary line with --output-dir); json: a summary object")
	cmd.RunE = a.verb(func(cmd *cobra.Command, args []string) (int, error) {
		if len(args) > 0 {
			return 0, usagef("takes no arguments, got %q (the environment is --env, e.g. statex render --env kind)", args)
		}
		if err := checkOutput(format, renderFormats); err != nil {
			// -o was render's output directory: say where that went.
			if looksLikeDir(format) {
				return 0, usagef("-o/--output is the output format now (yaml or json): write to a directory with --output-dir %s", format)
			}
			return 0, err
		}
		return a.render(cmd, envName, outDir, format), nil
	})
	return cmd
}

// looksLikeDir: a path, or a directory that exists, not a format name.
func looksLikeDir(v string) bool {
	if strings.ContainsAny(v, `/\`) || strings.HasPrefix(v, ".") || strings.HasPrefix(v, "~") {
		return true
	}
	info, err := os.Stat(v)
	return err == nil && info.IsDir()
}

func (a *app) render(cmd *cobra.Command, envName, outDir, format string) int {
	stdout, stderr := a.stdout, a.stderr
	checkout, err := a.repo()
	if err != nil {
		fmt.Fprintln(stderr, "statex render:", err)
		return exitUsage
	}
	repo, envs := checkout.Root, checkout.Environments
	r, err := manifest.Render(cmd.Context(), repo, envs, envName)
	if err != nil {
		fmt.Fprintln(stderr, "statex render:", err)
		return exitUsage
	}
	sum := renderSummary{Env: r.Env, Overlay: r.Overlay, Objects: len(r.Objects), Hash: r.Hash}
	if outDir != "" {
		if err := os.MkdirAll(outDir, 0o755); err != nil {
			fmt.Fprintf(stderr, "statex render: --output-dir %s: nothing written: %v\n", outDir, err)
			return exitUsage
		}
		sum.File = filepath.Join(outDir, manifest.RenderedFile(r.Env))
		if err := os.WriteFile(sum.File, r.YAML, 0o644); err != nil {
			fmt.Fprintf(stderr, "statex render: --output-dir %s: %v\n", outDir, err)
			return exitUsage
		}
	}
	switch {
	case format == formatJSON:
		if err := report.WriteJSON(stdout, sum); err != nil {
			return exitUsage
		}
	case outDir != "":
		fmt.Fprintf(stdout, "rendered %d objects for %s to %s\n%s\n", sum.Objects, sum.Env, sum.File, sum.Hash)
	default:
		if _, err := stdout.Write(r.YAML); err != nil {
			return exitUsage
		}
		fmt.Fprintf(stderr, "rendered %d objects for %s: %s\n", sum.Objects, sum.Env, sum.Hash)
	}
	return exitOK
}
