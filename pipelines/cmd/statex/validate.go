package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

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
  statex validate [--env ENV[,ENV…] | PATH…] [--output FORMAT] [--summary]
                  [--include RULES] [--exclude RULES] [--exclude-path GLOB]…
                  [--junit FILE] [--sarif FILE]
  statex validate --list-rules [--include RULES] [--exclude RULES]

With neither --env nor PATHs, every environment is validated.

PATHs are what kubectl apply -f takes:
  -                 standard input (reported as <stdin>, with its lines)
  FILE              YAML (documents separated by ---, kind: List expanded)
                    or JSON (objects one after another), whatever its name
  DIR               every .yaml, .yml and .json file below it (hidden
                    directories left out); a directory inside it that holds
                    a kustomization is an error, not read: validate it on
                    its own or exclude it
  DIR with a kustomization.yaml (.yml, Kustomization)
                    rendered with kustomize in-process; findings point at
                    the source files
  'GLOB'            expanded when no such file exists
Every document must be a Kubernetes object: a config file, a test fixture or
a kustomization read as a plain file is an error naming its file and line.
Leave such files out with --exclude-path GLOB (repeatable; "**" spans
directories; a GLOB without "/" matches a file or directory name anywhere;
a path is tried as found and relative to the PATH it was found under).

Choose rules with --include and --exclude: comma-separated rule IDs, layers
(schema, policy, xref) or globs over "layer/id" ('policy/*', 'pdb-*'), as
--list-rules shows them; --exclude wins. A pattern that matches no rule is
an error; yaml-syntax always runs. Excluded rules are named on stderr and in the JSON
report (excludedRules), and JUnit lists them as skipped.

--summary prints counts per rule and severity instead of every finding
(text or json); --junit and --sarif files still carry every finding.

Examples:
  statex validate                          # all environments
  statex validate --env prod --output json
  statex validate manifests/base/postgres  # a kustomization: rendered
  kustomize build overlays/prod | statex validate -
  statex validate pipelines/validate/testdata/kubectl/plain --exclude-path config --exclude-path nested
  statex validate --env prod --include schema,xref,policy/image-tag
  statex validate --exclude image-digest,read-only-root-filesystem --summary
  statex validate --env kind --sarif validate.sarif --junit validate.xml

In GitHub Actions (GITHUB_ACTIONS=true) findings also become annotations on
the pull request, written to stderr so stdout stays the report: one per
finding across environments, errors first, at most 10 errors and 10
warnings (what GitHub shows for a step) and a notice counting the rest. A
step summary is appended to $GITHUB_STEP_SUMMARY when it is set. Disable
both with --github=false.

A report file that cannot be written (--junit, --sarif) fails the run
before anything is printed on stdout: exit 2, no verdict.

