package report

import (
	"io"

	"github.com/statex/infrastructure/pipelines/validate"
)

// SARIF 2.1.0, the subset GitHub code scanning reads.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID                   string      `json:"id"`
	ShortDescription     sarifText   `json:"shortDescription"`
	FullDescription      sarifText   `json:"fullDescription"`
	Help                 sarifText   `json:"help"`
	DefaultConfiguration sarifConfig `json:"defaultConfiguration"`
	Properties           sarifProps  `json:"properties"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifProps struct {
	Tags []string `json:"tags"`
}

type sarifResult struct {
	RuleID       string             `json:"ruleId"`
	Level        string             `json:"level"`
	Message      sarifText          `json:"message"`
	Locations    []sarifLocation    `json:"locations"`
	Suppressions []sarifSuppression `json:"suppressions,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

type sarifSuppression struct {
	Kind          string `json:"kind"`
	Justification string `json:"justification"`
}

func sarifLevel(s validate.Severity) string {
	if s == validate.SeverityError {
		return "error"
	}
	return "warning"
}

func sarifResultOf(f validate.Finding) sarifResult {
	msg := f.Message
	if obj := f.Object.String(); obj != "" {
		msg = obj + ": " + msg
	}
	loc := sarifLocation{PhysicalLocation: sarifPhysical{ArtifactLocation: sarifArtifact{URI: f.File}}}
	if f.Line > 0 {
		loc.PhysicalLocation.Region = &sarifRegion{StartLine: f.Line}
	}
	return sarifResult{RuleID: f.Rule, Level: sarifLevel(f.Severity), Message: sarifText{msg}, Locations: []sarifLocation{loc}}
}

// ValidateSARIF writes one run per report with the rule catalog and every
// finding (suppressed ones marked as suppressed in source, with the reason).
func ValidateSARIF(w io.Writer, reps []*validate.Report) error {
	var rules []sarifRule
	for _, r := range validate.Rules {
		rules = append(rules, sarifRule{
			ID: r.ID, ShortDescription: sarifText{r.Summary}, FullDescription: sarifText{r.Rationale},
			Help: sarifText{r.Hint}, DefaultConfiguration: sarifConfig{sarifLevel(r.Severity)},
			Properties: sarifProps{Tags: []string{string(r.Layer), "kubernetes"}},
		})
	}
	log := sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{}}
	for _, rep := range reps {
		run := sarifRun{Tool: sarifTool{Driver: sarifDriver{Name: "statex validate", Rules: rules}}, Results: []sarifResult{}}
		for _, f := range rep.Findings {
			run.Results = append(run.Results, sarifResultOf(f))
		}
		for _, s := range rep.Suppressed {
			res := sarifResultOf(s.Finding)
			res.Suppressions = []sarifSuppression{{Kind: "inSource", Justification: s.Reason}}
			run.Results = append(run.Results, res)
		}
		log.Runs = append(log.Runs, run)
	}
	return WriteJSON(w, log)
}
