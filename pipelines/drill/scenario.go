package drill

import (
	"context"
	"fmt"
	"time"

	"github.com/statex/infrastructure/pipelines/poll"
	"github.com/statex/infrastructure/pipelines/verdict"
)

// script is what one scenario does; run is what every scenario shares. The
// skeleton is the drill's method: prepare, start the writer, see writes
// acknowledged, inject the fault, wait for writes to fail and resume, wait
// until the service is whole, count what survived, apply the gates, clean
// up. A script only says how each of those is done for its service. Step
// names are the scenario's own: reports and tests name them.
type script struct {
	// prepare runs the steps before the writer starts (credentials, health
	// before the fault, the drill's own table, queue or bucket); a failed
	// step ends the drill there.
	prepare func(s *verdict.Steps)
	// write commits write seq through the service's client path and names
	// the pod that acknowledged it; it runs on the writer's goroutine only.
	write func(ctx context.Context, seq int) (by string, err error)
	// reset drops the writer's connection; it runs once the writer stopped.
	reset func()
	// close releases what prepare opened (Sentinel clients).
	close func()

	writing string
	written func(acked int) string

	faultStep string
	fault     func(ctx context.Context) (string, error)

	resumeStep string
	// notBy is the pod whose acknowledgements do not count as resumed (the
	// lost server: MinIO must resume without it); empty: any pod.
	notBy   func() string
	resumed func(by string, outageSeconds float64) string

	// whole is polled until it passes or the drill's timeout: the service
	// is whole again (every replica back, the same signals check demands).
	wholeStep string
	whole     func(ctx context.Context) (string, error)

	// survived looks up every acknowledged write once the writer stopped
	// and says where it looked; settled judges the count (FAIL, or leave it
	// to the gates).
	surviveStep string
	survived    func(ctx context.Context, acks []ack) (got map[int]bool, where string, err error)
	settled     func(m Metrics, where string) (string, error)

	// cleanup is polled (bounded by cleanupTimeout, 30 s by default) even
	// when the run's context is done: drill data never stays behind.
	cleanupStep    string
	cleanupTimeout time.Duration
	cleanup        func(ctx context.Context) (string, error)
}

// writeInterval paces the writer: fine enough to measure RTO and RPO to a
// tenth of a second.
const writeInterval = 100 * time.Millisecond

// run runs a script as scenario sc.
func (e *Env) run(ctx context.Context, sc Scenario, p script) Result {
	start := time.Now()
	var s verdict.Steps
	if p.close != nil {
		defer p.close()
	}
	p.prepare(&s)
	if s.Failed() {
		return finish(sc, &s, nil, start)
	}

	w := startWriter(ctx, writeInterval, p.write)
	defer w.halt()
	stop := func() {
		w.halt()
		if p.reset != nil {
			p.reset()
		}
	}
	var fault time.Time
	metrics := &Metrics{}
	s.Do(p.writing, func() (string, error) {
		if _, err := w.waitAcks(ctx, start, 20, time.Minute); err != nil {
			return "", err
		}
		return p.written(len(w.acked())), nil
	})
	s.Do(p.faultStep, func() (string, error) {
		fault = time.Now()
		return p.fault(ctx)
	})
	s.Do(p.resumeStep, func() (string, error) {
		notBy := ""
		if p.notBy != nil {
			notBy = p.notBy()
		}
		resumed, err := w.waitResumed(ctx, fault, 5, e.Timeout, notBy)
		if err != nil {
			return "", err
		}
		return p.resumed(resumed.by, outage(w.acked(), fault)), nil
	})
	s.Do(p.wholeStep, func() (string, error) {
		var ev string
		err := poll.Until(ctx, e.Timeout, time.Second, func() error {
			var err error
			ev, err = p.whole(ctx)
			return err
		})
		metrics.RecoverySeconds = verdict.Seconds(time.Since(fault))
		return fmt.Sprintf("%s, whole %.1f s after the fault", ev, metrics.RecoverySeconds), err
	})
	s.Do(p.surviveStep, func() (string, error) {
		if _, err := w.waitAcks(ctx, time.Now(), 5, e.Timeout); err != nil {
			return "", err
		}
		stop()
		got, where, err := p.survived(ctx, w.acked())
		if err != nil {
			return "", err
		}
		return p.settled(w.settle(metrics, fault, got), where)
	})
	s.Test("gates: RTO and RPO", func() (string, error) { return judge(*metrics, sc.Gates) })
	s.Always(p.cleanupStep, func() (string, error) {
		stop()
		timeout := p.cleanupTimeout
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer cancel()
		var ev string
		err := poll.Until(cctx, timeout, time.Second, func() error {
			var err error
			ev, err = p.cleanup(cctx)
			return err
		})
		return ev, err
	})
	if metrics.Acknowledged == 0 {
		metrics = nil
	}
	return finish(sc, &s, metrics, start)
}

// resumedAgain is the usual resumption evidence.
func resumedAgain(by string, outageSeconds float64) string {
	return fmt.Sprintf("acknowledged by %s again; writes stopped for %.1f s", by, outageSeconds)
}
