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
	Version        string      `json:"version"`
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
	Properties   *sarifResultProps  `json:"properties,omitempty"`
}

// sarifResultProps says which environments a merged result was found in.
type sarifResultProps struct {
	Environments []string `json:"environments"`
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

func sarifResultOf(o occurrence, reports int) sarifResult {
	loc := sarifLocation{PhysicalLocation: sarifPhysical{ArtifactLocation: sarifArtifact{URI: o.File}}}
	if o.Line > 0 {
		loc.PhysicalLocation.Region = &sarifRegion{StartLine: o.Line}
	}
	return sarifResult{
		RuleID: o.Rule, Level: sarifLevel(o.Severity), Message: sarifText{o.text(reports)},
		Locations: []sarifLocation{loc}, Properties: &sarifResultProps{Environments: o.targets},
	}
}

// ValidateSARIF writes one run for all reports: the rule catalog and every
// finding, merged across environments (suppressed ones marked as
// suppressed in source, with the reason), each result listing its
// environments in its properties. One run per invocation, not one per
// environment: upload-sarif refuses several runs of one tool that no
// category (automationDetails.id) tells apart, and an alert belongs to a
// line of a manifest, which the environments share, so a fix should close
// one alert, not one per environment. toolVersion is the driver's version
// ("" finds it in the build, see BuildVersion).
func ValidateSARIF(w io.Writer, reps []*validate.Report, toolVersion string) error {
	if toolVersion == "" {
		toolVersion = BuildVersion()
	}
	rules := []sarifRule{}
	for _, r := range validate.Rules {
		rules = append(rules, sarifRule{
			ID: r.ID, ShortDescription: sarifText{r.Summary}, FullDescription: sarifText{r.Rationale},
			Help: sarifText{r.Hint}, DefaultConfiguration: sarifConfig{sarifLevel(r.Severity)},
			Properties: sarifProps{Tags: []string{string(r.Layer), "kubernetes"}},
		})
	}
	run := sarifRun{
		Tool:    sarifTool{Driver: sarifDriver{Name: "statex validate", Version: toolVersion, Rules: rules}},
		Results: []sarifResult{},
	}
	findings, suppressed := mergeFindings(reps)
	for _, o := range findings {
		run.Results = append(run.Results, sarifResultOf(o, len(reps)))
	}
	for _, o := range suppressed {
		res := sarifResultOf(o, len(reps))
		res.Suppressions = []sarifSuppression{{Kind: "inSource", Justification: o.reason}}
		run.Results = append(run.Results, res)
	}
	log := sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}}
	return WriteJSON(w, log)
}
