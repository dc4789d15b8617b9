package drill

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/statex/infrastructure/pipelines/verdict"
)

// fakeService stands in for a service's client path: writes are kept
// until the fault, fail for a moment after it, then go on; lose drops
// acknowledged writes from what survives. In-process only for the
// skeleton's order and bookkeeping; every real scenario runs in tests/e2e.
type fakeService struct {
	mu      sync.Mutex
	faulted time.Time
	kept    map[int]bool
	lose    map[int]bool
	calls   []string
}

func (f *fakeService) call(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name)
}

func (f *fakeService) script() script {
	f.kept = map[int]bool{}
	return script{
		prepare: func(s *verdict.Steps) {
			f.call("prepare")
			s.Do("prepare", func() (string, error) { return "ready", nil })
		},
		write: func(_ context.Context, seq int) (string, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if !f.faulted.IsZero() && time.Since(f.faulted) < 300*time.Millisecond {
				return "", errors.New("connection refused")
			}
			f.kept[seq] = !f.lose[seq]
			if f.faulted.IsZero() {
				return "pod-0", nil
			}
			return "pod-1", nil
		},
		reset:     func() { f.call("reset") },
		writing:   "writes acknowledged",
		written:   func(n int) string { return "acknowledged" },
		faultStep: "break it",
		fault: func(context.Context) (string, error) {
			f.mu.Lock()
			f.faulted = time.Now()
			f.mu.Unlock()
			f.call("fault")
			return "broken", nil
		},
		resumeStep:  "writes fail, then resume",
		resumed:     resumedAgain,
		wholeStep:   "whole again",
		whole:       func(context.Context) (string, error) { f.call("whole"); return "whole", nil },
		surviveStep: "every acknowledged write survived",
		survived: func(_ context.Context, acks []ack) (map[int]bool, string, error) {
			f.call("survived")
			f.mu.Lock()
			defer f.mu.Unlock()
			got := map[int]bool{}
			for seq, ok := range f.kept {
				got[seq] = ok
			}
			return got, "pod-1", nil
		},
		settled: func(m Metrics, where string) (string, error) {
			if m.Lost > 0 {
				return "", errors.New("writes missing on " + where)
			}
			return "all there", nil
		},
		cleanupStep: "clean up",
		cleanup:     func(context.Context) (string, error) { f.call("cleanup"); return "cleaned", nil },
	}
}

func stepNames(r Result) string {
	var out []string
	for _, s := range r.Steps {
		out = append(out, s.Name+"="+string(s.Verdict))
	}
	return strings.Join(out, ", ")
}

// A script is only its parts: the skeleton runs them in the drill's order,
// measures, applies the gates and always cleans up.
func TestSkeletonRunsAScriptInTheDrillsOrder(t *testing.T) {
	t.Parallel()
	f := &fakeService{}
	e := &Env{RunID: "test", Timeout: 10 * time.Second}
	sc := Scenario{Name: "fake", Service: "fake", Gates: Gates{MaxRTOSeconds: 30}}
	r := e.run(context.Background(), sc, f.script())
	want := "prepare=PASS, writes acknowledged=PASS, break it=PASS, writes fail, then resume=PASS, whole again=PASS, " +
		"every acknowledged write survived=PASS, gates: RTO and RPO=PASS, clean up=PASS"
	if r.Verdict != verdict.Pass || stepNames(r) != want {
		t.Fatalf("%s: %s\nwant %s", r.Verdict, stepNames(r), want)
	}
	if r.Metrics == nil || r.Metrics.Acknowledged < 25 || r.Metrics.Lost != 0 || r.Metrics.FailedWrites == 0 || r.Metrics.RTOSeconds < 0.3 {
		t.Errorf("metrics %+v", r.Metrics)
	}
	calls := strings.Join(f.calls, " ")
	if !strings.HasPrefix(calls, "prepare fault whole") || !strings.Contains(calls, "reset survived") || !strings.HasSuffix(calls, "cleanup") {
		t.Errorf("calls %s", calls)
	}
}

// A lost acknowledged write fails the survivors' step (the gates, which
// build on it, are then skipped, as they always were); the cleanup still
// runs.
func TestSkeletonFailsOnALostWrite(t *testing.T) {
	t.Parallel()
	f := &fakeService{lose: map[int]bool{3: true}}
	e := &Env{RunID: "test", Timeout: 10 * time.Second}
	r := e.run(context.Background(), Scenario{Name: "fake", Gates: Gates{MaxRTOSeconds: 30}}, f.script())
	if r.Verdict != verdict.Fail || r.Metrics == nil || r.Metrics.Lost != 1 {
		t.Fatalf("%s %+v: %s", r.Verdict, r.Metrics, stepNames(r))
	}
	if !strings.Contains(stepNames(r), "every acknowledged write survived=FAIL") || !strings.Contains(stepNames(r), "gates: RTO and RPO=SKIPPED") ||
		!strings.HasSuffix(stepNames(r), "clean up=PASS") {
		t.Errorf("steps %s", stepNames(r))
	}
}

// A failed preparation ends the drill before any writer or fault.
func TestSkeletonStopsWhenPreparationFails(t *testing.T) {
	f := &fakeService{}
	p := f.script()
	p.prepare = func(s *verdict.Steps) {
		s.Do("read the credentials", func() (string, error) { return "", errors.New("secret not found") })
	}
	r := (&Env{Timeout: time.Second}).run(context.Background(), Scenario{Name: "fake"}, p)
	if r.Verdict != verdict.Fail || r.Metrics != nil || len(f.calls) != 0 || stepNames(r) != "read the credentials=FAIL" {
		t.Errorf("%s %+v calls %v: %s", r.Verdict, r.Metrics, f.calls, stepNames(r))
	}
}
