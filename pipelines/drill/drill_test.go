package drill

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/statex/infrastructure/pipelines/kube"
	"github.com/statex/infrastructure/pipelines/target"
	"github.com/statex/infrastructure/pipelines/verdict"
)

// acksEvery makes n acknowledgements, one per step from t0, skipping the
// window [gapFrom, gapTo) (the outage).
func acksEvery(t0 time.Time, step time.Duration, n int, gapFrom, gapTo time.Duration) []ack {
	var out []ack
	at := t0
	for seq := 1; len(out) < n; seq++ {
		if d := at.Sub(t0); d < gapFrom || d >= gapTo {
			out = append(out, ack{seq: seq, at: at})
		}
		at = at.Add(step)
	}
	return out
}

func TestMeasureRTOIsTheOutageAroundTheFault(t *testing.T) {
	t0 := time.Unix(1000, 0)
	// Writes every 100 ms; none between 5 s and 37 s; the fault at 5.05 s.
	acks := acksEvery(t0, 100*time.Millisecond, 200, 5*time.Second+50*time.Millisecond, 37*time.Second)
	survived := map[int]bool{}
	for _, a := range acks {
		survived[a.seq] = true
	}
	m := measure(history{started: t0, acks: acks, failed: 12}, t0.Add(5050*time.Millisecond), survived)
	if m.RTOSeconds < 31.9 || m.RTOSeconds > 32.1 {
		t.Errorf("RTO = %.2f s, want 32 s (the gap spanning the fault)", m.RTOSeconds)
	}
	if m.Lost != 0 || m.RPOSeconds != 0 || m.Acknowledged != 200 || m.FailedWrites != 12 {
		t.Errorf("metrics = %+v, want nothing lost, 200 acknowledged, 12 failed", m)
	}
	// A gap before the fault is not the outage.
	early := acksEvery(t0, 100*time.Millisecond, 100, time.Second, 3*time.Second)
	if m := measure(history{started: t0, acks: early}, t0.Add(9*time.Second), nil); m.RTOSeconds > 0.2 {
		t.Errorf("RTO = %.2f s from a gap before the fault", m.RTOSeconds)
	}
}

// Write histories, measured and judged as a drill does: every acknowledged
// write that is lost counts and shows in RPO, wherever it lies against the
// fault.
func TestJudgeCountsEveryLostAcknowledgedWrite(t *testing.T) {
	t0 := time.Unix(1000, 0)
	// 300 writes, write k acknowledged at t0 + k×100 ms; the fault at
	// t0 + 10 s, the instant write 100 was acknowledged.
	acks := acksEvery(t0.Add(100*time.Millisecond), 100*time.Millisecond, 300, 0, 0)
	fault := t0.Add(10 * time.Second)
	h := history{started: t0, acks: acks}
	seqs := func(from, to int) func(ack) bool {
		return func(a ack) bool { return a.seq >= from && a.seq <= to }
	}
	none := func(ack) bool { return false }
	strict := Gates{MaxRTOSeconds: 90}
	redis := Gates{MaxRTOSeconds: 60, MaxLost: 10, MaxRPOSeconds: 5}
	for _, c := range []struct {
		name    string
		lost    func(ack) bool
		gates   Gates
		verdict verdict.Verdict
		lostN   int
		rpo     float64
		reasons []string
	}{
		{"none lost", none, strict, verdict.Pass, 0, 0, nil},
		{"none lost, Redis bound", none, redis, verdict.Pass, 0, 0, nil},
		// The tail replication never carried: the recovery point is write
		// 85 (8.5 s), the fault 1.5 s later.
		{"lost before the fault", seqs(86, 99), strict, verdict.Fail, 14, 1.5,
			[]string{"14 of 300 acknowledged writes lost; the gate allows none", "RPO 1.5 s is above the gate of 0 s"}},
		{"lost before the fault, within the Redis bound", seqs(96, 99), redis, verdict.Pass, 4, 0.5, nil},
		{"lost before the fault, above the Redis count", seqs(86, 99), redis, verdict.Fail, 14, 1.5,
			[]string{"14 of 300 acknowledged writes lost; the gate allows at most 10"}},
		// Acknowledged by a master that was then discarded: the span runs
		// from write 100 (the fault) to write 300 (30 s).
		{"lost after the fault", seqs(101, 300), strict, verdict.Fail, 200, 20,
			[]string{"200 of 300 acknowledged writes lost; the gate allows none", "RPO 20.0 s is above the gate of 0 s"}},
		{"lost after the fault, above the Redis bound", seqs(101, 300), redis, verdict.Fail, 200, 20,
			[]string{"200 of 300 acknowledged writes lost; the gate allows at most 10", "RPO 20.0 s is above the gate of 5 s"}},
		{"lost after the fault, within the Redis bound", seqs(101, 103), redis, verdict.Pass, 3, 0.3, nil},
		{"lost after the fault, a wide span", func(a ack) bool { return a.seq == 101 || a.seq == 190 }, redis, verdict.Fail, 2, 9,
			[]string{"RPO 9.0 s is above the gate of 5 s"}},
		// Acknowledged exactly at the fault: the recovery point is write 99.
		{"lost at the edge", seqs(100, 100), strict, verdict.Fail, 1, 0.1,
			[]string{"1 of 300 acknowledged writes lost; the gate allows none", "RPO 0.1 s is above the gate of 0 s"}},
		{"lost at the edge, within the Redis bound", seqs(100, 100), redis, verdict.Pass, 1, 0.1, nil},
		// Nothing survived before the loss: the recovery point is the
		// writer's start.
		{"first write lost", seqs(1, 1), redis, verdict.Fail, 1, 10,
			[]string{"RPO 10.0 s is above the gate of 5 s"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			survived := map[int]bool{}
			for _, a := range h.acks {
				survived[a.seq] = !c.lost(a)
			}
			m := measure(h, fault, survived)
			_, err := judge(m, c.gates)
			got := verdict.Pass
			if err != nil {
				got = verdict.Fail
			}
			if got != c.verdict || m.Lost != c.lostN || math.Abs(m.RPOSeconds-c.rpo) > 1e-9 {
				t.Errorf("%s with %d lost, RPO %.3f s (%v); want %s with %d lost, RPO %.3f s",
					got, m.Lost, m.RPOSeconds, err, c.verdict, c.lostN, c.rpo)
			}
			for _, r := range c.reasons {
				if err == nil || !strings.Contains(err.Error(), r) {
					t.Errorf("error %v, want %q", err, r)
				}
			}
		})
	}
}

