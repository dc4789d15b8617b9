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
	if got := New("", nil).GoImage; got != defaultGoImage {
		t.Errorf("New(\"\").GoImage = %q, want %q", got, defaultGoImage)
	}
	src := dag.Directory()
	m := New("golang:1.26.1-bookworm", src)
	if m.GoImage != "golang:1.26.1-bookworm" || m.Source != src {
		t.Errorf("New(custom, src) = %+v: the source is not kept for the functions", m)
	}
	// no source, no run: a clear error instead of a nil dereference
	if _, err := New("", nil).cli(); err == nil || !strings.Contains(err.Error(), "New") {
		t.Errorf("cli() with no source: %v", err)
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
		"Validate": {"env": `"kind"`},
		"Deploy":   {"env": `"kind"`, "format": `"text"`},
		"Test":     {"env": `"kind"`, "format": `"text"`},
		"Drill":    {"env": `"kind"`, "format": `"text"`},
		"Backup":   {"env": `"kind"`, "format": `"text"`},
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
	if !slices.Contains(validateFormats, "text") || !slices.Contains(clusterFormats, "text") {
		t.Errorf("default format not in %v / %v", validateFormats, clusterFormats)
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

func TestVerbErrorCarriesTheReport(t *testing.T) {
	const report = "manifests/postgres: ERROR replicas < 3\n"
	for _, tc := range []struct {
		name    string
		code    int
		report  string
		log     string
		wantErr []string // substrings of the error; nil = no error
	}{
		{name: "clean", code: 0, report: "ok\n"},
		{name: "findings", code: 1, report: report, log: "1 error", wantErr: []string{`"kind"`, "exit 1", report, "1 error"}},
		{name: "usage", code: 2, log: "unknown env \"x\"\n", wantErr: []string{"exit 2", `unknown env "x"`}},
		{name: "crash", code: 137, log: "killed", wantErr: []string{"unexpected exit code 137", "killed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := verbError(`validate --env "kind"`, tc.code, tc.report, tc.log)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("got nil, want an error")
			}
			for _, s := range tc.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
	// the log's tail, not all of it
	var long []string
	for i := range 100 {
		long = append(long, "line "+strconv.Itoa(i))
	}
	err := verbError("deploy --env kind", 1, "stage postgres FAILED", strings.Join(long, "\n"))
	if err == nil || !strings.Contains(err.Error(), "stage postgres FAILED") || !strings.Contains(err.Error(), "line 99") || strings.Contains(err.Error(), "line 59\n") {
		t.Errorf("failed deploy: %v", err)
	}
}

func TestDeployAndUpArgs(t *testing.T) {
	got, err := deployArgs("staging", "/run/statex/kubeconfig", "json", true)
	if err != nil {
		t.Fatal(err)
	}
	reportFlags := []string{"--junit", "/statex-report/junit.xml", "--github"}
	want := append([]string{"/usr/local/bin/statex", "deploy", "--env", "staging", "--kubeconfig", "/run/statex/kubeconfig", "--output", "json"}, append(reportFlags, "--dry-run")...)
	if !slices.Equal(got, want) {
		t.Errorf("deployArgs = %q, want %q", got, want)
	}
	if got, _ := deployArgs("kind", "/k", "text", false); slices.Contains(got, "--dry-run") {
		t.Errorf("deployArgs without dry run = %q", got)
	}
	// markdown is refused: it is always in the report (the step summary)
	for _, tc := range []struct{ env, format string }{{"kind", "sarif"}, {"kind", "markdown"}, {"", "text"}, {"--dry-run", "text"}} {
		if _, err := deployArgs(tc.env, "/k", tc.format, false); err == nil {
			t.Errorf("deployArgs(%q, %q) accepted", tc.env, tc.format)
		}
		if _, err := upArgs(tc.env, tc.format); err == nil {
			t.Errorf("upArgs(%q, %q) accepted", tc.env, tc.format)
		}
	}
	got, err = checkArgs("kind", "/k", "json")
	if err != nil || !slices.Equal(got, append([]string{"/usr/local/bin/statex", "check", "--env", "kind", "--kubeconfig", "/k", "--output", "json"}, reportFlags...)) {
		t.Errorf("checkArgs = %q, %v", got, err)
	}
	if _, err := checkArgs("kind", "/k", "junit"); err == nil {
		t.Error("checkArgs accepted junit")
	}
	got, err = drillArgs("kind", "/k", "json", []string{"redis-master-pod-kill"})
	if err != nil || !slices.Equal(got, append(append([]string{"/usr/local/bin/statex", "drill", "--env", "kind", "--kubeconfig", "/k", "--output", "json"}, reportFlags...), "redis-master-pod-kill")) {
		t.Errorf("drillArgs = %q, %v", got, err)
	}
	if _, err := drillArgs("kind", "/k", "text", []string{"--timeout=1s"}); err == nil {
		t.Error("drillArgs accepted a flag as a scenario")
	}
	got, err = upArgs("kind", "json")
	if err != nil || !slices.Equal(got, append([]string{"/usr/local/bin/statex", "up", "--env", "kind", "--output", "json"}, reportFlags...)) {
		t.Errorf("upArgs = %q, %v", got, err)
	}
}