Exit codes: 0 no errors (warnings allowed), 1 error findings, 2 usage or input errors.
`

var validateFormats = []string{formatText, formatJSON, "sarif", "junit", formatMarkdown}

func (a *app) validateCommand() *cobra.Command {
	var (
		envFlag, format, junitFile, sarifFile, kubeVersion string
		listRules, summary, gh                             bool
		sel                                                validate.RuleSelection
		excludePaths                                       []string
	)
	cmd := &cobra.Command{
		Use: "validate", Short: "validate manifests offline: schema, policy and cross-references", Long: validateHelp,
	}
	fl := cmd.Flags()
	a.addEnv(cmd, &envFlag, "", "environment(s) to render and validate, comma-separated, or 'all' (default: all)")
	addOutput(cmd, &format, formatText, validateFormats, "stdout format")
	fl.StringVar(&junitFile, "junit", "", "also write a JUnit XML report to FILE")
	fl.StringVar(&sarifFile, "sarif", "", "also write a SARIF 2.1.0 report to FILE")
	fl.StringVar(&kubeVersion, "kubernetes-version", "", "target Kubernetes version for PATH mode (default: environments file, else "+validate.DefaultKubernetesVersion+")")
	fl.BoolVar(&listRules, "list-rules", false, "print the rule catalog (with --output json for machines)")
	fl.BoolVar(&summary, "summary", false, "print counts per rule and severity instead of every finding (text or json)")
	fl.StringSliceVar(&sel.Include, "include", nil, "check only these rules: IDs, layers or globs, comma-separated (repeatable)")
	fl.StringSliceVar(&sel.Exclude, "exclude", nil, "do not check these rules: IDs, layers or globs, comma-separated (repeatable)")
	fl.StringArrayVar(&excludePaths, "exclude-path", nil, "PATH mode: do not read files or directories matching GLOB (repeatable)")
	fl.BoolVar(&gh, "github", os.Getenv("GITHUB_ACTIONS") == "true", "emit GitHub Actions annotations and a step summary")
	ruleIDs := func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		var out []cobra.Completion
		for _, r := range validate.Rules {
			out = append(out, cobra.CompletionWithDesc(r.ID, r.Summary))
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
	_ = cmd.RegisterFlagCompletionFunc("include", ruleIDs)
	_ = cmd.RegisterFlagCompletionFunc("exclude", ruleIDs)
	cmd.RunE = a.verb(func(cmd *cobra.Command, args []string) (int, error) {
		if err := checkOutput(format, validateFormats); err != nil {
			return 0, err
		}
		if summary && format != formatText && format != formatJSON {
			return 0, usagef("--summary prints text or json, not %s (--junit and --sarif files carry every finding)", format)
		}
		excludedRules, err := sel.Excluded()
		if err != nil {
			return 0, usagef("--%v", err)
		}
		if listRules {
			return printRules(a.stdout, format, excludedRules), nil
		}
		if envFlag != "" && len(args) > 0 {
			return 0, usagef("give --env or PATHs, not both")
		}
		if len(excludePaths) > 0 && len(args) == 0 {
			return 0, usagef("--exclude-path applies to PATHs; an environment renders exactly what its kustomization lists")
		}
		return a.validate(cmd.Context(), args, envFlag, format, junitFile, sarifFile, kubeVersion, summary, gh, excludedRules, excludePaths), nil
	})
	return cmd
}

func (a *app) validate(ctx context.Context, paths []string, envFlag, format, junitFile, sarifFile, kubeVersion string, summary, gh bool, excludedRules, excludePaths []string) int {
	stdout, stderr := a.stdout, a.stderr
	var reps []*validate.Report
	if len(paths) > 0 {
		repo := a.root
		if repo == "" {
			repo, _ = manifest.FindRoot(".") // optional in PATH mode: it only adds generated secrets
		}
		if slices.Contains(paths, "-") && isTerminal(os.Stdin) {
			fmt.Fprintln(stderr, "statex validate: reading manifests from standard input (end with Ctrl-D)")
		}
		rep, err := validate.Paths(ctx, repo, paths, validate.PathOptions{
			LoadOptions:       manifest.LoadOptions{Stdin: os.Stdin, ExcludePaths: excludePaths},
			KubernetesVersion: kubeVersion,
		})
		if err != nil {
			fmt.Fprintln(stderr, "statex validate:", err)
			return exitUsage
		}
		reps = append(reps, rep)
	} else {
		checkout, err := a.repo()
		if err != nil {
			fmt.Fprintln(stderr, "statex validate:", err)
			return exitUsage
		}
		repo, envs := checkout.Root, checkout.Environments
		names := strings.Split(envFlag, ",")
		if envFlag == "" || envFlag == "all" {
			names = names[:0]
			for _, e := range envs.Environments {
				names = append(names, e.Name)
			}
		}
		for i := range names {
			names[i] = strings.TrimSpace(names[i])
		}
		envReps, _, err := validate.Environments(ctx, repo, envs, names) // rendered in parallel
		if err != nil {
			fmt.Fprintln(stderr, "statex validate:", err)
			return exitUsage
		}
		reps = append(reps, envReps...)
	}
	for _, rep := range reps {
		rep.Select(excludedRules)
	}

	// Report files first: one that cannot be written fails the run before
	// stdout shows a verdict a CI step could take for success.
	files := []struct {
		flag, path string
		write      func(io.Writer, []*validate.Report) error
	}{
		{"junit", junitFile, report.ValidateJUnit},
		{"sarif", sarifFile, validateSARIF},
	}
	for _, f := range files {
		if f.path == "" {
			continue
		}
		if err := writeFile(f.path, func(w io.Writer) error { return f.write(w, reps) }); err != nil {
			fmt.Fprintf(stderr, "statex validate: --%s: cannot write the report: %v (nothing else was reported)\n", f.flag, err)
			return exitUsage
		}
	}
	validateNotes(stderr, reps, excludedRules)
	var err error
	if summary {
		err = writeValidateSummary(stdout, format, reps)
	} else {
		err = writeValidateReports(stdout, format, reps)
	}
	if err != nil {
		fmt.Fprintln(stderr, "statex validate:", err)
		return exitUsage
	}
	if gh {
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

// validateNotes says on stderr what the run did not look at, and what it
// rendered, so a pass never hides an exclusion.
func validateNotes(w io.Writer, reps []*validate.Report, excludedRules []string) {
	if len(excludedRules) > 0 {
		fmt.Fprintf(w, "statex validate: %d rule(s) not checked (--include/--exclude): %s\n", len(excludedRules), strings.Join(excludedRules, ", "))
	}
	for _, rep := range reps {
		for _, k := range rep.Kustomizations {
			fmt.Fprintf(w, "statex validate: %s holds a kustomization: validated what kustomize renders from it\n", k)
		}
		if n := len(rep.ExcludedPaths); n > 0 {
			fmt.Fprintf(w, "statex validate: %d path(s) not read (--exclude-path): %s\n", n, strings.Join(rep.ExcludedPaths, ", "))
		}
	}
}

// writeValidateSummary prints counts per rule: a table per report in
// text, Summary values in JSON (one, or a list for several reports, as
// the full JSON report does).
func writeValidateSummary(w io.Writer, format string, reps []*validate.Report) error {
	sums := make([]validate.Summary, len(reps))
	for i, rep := range reps {
		sums[i] = rep.Summarize()
	}
	if format == "json" {
		if len(sums) == 1 {
			return report.WriteJSON(w, sums[0])
		}
		return report.WriteJSON(w, sums)
	}
	st := report.Style{Color: isTerminal(w)}
	var b strings.Builder
	for i, s := range sums {
		fmt.Fprintf(&b, "%s · Kubernetes %s · %d objects · %d suppressed\n", s.Target, s.KubernetesVersion, s.Objects, s.Suppressed)
		if len(s.Rules) == 0 {
			b.WriteString("  no findings\n")
		} else {
			tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  SEVERITY\tLAYER\tRULE\tFINDINGS\tSUPPRESSED")
			for _, r := range s.Rules {
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%d\n", r.Severity, r.Layer, r.Rule, r.Findings, r.Suppressed)
			}
			tw.Flush()
		}
		b.WriteString(report.ValidateSummary(reps[i], st) + "\n")
		if i < len(sums)-1 {
			b.WriteString("\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
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

// printRules prints the catalog, less the rules --include/--exclude leave
// out, so a selection can be previewed before a run.
func printRules(w io.Writer, format string, excluded []string) int {
	rules := slices.DeleteFunc(slices.Clone(validate.Rules), func(r validate.Rule) bool { return slices.Contains(excluded, r.ID) })
	if format == "json" {
		if report.WriteJSON(w, rules) != nil {
			return exitUsage
		}
		return exitOK
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tLAYER\tSEVERITY\tCHECKS")
	for _, r := range rules {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.ID, r.Layer, r.Severity, r.Summary)
	}
	tw.Flush()
	return exitOK
}
