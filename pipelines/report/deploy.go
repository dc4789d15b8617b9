package report

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/statex/infrastructure/pipelines/deploy"
)

// DeployText prints a deploy result for people: per stage its changes and
// workloads, then failure, rollback and prune.
func DeployText(w io.Writer, r *deploy.Result, st Style) error {
	var b strings.Builder
	title := "deploy"
	if r.DryRun {
		title = "deploy --dry-run"
	}
	fmt.Fprintf(&b, "%s %s → namespace %s (%s)\n", title, r.Env, r.Namespace, short(r.Hash))
	for _, s := range r.Secrets {
		fmt.Fprintf(&b, "  secret %-28s %s", s.Name, s.Action)
		if len(s.NewKeys) > 0 && s.Action != "created" && s.Action != "create" {
			fmt.Fprintf(&b, " (%s)", strings.Join(s.NewKeys, ", "))
		}
		b.WriteString("\n")
	}
	for _, s := range r.Stages {
		fmt.Fprintf(&b, "stage %-15s %s", s.Name, stageWord(s.Status, st))
		if s.Duration > 0 {
			fmt.Fprintf(&b, " in %.1fs", float64(s.Duration))
		}
		fmt.Fprintf(&b, " (%s)\n", changeCounts(s.Changes))
		for _, c := range s.Changes {
			if c.Action == "unchanged" {
				continue
			}
			fmt.Fprintf(&b, "  %-11s %s\n", c.Action, c.Object)
			if c.Diff != "" {
				for _, l := range strings.Split(c.Diff, "\n") {
					fmt.Fprintf(&b, "             %s\n", l)
				}
			}
		}
		for _, wl := range s.Workloads {
			fmt.Fprintf(&b, "  %-11s %s %d/%d", wl.Status, wl.Object, wl.Ready, wl.Desired)
			if wl.Status != "ready" && wl.Message != "" {
				fmt.Fprintf(&b, " — %s", wl.Message)
			}
			b.WriteString("\n")
		}
		for _, sg := range s.Signals {
			fmt.Fprintf(&b, "  signal %-6s %s: %s (%s)\n", sg.Status, sg.Service, sg.Signal, sg.Detail)
		}
	}
	for _, c := range r.Pruned {
		fmt.Fprintf(&b, "prune  %s\n", c.Object)
	}
	for _, c := range r.Kept {
		fmt.Fprintf(&b, "kept   %s (left the set; holds data, delete by hand if intended)\n", c.Object)
	}
	for _, d := range r.Drift {
		fmt.Fprintf(&b, "drift  %s (live object differed from the last release; re-applied)\n", d)
	}
	if f := r.Failure; f != nil {
		fmt.Fprintf(&b, "%s stage %s: %s\n", st.paint("31", "FAILED"), f.Stage, f.Reason)
		for _, e := range f.Events {
			fmt.Fprintf(&b, "  event %s\n", e)
		}
		for _, k := range slices.Sorted(maps.Keys(f.Logs)) {
			fmt.Fprintf(&b, "  log %s:\n", k)
			for _, l := range strings.Split(f.Logs[k], "\n") {
				fmt.Fprintf(&b, "    | %s\n", l)
			}
		}
	}
	if rb := r.Rollback; rb != nil {
		fmt.Fprintf(&b, "rollback to revision %d: restored %d, deleted %d", rb.To, len(rb.Restored), len(rb.Deleted))
		if rb.Ready {
			b.WriteString(", previous version serving\n")
		} else {
			fmt.Fprintf(&b, ", NOT healthy: %s\n", rb.Error)
		}
	}
	writeWarnings(&b, r.Warnings, st)
	fmt.Fprintf(&b, "%s: %s", r.Env, DeploySummary(r))
	fmt.Fprintf(&b, " in %.1fs\n", float64(r.Duration))
	_, err := io.WriteString(w, b.String())
	return err
}

// DeploySummary is one line: status, revision and counts.
func DeploySummary(r *deploy.Result) string {
	var parts []string
	switch {
	case r.DryRun && r.Status == "planned":
		parts = append(parts, "planned")
	case r.DryRun:
		// A dry run that could not finish planned nothing.
		parts = append(parts, "dry run "+r.Status)
	case r.Unchanged:
		parts = append(parts, fmt.Sprintf("%s, unchanged (revision %d)", r.Status, r.Revision))
	default:
		parts = append(parts, fmt.Sprintf("%s (revision %d)", r.Status, r.Revision))
	}
	parts = append(parts, fmt.Sprintf("%d created, %d configured, %d unchanged, %d pruned",
		r.Count("created"), r.Count("configured"), r.Count("unchanged"), len(r.Pruned)))
	if n := unavailable(r); n > 0 {
		parts = append(parts, fmt.Sprintf("%d workloads image unavailable offline", n))
	}
	return strings.Join(parts, " · ")
}

func unavailable(r *deploy.Result) int {
	n := 0
	for _, s := range r.Stages {
		for _, w := range s.Workloads {
			if w.Status == "unavailable" {
				n++
			}
		}
	}
	return n
}

