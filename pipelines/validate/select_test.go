package validate

import (
	"slices"
	"strings"
	"testing"
)

func rulesOfLayer(l Layer) []string {
	var ids []string
	for _, r := range Rules {
		if r.Layer == l && r.ID != RuleYAMLSyntax {
			ids = append(ids, r.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

func TestRuleSelectionPatterns(t *testing.T) {
	notPolicy := append(rulesOfLayer(LayerSchema), rulesOfLayer(LayerXRef)...)
	slices.Sort(notPolicy)
	cases := []struct {
		name             string
		include, exclude []string
		want             []string
	}{
		{"nothing selected: every rule", nil, nil, nil},
		{"an ID", nil, []string{"image-digest"}, []string{"image-digest"}},
		{"a glob over IDs", nil, []string{"pdb-*"}, []string{"pdb-allows-eviction", "pdb-required", "pdb-selector"}},
		{"a layer", nil, []string{"policy"}, rulesOfLayer(LayerPolicy)},
		{"a glob over layer/id", nil, []string{"policy/*"}, rulesOfLayer(LayerPolicy)},
		{"include a layer", []string{"policy/*"}, nil, notPolicy},
		{"exclude wins over include", []string{"pdb-*"}, []string{"pdb-required"},
			slices.DeleteFunc(RuleIDs(), func(id string) bool {
				return id == "pdb-allows-eviction" || id == "pdb-selector" || id == RuleYAMLSyntax
			})},
		// yaml-syntax stays on under a glob that covers it.
		{"schema without yaml-syntax", nil, []string{"schema/*"}, rulesOfLayer(LayerSchema)},
	}
	for _, c := range cases {
		got, err := RuleSelection{Include: c.include, Exclude: c.exclude}.Excluded()
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s: excluded %v (%v), want %v", c.name, got, err, c.want)
		}
	}
}

func TestRuleSelectionRefusesWhatWouldSelectSilently(t *testing.T) {
	for _, c := range []struct {
		sel  RuleSelection
		want string
	}{
		{RuleSelection{Exclude: []string{"pbd-required"}}, `exclude "pbd-required": matches no rule`},
		{RuleSelection{Include: []string{"polcy/*"}}, `include "polcy/*": matches no rule`},
		{RuleSelection{Exclude: []string{"yaml-syntax"}}, "yaml-syntax cannot be excluded"},
		{RuleSelection{Exclude: []string{"[a-"}}, "not a rule ID, layer or glob"},
	} {
		if _, err := c.sel.Excluded(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.sel, err, c.want)
		}
	}
}

func testReport() *Report {
	f := func(rule string, sev Severity) Finding {
		return Finding{Rule: rule, Severity: sev, Layer: RuleByID(rule).Layer}
	}
	rep := &Report{Target: "t", Findings: []Finding{
		f(RuleImageDigest, SeverityWarning), f(RuleImageDigest, SeverityWarning),
		f(RuleReadinessProbe, SeverityError), f(RuleUnknownKind, SeverityWarning),
		f(RuleImageDigest, SeverityWarning),
	}, Suppressed: []Suppressed{{Finding: f(RuleRunAsNonRoot, SeverityError)}, {Finding: f(RuleImageDigest, SeverityWarning)}}}
	rep.count()
	return rep
}

func TestSelectDropsExcludedRulesAndRecounts(t *testing.T) {
	rep := testReport()
	rep.Select([]string{RuleReadinessProbe, RuleImageDigest})
	if rep.Errors != 0 || rep.Warnings != 1 || len(rep.Findings) != 1 || len(rep.Suppressed) != 1 || rep.Failed() {
		t.Errorf("after select: %d errors, %d warnings, %d suppressed: %+v", rep.Errors, rep.Warnings, len(rep.Suppressed), rep.Findings)
	}
	if !slices.Equal(rep.ExcludedRules, []string{RuleReadinessProbe, RuleImageDigest}) {
		t.Errorf("excluded rules not recorded: %v", rep.ExcludedRules)
	}
}

func TestSummarizeCountsPerRule(t *testing.T) {
	s := testReport().Summarize()
	var got []string
	for _, r := range s.Rules {
		got = append(got, r.Rule+":"+string(r.Severity)+":"+strings.Repeat("f", r.Findings)+strings.Repeat("s", r.Suppressed))
	}
	want := []string{
		"readiness-probe:error:f",   // errors first
		"image-digest:warning:fffs", // then by count
		"unknown-kind:warning:f",
		"run-as-non-root:error:s", // suppressed only: last
	}
	if !slices.Equal(got, want) || s.Errors != 1 || s.Warnings != 4 || s.Suppressed != 2 {
		t.Errorf("summary %v (%d errors, %d warnings, %d suppressed), want %v", got, s.Errors, s.Warnings, s.Suppressed, want)
	}
}
