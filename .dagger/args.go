package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Pure helpers that build the CLI's argument lists and interpret its exit
// codes; kept free of Dagger API calls so they are unit-tested.

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

// deployFormats are the report formats `statex deploy --output` accepts.
var deployFormats = []string{"text", "json", "markdown"}

// deployArgs is `statex deploy --env ENV --kubeconfig PATH --output FORMAT [--dry-run]`.
func deployArgs(env, kubeconfig, format string, dryRun bool) ([]string, error) {
	if err := checkEnv(env); err != nil {
		return nil, err
	}
	if !slices.Contains(deployFormats, format) {
		return nil, fmt.Errorf("deploy: unknown format %q (want one of %s)", format, strings.Join(deployFormats, ", "))
	}
	args := []string{cliPath, "deploy", "--env", env, "--kubeconfig", kubeconfig, "--output", format}
	if dryRun {
		args = append(args, "--dry-run")
	}
	return args, nil
}

// checkArgs is `statex check --env ENV --kubeconfig PATH --output FORMAT`.
func checkArgs(env, kubeconfig, format string) ([]string, error) {
	if err := checkEnv(env); err != nil {
		return nil, err
	}
	if !slices.Contains(deployFormats, format) {
		return nil, fmt.Errorf("check: unknown format %q (want one of %s)", format, strings.Join(deployFormats, ", "))
	}
	return []string{cliPath, "check", "--env", env, "--kubeconfig", kubeconfig, "--output", format}, nil
}

// drillArgs is `statex drill --env ENV --kubeconfig PATH --output FORMAT [SCENARIO…]`.
func drillArgs(env, kubeconfig, format string, scenarios []string) ([]string, error) {
	if err := checkEnv(env); err != nil {
		return nil, err
	}
	if !slices.Contains(deployFormats, format) {
		return nil, fmt.Errorf("drill: unknown format %q (want one of %s)", format, strings.Join(deployFormats, ", "))
	}
	args := []string{cliPath, "drill", "--env", env, "--kubeconfig", kubeconfig, "--output", format}
	for _, sc := range scenarios {
		if sc == "" || strings.HasPrefix(sc, "-") {
			return nil, fmt.Errorf("drill: invalid scenario name %q", sc)
		}
	}
	return append(args, scenarios...), nil
}

// upArgs is `statex up --env ENV --output FORMAT`.
func upArgs(env, format string) ([]string, error) {
	if err := checkEnv(env); err != nil {
		return nil, err
	}
	if !slices.Contains(deployFormats, format) {
		return nil, fmt.Errorf("up: unknown format %q (want one of %s)", format, strings.Join(deployFormats, ", "))
	}
	return []string{cliPath, "up", "--env", env, "--output", format}, nil
}

// verbResult maps a CLI verb's exit code (the statex contract) to the
// function's result: the report on success, an error carrying the report
// when the verb ran and found a failure (validation errors, a failed deploy
// or check), an error carrying stderr otherwise.
func verbResult(what string, code int, stdout, stderr string) (string, error) {
	tail := lastLines(strings.TrimSpace(stderr), 40)
	switch code {
	case exitOK:
		return stdout, nil
	case exitFindings:
		msg := fmt.Sprintf("statex %s failed:\n%s", what, stdout)
		if tail != "" {
			msg += "\n" + tail
		}
		return "", errors.New(msg)
	case exitUsage:
		return "", fmt.Errorf("statex %s: usage or I/O error (exit 2): %s", what, tail)
	default:
		return "", fmt.Errorf("statex %s: unexpected exit code %d: %s", what, code, tail)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
