// Package check proves each deployed service works at protocol level: data
// written is read back on replicas, messages flow and dead-letter, mail sent
// is delivered. One file per service; each check is a list of named steps
// with timings, a verdict and the evidence observed (pipelines/verdict).
// What a service is and how it is judged lives in pipelines/service; the
// cluster is reached through pipelines/kube.
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
	"time"

	"github.com/statex/infrastructure/pipelines/verdict"
)

// The verdict types, named here too so that callers of the check verb read
// check.Pass, check.Step (the drill uses the same ones).
type (
	Verdict = verdict.Verdict
	Step    = verdict.Step
)

const (
	Pass    = verdict.Pass
	Fail    = verdict.Fail
	Skipped = verdict.Skipped
)

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
type Report = verdict.Report[Result]

// Subject and Judged make a Result a verdict.Outcome.
func (r Result) Subject() string         { return r.Service }
func (r Result) Judged() verdict.Verdict { return r.Verdict }

// finish is the service's result: FAIL if any step failed.
func finish(service string, s *verdict.Steps, start time.Time) Result {
	return Result{Service: service, Verdict: s.Verdict(), Steps: s.List(), Seconds: verdict.Seconds(time.Since(start))}
}
