package report

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/statex/infrastructure/pipelines/check"
	"github.com/statex/infrastructure/pipelines/deploy"
	"github.com/statex/infrastructure/pipelines/drill"
)

// API server warnings are in every format of every cluster verb's report:
// JSON as "warnings", one text line each, a Markdown section; a run without
// any says nothing about them. A message with a newline stays one line.
func TestAPIServerWarningsInEveryReport(t *testing.T) {
	const msg = "policy/v1beta1 PodDisruptionBudget is deprecated"
	type renderers struct {
		value    func(ws []string) any
		text     func(w io.Writer, v any) error
		markdown func(v any) string
	}
	verbs := map[string]renderers{
		"deploy": {
			value: func(ws []string) any {
				return &deploy.Result{Env: "kind", Namespace: "ns", Status: deploy.ReleaseSucceeded, Revision: 2, Warnings: ws}
			},
			text:     func(w io.Writer, v any) error { return DeployText(w, v.(*deploy.Result), Style{}) },
			markdown: func(v any) string { return DeployMarkdown(v.(*deploy.Result)) },
		},
		"check": {
			value: func(ws []string) any {
				r := &check.Report{Env: "kind", Namespace: "ns", Warnings: ws}
				r.Add(check.Result{Service: "redis", Verdict: check.Pass})
				return r
			},
			text:     func(w io.Writer, v any) error { return CheckText(w, v.(*check.Report), Style{}) },
			markdown: func(v any) string { return CheckMarkdown(v.(*check.Report)) },
		},
		"drill": {
			value: func(ws []string) any {
				r := &drill.Report{Env: "kind", Namespace: "ns", Warnings: ws}
				r.Add(drill.Result{Scenario: "redis-failover", Verdict: check.Pass})
				return r
			},
			text:     func(w io.Writer, v any) error { return DrillText(w, v.(*drill.Report), Style{}) },
			markdown: func(v any) string { return DrillMarkdown(v.(*drill.Report)) },
		},
	}
	for verb, r := range verbs {
		t.Run(verb, func(t *testing.T) {
			with := r.value([]string{msg, "two\nlines"})
			var js bytes.Buffer
			if err := WriteJSON(&js, with); err != nil {
				t.Fatal(err)
			}
			var got struct{ Warnings []string }
			if err := json.Unmarshal(js.Bytes(), &got); err != nil || len(got.Warnings) != 2 || got.Warnings[0] != msg {
				t.Errorf("JSON warnings %q (%v):\n%s", got.Warnings, err, js.String())
			}
			var text strings.Builder
			if err := r.text(&text, with); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(text.String(), "\nwarning API server: "+msg+"\n") || !strings.Contains(text.String(), "\nwarning API server: two lines\n") {
				t.Errorf("text:\n%s", text.String())
			}
			if md := r.markdown(with); !strings.Contains(md, "#### API server warnings (2)") || !strings.Contains(md, "- "+msg+"\n") {
				t.Errorf("markdown:\n%s", md)
			}

			without := r.value(nil)
			js.Reset()
			if err := WriteJSON(&js, without); err != nil {
				t.Fatal(err)
			}
			text.Reset()
			if err := r.text(&text, without); err != nil {
				t.Fatal(err)
			}
			if out := js.String() + text.String() + r.markdown(without); strings.Contains(strings.ToLower(out), "warning") {
				t.Errorf("a run without warnings mentions them:\n%s", out)
			}
		})
	}
}
