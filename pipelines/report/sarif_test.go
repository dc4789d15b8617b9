package report

import (
	"bytes"
	"encoding/json"
	"runtime/debug"
	"slices"
	"testing"

	"github.com/statex/infrastructure/pipelines/validate"
)

type sarifOut struct {
	Runs []struct {
		Tool struct {
			Driver struct {
				Name    string `json:"name"`
				Version string `json:"version"`
				Rules   []struct {
					ID string `json:"id"`
				} `json:"rules"`
			} `json:"driver"`
		} `json:"tool"`
		Results []struct {
			RuleID  string `json:"ruleId"`
			Message struct {
				Text string `json:"text"`
			} `json:"message"`
			Suppressions []struct {
				Justification string `json:"justification"`
			} `json:"suppressions"`
			Properties struct {
				Environments []string `json:"environments"`
			} `json:"properties"`
		} `json:"results"`
	} `json:"runs"`
}

func TestValidateSARIFOneRunMergedAcrossEnvironments(t *testing.T) {
	shared, prodOnly := finding(validate.SeverityError, "readiness-probe", 12), finding(validate.SeverityWarning, "image-digest", 20)
	supp := validate.Suppressed{Finding: finding(validate.SeverityError, "run-as-non-root", 40), Reason: "root on purpose"}
	kind, prod := envReport("kind", shared), envReport("prod", shared, prodOnly)
	kind.Suppressed, prod.Suppressed = []validate.Suppressed{supp}, []validate.Suppressed{supp}

	var b bytes.Buffer
	if err := ValidateSARIF(&b, []*validate.Report{kind, prod}, "v1.2.3"); err != nil {
		t.Fatal(err)
	}
	var log sarifOut
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	if len(log.Runs) != 1 {
		t.Fatalf("%d runs, want one for the invocation", len(log.Runs))
	}
	run := log.Runs[0]
	if run.Tool.Driver.Name != "statex validate" || run.Tool.Driver.Version != "v1.2.3" || len(run.Tool.Driver.Rules) != len(validate.Rules) {
		t.Errorf("driver %+v", run.Tool.Driver)
	}
	if len(run.Results) != 3 {
		t.Fatalf("%d results, want 3 (shared, prod only, suppressed): %+v", len(run.Results), run.Results)
	}
	want := []struct {
		rule, text string
		envs       []string
		suppressed bool
	}{
		{"readiness-probe", "StatefulSet/ns/db: readiness-probe at 12", []string{"kind", "prod"}, false},
		{"image-digest", "StatefulSet/ns/db: image-digest at 20 (only in prod)", []string{"prod"}, false},
		{"run-as-non-root", "StatefulSet/ns/db: run-as-non-root at 40", []string{"kind", "prod"}, true},
	}
	for i, w := range want {
		r := run.Results[i]
		if r.RuleID != w.rule || r.Message.Text != w.text || !slices.Equal(r.Properties.Environments, w.envs) || (len(r.Suppressions) == 1) != w.suppressed {
			t.Errorf("result %d = %+v, want %+v", i, r, w)
		}
	}
}

func TestValidateSARIFDriverVersionNeverEmpty(t *testing.T) {
	var b bytes.Buffer
	if err := ValidateSARIF(&b, []*validate.Report{envReport("kind")}, ""); err != nil {
		t.Fatal(err)
	}
	var log sarifOut
	if err := json.Unmarshal(b.Bytes(), &log); err != nil || len(log.Runs) != 1 || log.Runs[0].Tool.Driver.Version == "" {
		t.Fatalf("%v: %s", err, b.String())
	}
	if log.Runs[0].Results == nil {
		t.Error("results is null, want [] (a run with no findings)")
	}
}

func TestVersionOf(t *testing.T) {
	settings := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	cases := []struct {
		name string
		info debug.BuildInfo
		want string
	}{
		{"module version", debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}, Settings: settings("vcs.revision", "abc")}, "v1.2.3"},
		{"revision", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: settings("vcs.revision", "abc", "vcs.modified", "false")}, "abc"},
		{"dirty tree", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: settings("vcs.revision", "abc", "vcs.modified", "true")}, "abc+dirty"},
		{"nothing recorded", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev"},
	}
	for _, c := range cases {
		if got := versionOf(&c.info); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	if BuildVersion() == "" {
		t.Error("BuildVersion is empty")
	}
}
