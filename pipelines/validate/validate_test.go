package validate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/statex/infrastructure/pipelines/manifest"
)

// testOptions match the testdata: namespace demo, one generated Secret,
// a backup target.
var testOptions = Options{
	DefaultNamespace: "demo",
	GeneratedSecrets: []manifest.GeneratedSecret{{Name: "demo-credentials", Keys: []string{"password"}}},
	Backup:           &BackupTarget{Endpoint: "http://demo-offsite:9000", Region: "us-east-1", Bucket: "demo-backups"},
}

var markerRE = regexp.MustCompile(`# <- ([a-z0-9 -]+)$`)

// expectedFindings reads "# <- rule [rule…]" markers: each marks a line
// that must carry exactly those findings.
func expectedFindings(t *testing.T, data []byte) []string {
	t.Helper()
	var want []string
	for i, line := range strings.Split(string(data), "\n") {
		m := markerRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		for _, rule := range strings.Fields(m[1]) {
			if RuleByID(rule) == nil {
				t.Fatalf("line %d marks unknown rule %q", i+1, rule)
			}
			want = append(want, fmt.Sprintf("%s@%d", rule, i+1))
		}
	}
	slices.Sort(want)
	return want
}

func validateFile(t *testing.T, path string) *Report {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	objs, errs := manifest.ParseDocuments(path, data)
	rep, err := Validate(context.Background(), &manifest.Set{Objects: objs, Errors: errs}, testOptions)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestEveryRuleCaseYieldsExactlyItsFinding(t *testing.T) {
	files, err := filepath.Glob("testdata/rules/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	covered := map[string]bool{}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			data, _ := os.ReadFile(file)
			want := expectedFindings(t, data)
			if len(want) == 0 {
				t.Fatal("case has no '# <- rule' marker")
			}
			rep := validateFile(t, file)
			var got []string
			for _, f := range rep.Findings {
				got = append(got, fmt.Sprintf("%s@%d", f.Rule, f.Line))
				covered[f.Rule] = true
				if f.File != file {
					t.Errorf("finding %s names file %q, want %q", f.Rule, f.File, file)
				}
				if f.Message == "" || (f.Rule != RuleYAMLSyntax && f.Object.Kind == "") {
					t.Errorf("finding %s lacks a message or object: %+v", f.Rule, f)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("findings (rule@line)\n got: %v\nwant: %v", got, want)
				for _, f := range rep.Findings {
					t.Logf("  %s@%d %s: %s", f.Rule, f.Line, f.Path, f.Message)
				}
			}
		})
	}
	for _, r := range Rules {
		if !covered[r.ID] {
			t.Errorf("rule %s has no testdata case that triggers it", r.ID)
		}
	}
}

func TestCleanExamplesHaveNoFindings(t *testing.T) {
	files, _ := filepath.Glob("testdata/clean/*.yaml")
	if len(files) == 0 {
		t.Fatal("no clean examples")
	}
	for _, file := range files {
		rep := validateFile(t, file)
		for _, f := range rep.Findings {
			t.Errorf("%s:%d %s %s: %s", file, f.Line, f.Rule, f.Object, f.Message)
		}
		if rep.Objects == 0 {
			t.Errorf("%s: no objects loaded", file)
		}
	}
}
