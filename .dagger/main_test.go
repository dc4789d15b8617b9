package main

// Plain `go test ./...` works: internal/testsession sets the session
// variables the generated init requires (nothing dials until an API call).

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	_ "dagger/statex/internal/testsession"
)

func TestNewDefaults(t *testing.T) {
	if got := New("").GoImage; got != defaultGoImage {
		t.Errorf("New(\"\").GoImage = %q, want %q", got, defaultGoImage)
	}
	if got := New("golang:1.26.1-bookworm").GoImage; got != "golang:1.26.1-bookworm" {
		t.Errorf("New(custom).GoImage = %q", got)
	}
}

// The +default pragma is what `dagger call` uses; the constant is what Go
// callers and the fallback in cli() use. They must agree.
func TestDefaultPragmasMatchConstants(t *testing.T) {
	pragmas := map[string]map[string]string{} // func -> param -> +default value
	for fn, params := range paramPragmas(t) {
		pragmas[fn] = map[string]string{}
		for p, lines := range params {
			for _, l := range lines {
				if v, ok := strings.CutPrefix(l, "+default="); ok {
					pragmas[fn][p] = v
				}
			}
		}
	}
	want := map[string]map[string]string{
		"New":      {"goImage": strconv.Quote(defaultGoImage)},
		"Render":   {"env": `"kind"`},
		"Validate": {"env": `"kind"`, "format": `"text"`},
		"Deploy":   {"env": `"kind"`, "format": `"text"`},
		"Test":     {"env": `"kind"`, "format": `"text"`},
		"Drill":    {"env": `"kind"`, "format": `"text"`},
		"Up":       {"env": `"kind"`, "format": `"text"`},
	}
	for fn, params := range want {
		for p, v := range params {
			if got := pragmas[fn][p]; got != v {
				t.Errorf("%s(%s) +default=%s, want %s", fn, p, got, v)
			}
		}
	}
	// the default formats must be ones the CLI accepts
	if !slices.Contains(validateFormats, "text") || !slices.Contains(deployFormats, "text") {
		t.Errorf("default format not in %v / %v", validateFormats, deployFormats)
	}
}

func TestBuildArgs(t *testing.T) {
	want := []string{"go", "build", "-o", "/usr/local/bin/statex", "./pipelines/cmd/statex"}
	if got := buildArgs(); !slices.Equal(got, want) {
		t.Errorf("buildArgs() = %q, want %q", got, want)
	}
}

func TestRenderArgs(t *testing.T) {
	got, err := renderArgs("staging", "/out")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/usr/local/bin/statex", "render", "--env", "staging", "--output-dir", "/out"}
	if !slices.Equal(got, want) {
		t.Errorf("renderArgs = %q, want %q", got, want)
	}
	for _, env := range []string{"", "-o", "--help"} {
		if _, err := renderArgs(env, "/out"); err == nil {
			t.Errorf("renderArgs(%q) accepted", env)
		}
	}
	if _, err := renderArgs("kind", ""); err == nil {
		t.Error("renderArgs with empty out accepted")
	}
}

func TestValidateArgs(t *testing.T) {
	for _, format := range []string{"text", "json", "sarif", "junit", "markdown"} {
		got, err := validateArgs("kind", format)
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		want := []string{"/usr/local/bin/statex", "validate", "--env", "kind", "--output", format}
		if !slices.Equal(got, want) {
			t.Errorf("validateArgs(kind, %s) = %q, want %q", format, got, want)
		}
	}
	for _, tc := range []struct{ env, format string }{
		{"kind", "yaml"}, {"kind", ""}, {"kind", "TEXT"}, {"", "text"}, {"--env", "text"},
	} {
		if _, err := validateArgs(tc.env, tc.format); err == nil {
			t.Errorf("validateArgs(%q, %q) accepted", tc.env, tc.format)
		}
	}
}

