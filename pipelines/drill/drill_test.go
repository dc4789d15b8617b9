package drill

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
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
	m := measure(acks, t0.Add(5050*time.Millisecond), survived, 12)
	if m.RTOSeconds < 31.9 || m.RTOSeconds > 32.1 {
		t.Errorf("RTO = %.2f s, want 32 s (the gap spanning the fault)", m.RTOSeconds)
	}
	if m.Lost != 0 || m.RPOSeconds != 0 || m.Acknowledged != 200 || m.FailedWrites != 12 {
		t.Errorf("metrics = %+v, want nothing lost, 200 acknowledged, 12 failed", m)
	}
	// A gap before the fault is not the outage.
	early := acksEvery(t0, 100*time.Millisecond, 100, time.Second, 3*time.Second)
	if m := measure(early, t0.Add(9*time.Second), nil, 0); m.RTOSeconds > 0.2 {
		t.Errorf("RTO = %.2f s from a gap before the fault", m.RTOSeconds)
	}
}

func TestMeasureRPOReachesBackToTheOldestLostWrite(t *testing.T) {
	t0 := time.Unix(1000, 0)
	acks := acksEvery(t0, 100*time.Millisecond, 100, 0, 0)
	fault := t0.Add(10 * time.Second)
	survived := map[int]bool{}
	for _, a := range acks {
		// The last 1.5 s before the fault was never replicated.
		survived[a.seq] = a.at.Before(fault.Add(-1500 * time.Millisecond))
	}
	m := measure(acks, fault, survived, 0)
	if m.Lost != 15 || m.RPOSeconds < 1.4 || m.RPOSeconds > 1.6 {
		t.Errorf("lost %d, RPO %.2f s; want 15 lost reaching 1.5 s back", m.Lost, m.RPOSeconds)
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
		{Metrics{RTOSeconds: 5, Lost: 1, Acknowledged: 300}, Gates{MaxRTOSeconds: 90}, "1 acknowledged writes lost; the gate allows none"},
		{Metrics{RTOSeconds: 5, Lost: 3, RPOSeconds: 0.3, Acknowledged: 300}, Gates{MaxRTOSeconds: 60, MaxRPOSeconds: 5}, ""},
		{Metrics{RTOSeconds: 5, Lost: 90, RPOSeconds: 9, Acknowledged: 300}, Gates{MaxRTOSeconds: 60, MaxRPOSeconds: 5}, "RPO 9.0 s is above the gate of 5 s"},
	} {
		ev, err := judge(c.m, c.g)
		switch {
		case c.fail == "" && err != nil:
			t.Errorf("%+v against %+v: %v", c.m, c.g, err)
		case c.fail != "" && (err == nil || !strings.Contains(err.Error(), c.fail)):
			t.Errorf("%+v against %+v: error %v, want %q", c.m, c.g, err, c.fail)
		}
		if !strings.Contains(ev, "RTO") || !strings.Contains(ev, "recovery") {
			t.Errorf("evidence %q lacks the measurements", ev)
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
	if _, err := w.waitResumed(ctx, fault, 3, 200*time.Millisecond); err == nil || !strings.Contains(err.Error(), "no write has failed since the fault") {
		t.Fatalf("waitResumed without an outage: %v", err)
	}
	mu.Lock()
	down = true
	mu.Unlock()
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	down = false
	mu.Unlock()
	resumed, err := w.waitResumed(ctx, fault, 3, time.Second)
	if err != nil || resumed.by != "pod-0" {
		t.Fatalf("waitResumed after an outage: %+v, %v", resumed, err)
	}
	w.halt()
	m := measure(w.acked(), fault, nil, w.failed)
	if m.RTOSeconds < 0.04 || m.FailedWrites == 0 {
		t.Errorf("outage of 50 ms measured as RTO %.3f s with %d failed writes", m.RTOSeconds, m.FailedWrites)
	}
}

// Gate overrides reach the scenarios; no cluster is contacted by this fake
// scenario (the real ones run in tests/e2e).
func TestRunAppliesGateOverrides(t *testing.T) {
	saved := Scenarios
	defer func() { Scenarios = saved }()
	var seen []Gates
	Scenarios = []Scenario{{Name: "fake", Service: "none", Gates: Gates{MaxRTOSeconds: 90, MaxRPOSeconds: 5},
		Run: func(_ context.Context, _ *Env, sc Scenario) Result {
			seen = append(seen, sc.Gates)
			return Result{Scenario: sc.Name, Verdict: "PASS"}
		}}}
	cfg := &rest.Config{Host: "https://127.0.0.1:1"}
	rto, rpo := 20*time.Second, time.Duration(0)
	for _, opts := range []Options{{Config: cfg}, {Config: cfg, MaxRTO: &rto, MaxRPO: &rpo}} {
		if _, err := Run(context.Background(), opts); err != nil {
			t.Fatal(err)
		}
	}
	want := []Gates{{MaxRTOSeconds: 90, MaxRPOSeconds: 5}, {MaxRTOSeconds: 20, MaxRPOSeconds: 0}}
	if len(seen) != 2 || seen[0] != want[0] || seen[1] != want[1] {
		t.Errorf("gates seen %+v, want %+v", seen, want)
	}
}

func TestQuorumLeaderPod(t *testing.T) {
	// The shape of `rabbitmq-queues quorum_status --formatter json`, as
	// check.JudgeQuorumMembers reads it against real brokers.
	out := `[{"Node Name":"rabbit@rabbitmq-0.rabbitmq-headless.statex-infrastructure.svc.cluster.local","Raft State":"follower"},
	{"Node Name":"rabbit@rabbitmq-2.rabbitmq-headless.statex-infrastructure.svc.cluster.local","Raft State":"leader"}]`
	if pod, err := quorumLeaderPod(out); err != nil || pod != "rabbitmq-2" {
		t.Errorf("quorumLeaderPod = %q, %v; want rabbitmq-2", pod, err)
	}
	if _, err := quorumLeaderPod(`[{"Node Name":"rabbit@rabbitmq-0","Raft State":"follower"}]`); err == nil {
		t.Error("no leader: want an error")
	}
}
