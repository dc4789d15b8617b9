package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/statex/infrastructure/pipelines/validate"
)

func sampleReport() *validate.Report {
	obj := validate.ObjectRef{Kind: "StatefulSet", Namespace: "ns", Name: "db"}
	return &validate.Report{
		Target: "kind", KubernetesVersion: "1.34", Objects: 3, Errors: 1, Warnings: 1,
		Findings: []validate.Finding{
			{Rule: "readiness-probe", Severity: validate.SeverityError, Message: `container "db" has no readinessProbe`, Hint: "Add readinessProbe.", Object: obj, File: "a.yaml", Line: 12},
			{Rule: "image-digest", Severity: validate.SeverityWarning, Message: "not pinned", Hint: "Pin it.", Object: obj, File: "a.yaml", Line: 20},
		},
		Suppressed: []validate.Suppressed{{Finding: validate.Finding{Rule: "anti-affinity", Object: obj}, Reason: "single node lab"}},
	}
}

func TestValidateTextGroupsByFileAndObject(t *testing.T) {
	var b bytes.Buffer
	if err := ValidateText(&b, sampleReport(), Style{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"a.yaml\n  StatefulSet/ns/db\n",
		"12  error    readiness-probe",
		"fix: Add readinessProbe.",
		"20  warning  image-digest",
		"anti-affinity: single node lab",
		"✗ invalid: 1 error, 1 warning in 3 objects (kind, Kubernetes 1.34",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "a.yaml") != 1 || strings.Contains(out, "fix: Pin it.") || strings.Contains(out, "\x1b[") {
		t.Errorf("file not grouped once, warning hint shown, or colour without a terminal:\n%s", out)
	}
	b.Reset()
	_ = ValidateText(&b, sampleReport(), Style{Color: true})
	if !strings.Contains(b.String(), "\x1b[31;1m") {
		t.Error("no colour when asked for")
	}
}

func TestValidateMarkdownEscapesTables(t *testing.T) {
	rep := sampleReport()
	rep.Findings[0].Message = "a | b"
	md := ValidateMarkdown(rep)
	if !strings.Contains(md, `a \| b`) || !strings.Contains(md, "❌ invalid") || !strings.Contains(md, "`a.yaml:12`") {
		t.Errorf("markdown:\n%s", md)
	}
}
