// Package check proves each deployed service works at protocol level: data
// written is read back on replicas, messages flow and dead-letter, mail sent
// is delivered. One file per service; each check is a list of named steps
// with timings, a verdict and the evidence observed.
//
// Checks run in the pipeline's process and reach pods through the API
// server's port-forward (client-go), bound to 127.0.0.1. Why not an
// in-cluster Job: the checks use the real Go protocol clients (pgx,
// go-redis, amqp091, minio-go...) with no extra image to build offline, the
// evidence comes back as values instead of parsed logs, and every pod is
// addressable on its own (each replica, each Dovecot), which a Job behind a
// Service is not. Port-forward enters the pod's network namespace from the
// node, so NetworkPolicy is proven separately by in-cluster probe pods.
package check

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Verdict is a check's or step's outcome.
type Verdict string

const (
	Pass    Verdict = "PASS"
	Fail    Verdict = "FAIL"
	Skipped Verdict = "SKIPPED"
)

// Step is one named action of a check and what it observed.
type Step struct {
	Name     string  `json:"name"`
	Verdict  Verdict `json:"verdict"`
	Evidence string  `json:"evidence,omitempty"`
	Error    string  `json:"error,omitempty"`
	Seconds  float64 `json:"seconds"`
}

// Result is one service's check.
type Result struct {
	Service string  `json:"service"`
	Verdict Verdict `json:"verdict"`
	// Reason says why a check was skipped.
	Reason  string  `json:"reason,omitempty"`
	Steps   []Step  `json:"steps"`
	Seconds float64 `json:"seconds"`
}

// Report is a check run over an environment.
type Report struct {
	Env       string   `json:"env"`
	Namespace string   `json:"namespace"`
	RunID     string   `json:"runId"`
	Results   []Result `json:"results"`
	Passed    int      `json:"passed"`
	Failed    int      `json:"failed"`
	Skipped   int      `json:"skipped"`
	Seconds   float64  `json:"seconds"`
}

// HasFailures reports whether any check failed.
func (r *Report) HasFailures() bool { return r.Failed > 0 }

// Steps records a check's (or a drill's) steps. A required step (Do) that
// fails blocks the steps after it (they build on it); an independent step
// (Test) that fails does not; cleanup steps (Always) run whatever happened.
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

// Finish is the result: FAIL if any step failed.
func (s *Steps) Finish(service string, start time.Time) Result {
	r := Result{Service: service, Verdict: Pass, Steps: s.list, Seconds: Seconds(time.Since(start))}
	if s.failed {
		r.Verdict = Fail
	}
	return r
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

// Poll retries fn every interval until it succeeds or timeout passes; the
// last error explains a timeout.
func Poll(ctx context.Context, timeout, interval time.Duration, fn func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		err := fn()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("after %s: %w", timeout, err)
		case <-time.After(interval):
		}
	}
}

// jsonRequest sends an optional JSON body (basic auth when user is set) and
// decodes a JSON answer into into (when not nil).
func jsonRequest(ctx context.Context, method, u, user, password, body string, into any) error {
	req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
	if err != nil {
		return err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := (&http.Client{Timeout: 40 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s", method, req.URL.Path, resp.Status)
	}
	if into == nil {
		return nil
	}
	// Bounded: a check reads small JSON documents, never a stream.
	return json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(into)
}
