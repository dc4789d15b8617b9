package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/statex/infrastructure/pipelines/manifest"
	"github.com/statex/infrastructure/pipelines/report"
	"github.com/statex/infrastructure/pipelines/validate"
)

const validateHelp = `Validate manifests offline in one pass over three layers:
  schema  strict decoding against the Kubernetes types of the target version
          (unknown fields, wrong types, names, removed APIs, object rules)
  policy  hardening and availability standards (probes, resources, security
          context, pinned images, PDBs, spreading, NetworkPolicy coverage,
          no committed credentials)
  xref    references between objects (selectors, ports, ConfigMaps, Secrets,
          ServiceAccounts, PVCs, headless Services, RBAC, duplicates)

Every finding names the rule, the object and the source file and line.
Silence a rule on one object with an annotation that says why:
  ignore-check.statex.io/<rule-id>: "<reason>"

Usage:
  statex validate [--env ENV[,ENV…] | PATH…] [--output FORMAT] [--junit FILE] [--sarif FILE]
  statex validate --list-rules

With neither --env nor PATHs, every environment is validated.

Examples:
  statex validate                          # all environments
  statex validate --env prod --output json
  statex validate manifests/base/postgres  # plain files, no kustomize
  statex validate --env kind --sarif out/validate.sarif --junit out/validate.xml

In GitHub Actions (GITHUB_ACTIONS=true) findings also become annotations on
the pull request, written to stderr so stdout stays the report: one per
finding across environments, errors first, at most 10 errors and 10
warnings (what GitHub shows for a step) and a notice counting the rest. A
step summary is appended to $GITHUB_STEP_SUMMARY when it is set. Disable
both with --github=false.

Exit codes: 0 no errors (warnings allowed), 1 error findings, 2 usage or input errors.
`

func runValidate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("validate", validateHelp, stderr)
	envFlag := fs.String("env", "", "environment(s) to render and validate, comma-separated, or 'all'")
	format := fs.String("output", "text", "stdout format: text, json, sarif, junit or markdown")
	junitFile := fs.String("junit", "", "also write a JUnit XML report to FILE")
	sarifFile := fs.String("sarif", "", "also write a SARIF 2.1.0 report to FILE")
	kubeVersion := fs.String("kubernetes-version", "", "target Kubernetes version for PATH mode (default: environments file, else "+validate.DefaultKubernetesVersion+")")
	listRules := fs.Bool("list-rules", false, "print the rule catalog (with --output json for machines)")
	gh := fs.Bool("github", os.Getenv("GITHUB_ACTIONS") == "true", "emit GitHub Actions annotations and a step summary")
	root := fs.String("root", "", "repository root (default: found from the working directory)")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	switch *format {
	case "text", "json", "sarif", "junit", "markdown":
	default:
		fmt.Fprintf(stderr, "statex validate: --output %q: want text, json, sarif, junit or markdown\n", *format)
		return exitUsage
	}
	if *listRules {
		return printRules(stdout, *format)
	}
	if *envFlag != "" && fs.NArg() > 0 {
		fmt.Fprintln(stderr, "statex validate: give --env or PATHs, not both")
		return exitUsage
	}

	var reps []*validate.Report
	if fs.NArg() > 0 {
		repo := *root
		if repo == "" {
			repo, _ = manifest.FindRoot(".") // optional in PATH mode: it only adds generated secrets
		}
		rep, err := validate.Paths(ctx, repo, fs.Args(), *kubeVersion)
		if err != nil {
			fmt.Fprintln(stderr, "statex validate:", err)
			return exitUsage
		}
		reps = append(reps, rep)
	} else {
		repo, envs, err := loadRepo(*root)
		if err != nil {
			fmt.Fprintln(stderr, "statex validate:", err)
			return exitUsage
		}
		names := strings.Split(*envFlag, ",")
		if *envFlag == "" || *envFlag == "all" {
			names = names[:0]
			for _, e := range envs.Environments {
				names = append(names, e.Name)
			}
		}
		for _, name := range names {
			rep, _, err := validate.Environment(ctx, repo, envs, strings.TrimSpace(name))
			if err != nil {
				fmt.Fprintln(stderr, "statex validate:", err)
				return exitUsage
			}
			reps = append(reps, rep)
		}
	}

	if err := writeValidateReports(stdout, *format, reps); err != nil {
		fmt.Fprintln(stderr, "statex validate:", err)
		return exitUsage
	}
	files := []struct {
		path  string
		write func(io.Writer, []*validate.Report) error
	}{
		{*junitFile, report.ValidateJUnit},
		{*sarifFile, validateSARIF},
	}
	for _, f := range files {
		if f.path == "" {
			continue
		}
		if err := writeFile(f.path, func(w io.Writer) error { return f.write(w, reps) }); err != nil {
			fmt.Fprintln(stderr, "statex validate:", err)
			return exitUsage
		}
	}
	if *gh {
		// Annotations on stderr: the runner reads workflow commands there
		// too, and stdout may be a JSON, JUnit or SARIF report.
		if err := report.ValidateAnnotations(stderr, reps); err != nil {
			fmt.Fprintln(stderr, "statex validate: annotations:", err)
		}
		var md strings.Builder
		for _, rep := range reps {
			md.WriteString(report.ValidateMarkdown(rep) + "\n")
		}
		stepSummary("validate", md.String(), stderr)
	}
	for _, rep := range reps {
		if rep.Failed() {
			return exitFindings
		}
	}
	return exitOK
}

// validateSARIF names this build as the SARIF driver's version: the one
// set at link time, else what the Go build recorded.
func validateSARIF(w io.Writer, reps []*validate.Report) error {
	v := version
	if v == "dev" {
		v = report.BuildVersion()
	}
	return report.ValidateSARIF(w, reps, v)
}

func writeValidateReports(w io.Writer, format string, reps []*validate.Report) error {
	switch format {
	case "json":
		if len(reps) == 1 {
			return report.WriteJSON(w, reps[0])
		}
		return report.WriteJSON(w, reps)
	case "sarif":
		return validateSARIF(w, reps)
	case "junit":
		return report.ValidateJUnit(w, reps)
	case "markdown":
		for _, rep := range reps {
			if _, err := io.WriteString(w, report.ValidateMarkdown(rep)+"\n"); err != nil {
				return err
			}
		}
		return nil
	}
	st := report.Style{Color: isTerminal(w)}
	for _, rep := range reps {
		if err := report.ValidateText(w, rep, st); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

func printRules(w io.Writer, format string) int {
	if format == "json" {
		if report.WriteJSON(w, validate.Rules) != nil {
			return exitUsage
		}
		return exitOK
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tLAYER\tSEVERITY\tCHECKS")
	for _, r := range validate.Rules {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.ID, r.Layer, r.Severity, r.Summary)
	}
	tw.Flush()
	return exitOK
}