func stageWord(status string, st Style) string {
	switch status {
	case "ready":
		return st.paint("32", "ready")
	case "failed":
		return st.paint("31", "FAILED")
	}
	return status
}

func changeCounts(cs []deploy.Change) string {
	counts := map[string]int{}
	for _, c := range cs {
		counts[c.Action]++
	}
	var parts []string
	for _, a := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, fmt.Sprintf("%d %s", counts[a], a))
	}
	if len(parts) == 0 {
		return "no objects"
	}
	return strings.Join(parts, ", ")
}

func short(hash string) string {
	if len(hash) > 19 {
		return hash[:19]
	}
	return hash
}

// DeployMarkdown renders a GitHub step summary / PR comment.
func DeployMarkdown(r *deploy.Result) string {
	var b strings.Builder
	icon := "✅"
	switch {
	case r.DryRun && r.Status == "planned":
		icon = "📝"
	case r.Status != deploy.ReleaseSucceeded && r.Status != "planned":
		icon = "❌"
	}
	fmt.Fprintf(&b, "### statex deploy · %s %s %s\n\n", r.Env, icon, DeploySummary(r))
	b.WriteString("| stage | status | changes | workloads | time |\n|---|---|---|---|---|\n")
	for _, s := range r.Stages {
		var ws []string
		for _, w := range s.Workloads {
			ws = append(ws, fmt.Sprintf("%s %d/%d %s", w.Object, w.Ready, w.Desired, w.Status))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %.1fs |\n", s.Name, s.Status, changeCounts(s.Changes), mdEscape(strings.Join(ws, "<br>")), float64(s.Duration))
	}
	var diffs []string
	for _, s := range r.Stages {
		for _, c := range s.Changes {
			if c.Diff != "" {
				diffs = append(diffs, fmt.Sprintf("%s\n%s", c.Object, c.Diff))
			}
		}
	}
	if len(diffs) > 0 {
		b.WriteString("\n<details><summary>diff</summary>\n\n```diff\n")
		b.WriteString(strings.Join(diffs, "\n\n"))
		b.WriteString("\n```\n</details>\n")
	}
	if len(r.Pruned) > 0 {
		b.WriteString("\n**pruned:** ")
		var p []string
		for _, c := range r.Pruned {
			p = append(p, "`"+c.Object+"`")
		}
		b.WriteString(strings.Join(p, ", ") + "\n")
	}
	if f := r.Failure; f != nil {
		fmt.Fprintf(&b, "\n**failed stage `%s`:** %s\n", f.Stage, mdEscape(f.Reason))
		if len(f.Events) > 0 {
			b.WriteString("\n```\n" + strings.Join(f.Events, "\n") + "\n```\n")
		}
	}
	if rb := r.Rollback; rb != nil {
		fmt.Fprintf(&b, "\n**rollback** to revision %d: %d restored, %d deleted, serving: %v\n", rb.To, len(rb.Restored), len(rb.Deleted), rb.Ready)
	}
	b.WriteString(warningsMarkdown(r.Warnings))
	return b.String()
}

// DeployJUnit writes one suite per stage: a test case per workload (ready or
// not) and per service signal; an apply failure is a failed "apply" case.
func DeployJUnit(w io.Writer, r *deploy.Result) error {
	out := junitSuites{Name: "statex deploy " + r.Env, Time: float64(r.Duration)}
	for _, s := range r.Stages {
		suite := junitSuite{Name: "deploy/" + r.Env + "/" + s.Name, Time: float64(s.Duration)}
		class := "statex.deploy." + r.Env + "." + s.Name
		apply := junitCase{Name: "apply", Classname: class, SystemOut: changeCounts(s.Changes)}
		switch {
		case s.Status == "skipped":
			apply.Skipped = &junitSkipped{Message: "an earlier stage failed"}
		case s.Status == "failed" && len(s.Workloads) == 0 && r.Failure != nil:
			apply.Failure = &junitFailure{Message: r.Failure.Reason, Type: "apply"}
		}
		suite.Cases = append(suite.Cases, apply)
		for _, wl := range s.Workloads {
			tc := junitCase{Name: wl.Object, Classname: class, SystemOut: fmt.Sprintf("%d/%d ready", wl.Ready, wl.Desired)}
			switch wl.Status {
			case "ready":
			case "unavailable":
				tc.Skipped = &junitSkipped{Message: wl.Message}
			default:
				tc.Failure = &junitFailure{Message: wl.Status + ": " + wl.Message, Type: wl.Status}
			}
			suite.Cases = append(suite.Cases, tc)
		}
		for _, sg := range s.Signals {
			tc := junitCase{Name: sg.Service + ": " + sg.Signal, Classname: class, Time: float64(sg.Seconds), SystemOut: sg.Detail}
			switch sg.Status {
			case "failed":
				tc.Failure = &junitFailure{Message: sg.Detail, Type: "signal"}
			case "skipped":
				tc.Skipped = &junitSkipped{Message: sg.Detail}
			}
			suite.Cases = append(suite.Cases, tc)
		}
		out.addSuite(suite)
	}
	return writeJUnit(w, out)
}