func TestJudgeAppliesTheGates(t *testing.T) {
	for _, c := range []struct {
		m    Metrics
		g    Gates
		fail string
	}{
		{Metrics{RTOSeconds: 31, Acknowledged: 300}, Gates{MaxRTOSeconds: 90}, ""},
		{Metrics{RTOSeconds: 95, Acknowledged: 300}, Gates{MaxRTOSeconds: 90}, "RTO 95.0 s is above the gate of 90 s"},
		{Metrics{RTOSeconds: 5, Lost: 1, RPOSeconds: 0.1, Acknowledged: 300}, Gates{MaxRTOSeconds: 90}, "1 of 300 acknowledged writes lost; the gate allows none"},
		// A lost write judged by count alone (RPO not filled in) fails too.
		{Metrics{RTOSeconds: 5, Lost: 1, Acknowledged: 300}, Gates{MaxRTOSeconds: 90, MaxRPOSeconds: 5}, "1 of 300 acknowledged writes lost; the gate allows none"},
		{Metrics{RTOSeconds: 5, Lost: 3, RPOSeconds: 0.3, Acknowledged: 300}, Gates{MaxRTOSeconds: 60, MaxLost: 10, MaxRPOSeconds: 5}, ""},
		{Metrics{RTOSeconds: 5, Lost: 90, RPOSeconds: 9, Acknowledged: 300}, Gates{MaxRTOSeconds: 60, MaxLost: 10, MaxRPOSeconds: 5}, "RPO 9.0 s is above the gate of 5 s"},
		// No evidence is a failure, not a pass.
		{Metrics{}, Gates{MaxRTOSeconds: 90}, "no acknowledged write to judge"},
	} {
		ev, err := judge(c.m, c.g)
		switch {
		case c.fail == "" && err != nil:
			t.Errorf("%+v against %+v: %v", c.m, c.g, err)
		case c.fail != "" && (err == nil || !strings.Contains(err.Error(), c.fail)):
			t.Errorf("%+v against %+v: error %v, want %q", c.m, c.g, err, c.fail)
		}
		if !strings.Contains(ev, "RTO") || !strings.Contains(ev, "lost") || !strings.Contains(ev, "recovery") {
			t.Errorf("evidence %q lacks the measurements", ev)
		}
	}
}

// Only Redis (asynchronous replication) may lose acknowledged writes, within
// the bound its scenario states; tests/e2e holds the drills to the same.
func TestScenarioLossBounds(t *testing.T) {
	for _, sc := range Scenarios {
		lost, rpo := 0, 0.0
		if sc.Name == "redis-master-pod-kill" {
			lost, rpo = 10, 5
		}
		if sc.Gates.MaxLost != lost || sc.Gates.MaxRPOSeconds != rpo {
			t.Errorf("%s: gates %+v, want at most %d lost and RPO ≤ %.0f s", sc.Name, sc.Gates, lost, rpo)
		}
	}
}

