package main

import (
	"fmt"
	"slices"
	"strings"
)

// Pure helpers that build the CLI's argument lists; kept free of Dagger API
// calls so they are unit-tested. What the exit codes mean: report.go.

// validateFormats are the report formats `statex validate --output` accepts.
var validateFormats = []string{"text", "json", "sarif", "junit", "markdown"}

// CLI exit codes (the statex CLI contract).
const (
	exitOK       = 0 // clean
	exitFindings = 1 // validation found errors
	exitUsage    = 2 // usage or I/O error
)

// buildArgs builds the statex CLI into cliPath.
func buildArgs() []string {
	return []string{"go", "build", "-o", cliPath, cliPackage}
}

// moduleTestPath is where UnitTests places this module's source: under the
// repository source, where it sits in a checkout (the tests read
// ../dagger.json).
const moduleTestPath = srcPath + "/.dagger"

// moduleTestArgs runs the module's unit tests (they set dummy session
// variables themselves, internal/testsession).
func moduleTestArgs() []string {
	return []string{"go", "test", "./..."}
}

// renderArgs is `statex render --env ENV --output-dir OUT` (-o is the
// output format, as everywhere in the CLI).
func renderArgs(env, out string) ([]string, error) {
	if err := checkEnv(env); err != nil {
		return nil, err
	}
	if out == "" {
		return nil, fmt.Errorf("render: empty output directory")
	}
	return []string{cliPath, "render", "--env", env, "--output-dir", out}, nil
}

// validateArgs is `statex validate --env ENV --output FORMAT`.
func validateArgs(env, format string) ([]string, error) {
	if err := checkEnv(env); err != nil {
		return nil, err
	}
	if !slices.Contains(validateFormats, format) {
		return nil, fmt.Errorf("validate: unknown format %q (want one of %s)", format, strings.Join(validateFormats, ", "))
	}
	return []string{cliPath, "validate", "--env", env, "--output", format}, nil
}

// checkEnv rejects environment names the CLI would misread as flags.
func checkEnv(env string) error {
	switch {
	case env == "":
		return fmt.Errorf("empty environment name")
	case strings.HasPrefix(env, "-"):
		return fmt.Errorf("invalid environment name %q", env)
	}
	return nil
}

// Where the cluster functions mount their kubeconfig and the Docker socket.
const (
	kubeconfigPath   = "/run/statex/kubeconfig"
	dockerSocketPath = "/var/run/docker.sock"
)

// clusterFormats are the stdout formats of the cluster verbs (deploy,
// check, drill, up). Each runs once, so one of text and JSON goes to stdout;
// Markdown (the step summary) and JUnit are written beside it on every run.
var clusterFormats = []string{"text", "json"}

// clusterReportFlags make a cluster verb write its JUnit report and its
// Markdown step summary (to $GITHUB_STEP_SUMMARY, set by the plan) into the
// report directory. --github does nothing else for these verbs.
func clusterReportFlags() []string {
	return []string{"--junit", reportPath(reportJUnit), "--github"}
}

func checkClusterFormat(verb, format string) error {
	if !slices.Contains(clusterFormats, format) {
		return fmt.Errorf("%s: unknown format %q (want one of %s; Markdown and JUnit are always in the report)", verb, format, strings.Join(clusterFormats, ", "))
	}
	return nil
}

// deployArgs is `statex deploy --env ENV --kubeconfig PATH --output FORMAT REPORTFLAGS [--dry-run]`.
func deployArgs(env, kubeconfig, format string, dryRun bool) ([]string, error) {
	if err := checkEnv(env); err != nil {
		return nil, err
	}
	if err := checkClusterFormat("deploy", format); err != nil {
		return nil, err
	}
	args := append([]string{cliPath, "deploy", "--env", env, "--kubeconfig", kubeconfig, "--output", format}, clusterReportFlags()...)
	if dryRun {
		args = append(args, "--dry-run")
	}
	return args, nil
}

// checkArgs is `statex check --env ENV --kubeconfig PATH --output FORMAT REPORTFLAGS`.
func checkArgs(env, kubeconfig, format string) ([]string, error) {
	if err := checkEnv(env); err != nil {
		return nil, err
	}
	if err := checkClusterFormat("check", format); err != nil {
		return nil, err
	}
	return append([]string{cliPath, "check", "--env", env, "--kubeconfig", kubeconfig, "--output", format}, clusterReportFlags()...), nil
}

// drillArgs is `statex drill --env ENV --kubeconfig PATH --output FORMAT REPORTFLAGS [SCENARIO…]`.
func drillArgs(env, kubeconfig, format string, scenarios []string) ([]string, error) {
	if err := checkEnv(env); err != nil {
		return nil, err
	}
	if err := checkClusterFormat("drill", format); err != nil {
		return nil, err
	}
	args := append([]string{cliPath, "drill", "--env", env, "--kubeconfig", kubeconfig, "--output", format}, clusterReportFlags()...)
	for _, sc := range scenarios {
		if sc == "" || strings.HasPrefix(sc, "-") {
			return nil, fmt.Errorf("drill: invalid scenario name %q", sc)
		}
	}
	return append(args, scenarios...), nil
}

// backupArgs is `statex backup --env ENV --kubeconfig PATH --output FORMAT
// REPORTFLAGS [--list] [SERVICE…]`.
func backupArgs(env, kubeconfig, format string, services []string, list bool) ([]string, error) {
	if err := checkEnv(env); err != nil {
		return nil, err
	}
	if err := checkClusterFormat("backup", format); err != nil {
		return nil, err
	}
	args := append([]string{cliPath, "backup", "--env", env, "--kubeconfig", kubeconfig, "--output", format}, clusterReportFlags()...)
	if list {
		args = append(args, "--list")
	}
	for _, s := range services {
		if s == "" || strings.HasPrefix(s, "-") {
			return nil, fmt.Errorf("backup: invalid service name %q", s)
		}
	}
	return append(args, services...), nil
}

// upArgs is `statex up --env ENV --output FORMAT REPORTFLAGS`.
func upArgs(env, format string) ([]string, error) {
	if err := checkEnv(env); err != nil {
		return nil, err
	}
	if err := checkClusterFormat("up", format); err != nil {
		return nil, err
	}
	return append([]string{cliPath, "up", "--env", env, "--output", format}, clusterReportFlags()...), nil
}
