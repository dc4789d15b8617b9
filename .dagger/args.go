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

// renderArgs is `statex render --env ENV -o OUT`.
func renderArgs(env, out string) ([]string, error) {
	if err := checkEnv(env); err != nil {
		return nil, err
	}
	if out == "" {
		return nil, fmt.Errorf("render: empty output directory")
	}
	return []string{cliPath, "render", "--env", env, "-o", out}, nil
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

// validateResult maps `statex validate`'s exit code and output to the
// function's result: the report on success, an error carrying the report when
// the validator found errors, an error carrying stderr otherwise.
func validateResult(env string, code int, stdout, stderr string) (string, error) {
	switch code {
	case exitOK:
		return stdout, nil
	case exitFindings:
		msg := fmt.Sprintf("validation of environment %q failed:\n%s", env, stdout)
		if s := strings.TrimSpace(stderr); s != "" {
			msg += "\n" + s
		}
		return "", errors.New(msg)
	case exitUsage:
		return "", fmt.Errorf("statex validate --env %s: usage or I/O error (exit 2): %s", env, strings.TrimSpace(stderr))
	default:
		return "", fmt.Errorf("statex validate --env %s: unexpected exit code %d: %s", env, code, strings.TrimSpace(stderr))
	}
}
