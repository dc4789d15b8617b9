// Package poll waits for a condition: the one bounded, context-aware retry
// loop of the pipeline. Checks, drills, the deploy engine's waits and the
// cluster's readiness all wait through it, so every wait has a bound, stops
// when its context does, and explains a timeout with the last reason.
//
// It imports nothing of the project: every package may use it.
package poll

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// TimeoutError is a wait that ran out of time; Last is the condition's
// last answer.
type TimeoutError struct {
	After time.Duration
	Last  error
}

func (e *TimeoutError) Error() string { return fmt.Sprintf("after %s: %v", e.After, e.Last) }

func (e *TimeoutError) Unwrap() error { return e.Last }

// stopError marks an answer no retry can change.
type stopError struct{ err error }

func (e *stopError) Error() string { return e.err.Error() }

func (e *stopError) Unwrap() error { return e.err }

// Stop wraps an error that ends the wait at once (a crash loop, a refused
// request): Until returns err itself, unwrapped.
func Stop(err error) error {
	if err == nil {
		return nil
	}
	return &stopError{err}
}

// Until calls fn, then again every interval, until it returns nil, returns
// an error made by Stop, or timeout passes (or ctx ends). A timeout is a
// *TimeoutError carrying fn's last error. fn runs at least once, even with
// a context already done, so a timeout always has a reason to give.
func Until(ctx context.Context, timeout, interval time.Duration, fn func() error) error {
	if interval <= 0 {
		return errors.New("poll: interval must be positive")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		err := fn()
		if err == nil {
			return nil
		}
		if s, ok := errors.AsType[*stopError](err); ok {
			return s.err
		}
		t.Reset(interval)
		select {
		case <-ctx.Done():
			return &TimeoutError{After: timeout, Last: err}
		case <-t.C:
		}
	}
}
