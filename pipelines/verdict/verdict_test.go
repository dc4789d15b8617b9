package verdict

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestStepsBlockAndCleanup(t *testing.T) {
	var s Steps
	s.Do("connect", func() (string, error) { return "ok", nil })
	s.Test("independent fails", func() (string, error) { return "", errors.New("boom") })
	s.Test("independent runs", func() (string, error) { return "ran", nil })
	s.Do("required fails", func() (string, error) { return "", errors.New("down") })
	ran := false
	s.Do("dependent", func() (string, error) { ran = true; return "", nil })
	s.Always("cleanup", func() (string, error) { return "cleaned", nil })
	if ran {
		t.Error("a step after a failed required step ran")
	}
	var got []string
	for _, st := range s.List() {
		got = append(got, st.Name+"="+string(st.Verdict))
	}
	want := "connect=PASS independent fails=FAIL independent runs=PASS required fails=FAIL dependent=SKIPPED cleanup=PASS"
	if strings.Join(got, " ") != want {
		t.Errorf("steps:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	if v := s.Verdict(); v != Fail {
		t.Errorf("verdict %s, want FAIL", v)
	}
	var ok Steps
	ok.Do("only", func() (string, error) { return "", nil })
	if ok.Verdict() != Pass {
		t.Errorf("all passed: verdict %s", ok.Verdict())
	}
}

func TestScrubCleansEvidenceAndErrors(t *testing.T) {
	steps := []Step{{Name: "connect", Error: "auth failed for s3cr3t-value"}, {Name: "exec", Evidence: "PASSWORD=s3cr3t-value"}}
	Scrub(steps, func(s string) string { return strings.ReplaceAll(s, "s3cr3t-value", "***") })
	for _, s := range steps {
		if strings.Contains(s.Error+s.Evidence, "s3cr3t") {
			t.Errorf("step %+v", s)
		}
	}
}

// The report's JSON is what `statex check -o json` and `statex drill -o
// json` have always printed: the same keys in the same order.
func TestReportCountsAndKeepsItsJSONShape(t *testing.T) {
	r := &Report[result]{Env: "kind", Namespace: "ns", RunID: "id"}
	r.Add(result{"a", Pass})
	r.Add(result{"b", Fail})
	r.Add(result{"c", Skipped})
	r.Add(result{"d", Fail})
	if r.Passed != 1 || r.Failed != 2 || r.Skipped != 1 || !r.HasFailures() || len(r.Results) != 4 {
		t.Errorf("report %+v", r)
	}
	if got := r.FailedSubjects(); len(got) != 2 || got[0] != "b" || got[1] != "d" {
		t.Errorf("failed subjects %q, want b, d", got)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"env":"kind","namespace":"ns","runId":"id","results":[{"name":"a","verdict":"PASS"},{"name":"b","verdict":"FAIL"},{"name":"c","verdict":"SKIPPED"},{"name":"d","verdict":"FAIL"}],"passed":1,"failed":2,"skipped":1,"seconds":0}`
	if string(b) != want {
		t.Errorf("JSON\n got %s\nwant %s", b, want)
	}
}

type result struct {
	Name    string  `json:"name"`
	Verdict Verdict `json:"verdict"`
}

func (r result) Subject() string { return r.Name }
func (r result) Judged() Verdict { return r.Verdict }
