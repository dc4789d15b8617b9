package validate

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
)

// RuleSelection picks the rules a run reports: every rule Include matches
// (all of them when Include is empty) except those Exclude matches. A
// pattern is a rule ID ("image-digest"), a layer ("policy"), or a glob
// over IDs or "layer/id" ("pdb-*", "policy/*"): `--list-rules` shows both
// columns.
//
// yaml-syntax is always on: a file that does not parse was not validated
// at all, and leaving it out would pass it in silence.
type RuleSelection struct {
	Include []string
	Exclude []string
}

// Excluded checks every pattern and returns the IDs of the rules the
// selection leaves out, sorted. A pattern that matches no rule is an error,
// since a typo would otherwise select nothing and say nothing.
func (s RuleSelection) Excluded() ([]string, error) {
	included := map[string]bool{}
	for _, p := range s.Include {
		ids, err := matchRules(p)
		if err != nil {
			return nil, fmt.Errorf("include %w", err)
		}
		for _, id := range ids {
			included[id] = true
		}
	}
	off := map[string]bool{}
	for _, p := range s.Exclude {
		ids, err := matchRules(p)
		if err != nil {
			return nil, fmt.Errorf("exclude %w", err)
		}
		if len(ids) == 1 && ids[0] == RuleYAMLSyntax {
			return nil, fmt.Errorf("exclude %q: %s cannot be excluded: a file that does not parse was not validated (leave the file out with --exclude-path instead)", p, RuleYAMLSyntax)
		}
		for _, id := range ids {
			off[id] = true
		}
	}
	var out []string
	for _, r := range Rules {
		if r.ID == RuleYAMLSyntax {
			continue
		}
		if off[r.ID] || len(s.Include) > 0 && !included[r.ID] {
			out = append(out, r.ID)
		}
	}
	sort.Strings(out)
	return out, nil
}

// matchRules returns the IDs a pattern selects.
func matchRules(p string) ([]string, error) {
	p = strings.TrimSpace(p)
	if _, err := path.Match(p, ""); err != nil || p == "" {
		return nil, fmt.Errorf("%q: not a rule ID, layer or glob", p)
	}
	var ids []string
	for _, r := range Rules {
		qualified := string(r.Layer) + "/" + r.ID
		byID, _ := path.Match(p, r.ID)
		byLayer, _ := path.Match(p, qualified)
		if byID || byLayer || p == string(r.Layer) {
			ids = append(ids, r.ID)
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("%q: matches no rule (statex validate --list-rules)", p)
	}
	return ids, nil
}

// Select drops the findings, suppressed ones included, of the rules in
// excluded (from RuleSelection.Excluded), recounts, and records them.
func (r *Report) Select(excluded []string) {
	if len(excluded) == 0 {
		return
	}
	r.Findings = slices.DeleteFunc(r.Findings, func(f Finding) bool { return slices.Contains(excluded, f.Rule) })
	r.Suppressed = slices.DeleteFunc(r.Suppressed, func(s Suppressed) bool { return slices.Contains(excluded, s.Rule) })
	r.count()
	r.ExcludedRules = slices.Clone(excluded)
}

// RuleCount is how often one rule fired in a report.
type RuleCount struct {
	Rule       string   `json:"rule"`
	Severity   Severity `json:"severity"`
	Layer      Layer    `json:"layer"`
	Findings   int      `json:"findings"`
	Suppressed int      `json:"suppressed,omitempty"`
}

// Summary is a report reduced to counts per rule: what a large or legacy
// set needs first, before the findings themselves.
type Summary struct {
	Target            string      `json:"target"`
	KubernetesVersion string      `json:"kubernetesVersion"`
	Objects           int         `json:"objects"`
	Errors            int         `json:"errors"`
	Warnings          int         `json:"warnings"`
	Suppressed        int         `json:"suppressed"`
	Rules             []RuleCount `json:"rules"`
	ExcludedRules     []string    `json:"excludedRules,omitempty"`
	ExcludedPaths     []string    `json:"excludedPaths,omitempty"`
	Kustomizations    []string    `json:"kustomizations,omitempty"`
	ElapsedMS         float64     `json:"elapsedMs"`
}

// Summarize counts the report's findings per rule: errors first, then by
// count, then by ID. Rules whose findings were all suppressed come last,
// with zero findings.
func (r *Report) Summarize() Summary {
	s := Summary{
		Target: r.Target, KubernetesVersion: r.KubernetesVersion, Objects: r.Objects,
		Errors: r.Errors, Warnings: r.Warnings, Suppressed: len(r.Suppressed),
		ExcludedRules: r.ExcludedRules, ExcludedPaths: r.ExcludedPaths, Kustomizations: r.Kustomizations,
		ElapsedMS: r.ElapsedMS, Rules: []RuleCount{},
	}
	byRule := map[string]*RuleCount{}
	get := func(f Finding) *RuleCount {
		c, ok := byRule[f.Rule]
		if !ok {
			c = &RuleCount{Rule: f.Rule, Severity: f.Severity, Layer: f.Layer}
			byRule[f.Rule] = c
		}
		return c
	}
	for _, f := range r.Findings {
		get(f).Findings++
	}
	for _, sup := range r.Suppressed {
		get(sup.Finding).Suppressed++
	}
	for _, c := range byRule {
		s.Rules = append(s.Rules, *c)
	}
	sort.Slice(s.Rules, func(i, j int) bool {
		a, b := s.Rules[i], s.Rules[j]
		if (a.Findings == 0) != (b.Findings == 0) {
			return b.Findings == 0
		}
		if a.Severity != b.Severity {
			return a.Severity == SeverityError
		}
		if a.Findings != b.Findings {
			return a.Findings > b.Findings
		}
		return a.Rule < b.Rule
	})
	return s
}