func TestValidateResult(t *testing.T) {
	const report = "manifests/postgres: ERROR replicas < 3\n"
	for _, tc := range []struct {
		name    string
		code    int
		stdout  string
		stderr  string
		want    string
		wantErr []string // substrings of the error; nil = no error
	}{
		{name: "clean", code: 0, stdout: "ok\n", want: "ok\n"},
		{name: "findings", code: 1, stdout: report, stderr: "1 error", wantErr: []string{`"kind"`, report, "1 error"}},
		{name: "usage", code: 2, stderr: "unknown env \"x\"\n", wantErr: []string{"exit 2", `unknown env "x"`}},
		{name: "crash", code: 137, stderr: "killed", wantErr: []string{"unexpected exit code 137", "killed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := verbResult(`validate --env "kind"`, tc.code, tc.stdout, tc.stderr)
			if tc.wantErr == nil {
				if err != nil || got != tc.want {
					t.Fatalf("got (%q, %v), want (%q, nil)", got, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("got (%q, nil), want an error", got)
			}
			for _, s := range tc.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

func TestDeployAndUpArgs(t *testing.T) {
	got, err := deployArgs("staging", "/run/statex/kubeconfig", "json", true)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/usr/local/bin/statex", "deploy", "--env", "staging", "--kubeconfig", "/run/statex/kubeconfig", "--output", "json", "--dry-run"}
	if !slices.Equal(got, want) {
		t.Errorf("deployArgs = %q, want %q", got, want)
	}
	if got, _ := deployArgs("kind", "/k", "text", false); slices.Contains(got, "--dry-run") {
		t.Errorf("deployArgs without dry run = %q", got)
	}
	for _, tc := range []struct{ env, format string }{{"kind", "sarif"}, {"", "text"}, {"--dry-run", "text"}} {
		if _, err := deployArgs(tc.env, "/k", tc.format, false); err == nil {
			t.Errorf("deployArgs(%q, %q) accepted", tc.env, tc.format)
		}
		if _, err := upArgs(tc.env, tc.format); err == nil {
			t.Errorf("upArgs(%q, %q) accepted", tc.env, tc.format)
		}
	}
	got, err = checkArgs("kind", "/k", "json")
	if err != nil || !slices.Equal(got, []string{"/usr/local/bin/statex", "check", "--env", "kind", "--kubeconfig", "/k", "--output", "json"}) {
		t.Errorf("checkArgs = %q, %v", got, err)
	}
	if _, err := checkArgs("kind", "/k", "junit"); err == nil {
		t.Error("checkArgs accepted junit")
	}
	got, err = drillArgs("kind", "/k", "json", []string{"redis-master-pod-kill"})
	if err != nil || !slices.Equal(got, []string{"/usr/local/bin/statex", "drill", "--env", "kind", "--kubeconfig", "/k", "--output", "json", "redis-master-pod-kill"}) {
		t.Errorf("drillArgs = %q, %v", got, err)
	}
	if _, err := drillArgs("kind", "/k", "text", []string{"--timeout=1s"}); err == nil {
		t.Error("drillArgs accepted a flag as a scenario")
	}
	got, err = upArgs("kind", "markdown")
	if err != nil || !slices.Equal(got, []string{"/usr/local/bin/statex", "up", "--env", "kind", "--output", "markdown"}) {
		t.Errorf("upArgs = %q, %v", got, err)
	}
}

func TestVerbResult(t *testing.T) {
	if got, err := verbResult("deploy --env kind", 0, "report", ""); err != nil || got != "report" {
		t.Errorf("success: %q, %v", got, err)
	}
	_, err := verbResult("deploy --env kind", 1, "stage postgres FAILED", "progress\nlast line")
	if err == nil || !strings.Contains(err.Error(), "stage postgres FAILED") || !strings.Contains(err.Error(), "last line") {
		t.Errorf("failed deploy: %v", err)
	}
	_, err = verbResult("deploy --env kind", 2, "", "no kubeconfig")
	if err == nil || !strings.Contains(err.Error(), "exit 2") || !strings.Contains(err.Error(), "no kubeconfig") {
		t.Errorf("usage: %v", err)
	}
}
