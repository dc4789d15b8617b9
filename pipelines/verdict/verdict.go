// Package verdict is the shape every judged run reports in: a verdict, the
// named steps that led to it (each with its evidence, error and time), and
// a report over an environment that counts them. check and drill both
// report in it, so the report package renders one shape, and a new verb
// (a restore drill, a promotion gate) gets steps, timings and scrubbing by
// using it.
package verdict

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// Verdict is a run's or a step's outcome.
type Verdict string

const (
	Pass    Verdict = "PASS"
	Fail    Verdict = "FAIL"
	Skipped Verdict = "SKIPPED"
)

// Step is one named action of a check or a drill and what it observed.
type Step struct {
	Name     string  `json:"name"`
	Verdict  Verdict `json:"verdict"`
	Evidence string  `json:"evidence,omitempty"`
	Error    string  `json:"error,omitempty"`
	Seconds  float64 `json:"seconds"`
}

// Steps records a run's steps. A required step (Do) that fails blocks the
// steps after it (they build on it); an independent step (Test) that fails
// does not; cleanup steps (Always) run whatever happened.
type Steps struct {
	list    []Step
	failed  bool
	blocked bool
}

// Do runs a step the following steps depend on.
func (s *Steps) Do(name string, fn func() (string, error)) bool {
	if s.blocked {
		s.list = append(s.list, Step{Name: name, Verdict: Skipped, Error: "an earlier step failed"})
		return false
	}
	ok := s.run(name, fn)
	s.blocked = s.blocked || !ok
	return ok
}

// Test runs a step nothing else depends on.
func (s *Steps) Test(name string, fn func() (string, error)) bool {
	if s.blocked {
		s.list = append(s.list, Step{Name: name, Verdict: Skipped, Error: "an earlier step failed"})
		return false
	}
	return s.run(name, fn)
}

// Always runs a step whatever happened before (cleanup).
func (s *Steps) Always(name string, fn func() (string, error)) bool {
	return s.run(name, fn)
}

func (s *Steps) run(name string, fn func() (string, error)) bool {
	start := time.Now()
	ev, err := fn()
	st := Step{Name: name, Verdict: Pass, Evidence: ev, Seconds: Seconds(time.Since(start))}
	if err != nil {
		st.Verdict, st.Error = Fail, err.Error()
		s.failed = true
	}
	s.list = append(s.list, st)
	return err == nil
}

// Failed reports whether a step has failed so far.
func (s *Steps) Failed() bool { return s.failed }

// Verdict is FAIL if any step failed, else PASS.
func (s *Steps) Verdict() Verdict {
	if s.failed {
		return Fail
	}
	return Pass
}

// List is the steps in the order they ran.
func (s *Steps) List() []Step { return s.list }

// Scrub rewrites the evidence and errors of steps in place with clean (a
// scrubber of the secret values read during the run).
func Scrub(steps []Step, clean func(string) string) {
	for i := range steps {
		steps[i].Evidence = clean(steps[i].Evidence)
		steps[i].Error = clean(steps[i].Error)
	}
}

// Outcome is one judged result of a run: a service's check, a drill
// scenario.
type Outcome interface {
	// Subject names what was judged (the service, the scenario).
	Subject() string
	Judged() Verdict
}

// Report is a run over an environment: one result per service or
// scenario, and the tallies of their verdicts.
type Report[R Outcome] struct {
	Env       string  `json:"env"`
	Namespace string  `json:"namespace"`
	RunID     string  `json:"runId"`
	Results   []R     `json:"results"`
	Passed    int     `json:"passed"`
	Failed    int     `json:"failed"`
	Skipped   int     `json:"skipped"`
	Seconds   float64 `json:"seconds"`
	// Warnings are the API server's warnings (deprecated APIs, Pod
	// Security admitted in warn mode) seen during the run, each once: they
	// pass no verdict but must not be lost with the terminal.
	Warnings []string `json:"warnings,omitempty"`
}

// HasFailures reports whether a result failed.
func (r *Report[R]) HasFailures() bool { return r.Failed > 0 }

// FailedSubjects names the results that failed, in order.
func (r *Report[R]) FailedSubjects() []string {
	var out []string
	for _, res := range r.Results {
		if res.Judged() == Fail {
			out = append(out, res.Subject())
		}
	}
	return out
}

// Add appends a result and counts its verdict.
func (r *Report[R]) Add(res R) {
	r.Results = append(r.Results, res)
	switch res.Judged() {
	case Pass:
		r.Passed++
	case Fail:
		r.Failed++
	default:
		r.Skipped++
	}
}

// Seconds is a duration as reports give it: seconds, to the millisecond.
func Seconds(d time.Duration) float64 { return float64(d.Milliseconds()) / 1000 }

// NewRunID is unique test data per run: names of rows, keys, queues, objects
// and mailboxes carry it, so runs never collide and cleanup finds them.
func NewRunID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return time.Now().UTC().Format("20060102t150405") + "-" + hex.EncodeToString(b)
}