// The writer against an in-process fake: writes fail in a window, as they
// do against a dying server. (The real thing: tests/e2e, every drill.)
func TestWaitResumedNeedsTheFaultToReachTheWriter(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	down := false
	w := startWriter(ctx, 5*time.Millisecond, func(context.Context, int) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return "", errors.New("connection refused")
		}
		return "pod-0", nil
	})
	defer w.halt()
	if _, err := w.waitAcks(ctx, time.Now(), 5, time.Second); err != nil {
		t.Fatal(err)
	}
	fault := time.Now()
	// Writes keep succeeding: the fault never reached them.
	if _, err := w.waitResumed(ctx, fault, 3, 200*time.Millisecond, ""); err == nil || !strings.Contains(err.Error(), "no write has failed since the fault") {
		t.Fatalf("waitResumed without an outage: %v", err)
	}
	mu.Lock()
	down = true
	mu.Unlock()
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	down = false
	mu.Unlock()
	resumed, err := w.waitResumed(ctx, fault, 3, time.Second, "")
	if err != nil || resumed.by != "pod-0" {
		t.Fatalf("waitResumed after an outage: %+v, %v", resumed, err)
	}
	w.halt()
	m := measure(w.history(), fault, nil)
	if m.RTOSeconds < 0.04 || m.FailedWrites == 0 {
		t.Errorf("outage of 50 ms measured as RTO %.3f s with %d failed writes", m.RTOSeconds, m.FailedWrites)
	}
}

// MinIO must resume on another server: acknowledgements by the lost one
// (its recreated pod bears the same name) do not count.
func TestWaitResumedNotByTheLostServer(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	by := "minio-0"
	w := startWriter(ctx, 5*time.Millisecond, func(context.Context, int) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if by == "" {
			return "", errors.New("connection refused")
		}
		return by, nil
	})
	defer w.halt()
	if _, err := w.waitAcks(ctx, time.Now(), 5, time.Second); err != nil {
		t.Fatal(err)
	}
	fault := time.Now()
	set := func(pod string) {
		mu.Lock()
		by = pod
		mu.Unlock()
	}
	set("")
	time.Sleep(30 * time.Millisecond)
	// The client got back to the lost server.
	set("minio-0")
	if _, err := w.waitResumed(ctx, fault, 3, 200*time.Millisecond, "minio-0"); err == nil || !strings.Contains(err.Error(), "by a pod other than minio-0") {
		t.Fatalf("writes resumed only on the lost server: %v", err)
	}
	set("minio-2")
	resumed, err := w.waitResumed(ctx, fault, 3, time.Second, "minio-0")
	if err != nil || resumed.by != "minio-2" {
		t.Fatalf("writes resumed on minio-2: %+v, %v", resumed, err)
	}
}

// versionServer is an API server that answers only /version, on the
// loopback: enough for Run's reachability probe.
func versionServer(t *testing.T) *rest.Config {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"major":"1","minor":"34"}`))
	}))
	t.Cleanup(srv.Close)
	return &rest.Config{Host: srv.URL}
}

// An unreachable API server is an error before any scenario runs, not five
// FAILed drills (exit 1 instead of 2, and no word that the server is gone).
func TestRunStopsOnUnreachableAPIServer(t *testing.T) {
	saved := Scenarios
	defer func() { Scenarios = saved }()
	ran := false
	Scenarios = []Scenario{{Name: "fake", Run: func(context.Context, *Env, Scenario) Result { ran = true; return Result{} }}}
	rep, err := Run(context.Background(), Options{Target: target.ForConfig("kind", "x", &rest.Config{Host: "https://127.0.0.1:1"})})
	if !kube.IsUnreachable(err) || rep != nil || ran {
		t.Fatalf("report %v, scenario ran %v, error %v", rep, ran, err)
	}
	if !strings.Contains(err.Error(), "API server https://127.0.0.1:1 is unreachable") {
		t.Errorf("error %q", err)
	}
}

// Gate overrides reach the scenarios; no cluster is contacted by this fake
// scenario beyond the probe (the real ones run in tests/e2e).
func TestRunAppliesGateOverrides(t *testing.T) {
	saved := Scenarios
	defer func() { Scenarios = saved }()
	var seen []Gates
	Scenarios = []Scenario{{Name: "fake", Service: "none", Gates: Gates{MaxRTOSeconds: 90, MaxLost: 10, MaxRPOSeconds: 5},
		Run: func(_ context.Context, _ *Env, sc Scenario) Result {
			seen = append(seen, sc.Gates)
			return Result{Scenario: sc.Name, Verdict: "PASS"}
		}}}
	tgt := target.ForConfig("kind", "x", versionServer(t))
	rto, rpo, lost := 20*time.Second, time.Duration(0), 3
	for _, opts := range []Options{{Target: tgt}, {Target: tgt, MaxRTO: &rto, MaxRPO: &rpo, MaxLost: &lost}} {
		if _, err := Run(context.Background(), opts); err != nil {
			t.Fatal(err)
		}
	}
	want := []Gates{{MaxRTOSeconds: 90, MaxLost: 10, MaxRPOSeconds: 5}, {MaxRTOSeconds: 20, MaxLost: 3, MaxRPOSeconds: 0}}
	if len(seen) != 2 || seen[0] != want[0] || seen[1] != want[1] {
		t.Errorf("gates seen %+v, want %+v", seen, want)
	}
}
