// Package drill rehearses failures on a deployed environment and measures
// what they cost. While a writer keeps committing numbered, acknowledged
// writes through the service's normal client path, the drill injects a
// fault (a leader's or master's pod is killed, a postmaster crashes), then
// reports:
//
//   - RTO: the longest time between two acknowledged writes around the
//     fault — how long clients could not write;
//   - recovery: from the fault until the service is whole again (every
//     replica back, the same signals `statex check` demands);
//   - RPO: acknowledged writes that did not survive, and how far back in
//     time they reach (0 s: nothing lost).
//
// Each scenario has gates on RTO and RPO; a drill whose measurement misses
// a gate fails, like a check. Drill data is unique per run and removed.
package drill

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"

	"github.com/statex/infrastructure/pipelines/check"
)

// Metrics are what a drill measured.
type Metrics struct {
	// RTOSeconds is the longest gap between acknowledged writes from the
	// last one before the fault on.
	RTOSeconds float64 `json:"rtoSeconds"`
	// RecoverySeconds runs from the fault to the service being whole.
	RecoverySeconds float64 `json:"recoverySeconds"`
	// RPOSeconds is how long before the fault the oldest lost acknowledged
	// write was made (0 when nothing was lost).
	RPOSeconds   float64 `json:"rpoSeconds"`
	Acknowledged int     `json:"acknowledged"`
	Lost         int     `json:"lost"`
	// FailedWrites are attempts that got an error (the outage, seen by a
	// client).
	FailedWrites int `json:"failedWrites"`
}

// Gates bound a scenario's measurements. MaxRPOSeconds 0 means no
// acknowledged write may be lost.
type Gates struct {
	MaxRTOSeconds float64 `json:"maxRtoSeconds"`
	MaxRPOSeconds float64 `json:"maxRpoSeconds"`
}

// Result is one scenario's drill.
type Result struct {
	Scenario string        `json:"scenario"`
	Service  string        `json:"service"`
	Fault    string        `json:"fault"`
	Verdict  check.Verdict `json:"verdict"`
	Reason   string        `json:"reason,omitempty"`
	Metrics  *Metrics      `json:"metrics,omitempty"`
	Gates    Gates         `json:"gates"`
	Steps    []check.Step  `json:"steps"`
	Seconds  float64       `json:"seconds"`
}

// Report is a drill run over an environment.
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

// HasFailures reports whether a drill failed.
func (r *Report) HasFailures() bool { return r.Failed > 0 }

// Env is what a scenario gets.
type Env struct {
	Cluster *check.Cluster
	RunID   string
	// Timeout bounds waiting for writes to resume and for recovery.
	Timeout time.Duration
}

// Scenario is one rehearsed failure.
type Scenario struct {
	Name        string
	Service     string
	Description string
	Gates       Gates
	Run         func(ctx context.Context, e *Env, sc Scenario) Result
}

// Scenarios are the drills, in the order they run. They run one at a
// time: each one breaks something on purpose.
var Scenarios = []Scenario{
	{
		Name: "postgres-leader-pod-kill", Service: "postgres",
		Description: "the Patroni leader's pod is deleted with grace period 0 (SIGTERM, SIGKILL 2 s later); the synchronous standby takes over, or the recreated pod resumes with the leader lock",
		// Worst case without a clean shutdown: ttl 30 s + loop_wait 10 s.
		Gates: Gates{MaxRTOSeconds: 90, MaxRPOSeconds: 0},
		Run:   postgresLeaderPodKill,
	},
	{
		Name: "postgres-postmaster-crash", Service: "postgres",
		Description: "the leader's postmaster is killed with SIGKILL (no shutdown checkpoint); Patroni restarts it or fails over",
		Gates:       Gates{MaxRTOSeconds: 90, MaxRPOSeconds: 0},
		Run:         postgresPostmasterKill,
	},
	{
		Name: "rabbitmq-queue-leader-pod-kill", Service: "rabbitmq",
		Description: "the pod holding a quorum queue's leader is deleted with grace period 0; the queue elects a new leader among the other 2 members",
		// A confirmed message is on a majority of the members.
		Gates: Gates{MaxRTOSeconds: 60, MaxRPOSeconds: 0},
		Run:   rabbitmqLeaderPodKill,
	},
	{
		Name: "minio-node-loss", Service: "minio",
		Description: "the pod of the MinIO server the client uses is deleted with grace period 0; the other 3 servers keep write quorum",
		Gates:       Gates{MaxRTOSeconds: 30, MaxRPOSeconds: 0},
		Run:         minioNodeLoss,
	},
	{
		Name: "redis-master-pod-kill", Service: "redis",
		Description: "the Redis master's pod is deleted with grace period 0; Sentinel promotes a replica, or the pod returns with its AOF first",
		// Replication is asynchronous: a write acknowledged by WAIT 1 can
		// still be lost if the other replica is promoted; the seed's RPO
		// bound is 15 min, Redis is held to seconds.
		Gates: Gates{MaxRTOSeconds: 60, MaxRPOSeconds: 5},
		Run:   redisMasterPodKill,
	},
}

// Names lists the scenarios.
func Names() []string {
	var out []string
	for _, s := range Scenarios {
		out = append(out, s.Name)
	}
	return out
}

// Options configure a drill run.
type Options struct {
	Env       string
	Namespace string
	Config    *rest.Config
	// Scenarios limits the run (empty: all).
	Scenarios []string
	// Timeout bounds each wait inside a scenario (default 5 minutes).
	Timeout time.Duration
	// MaxRTO and MaxRPO, when set, replace every scenario's gate (an RPO
	// of 0 allows no lost write).
	MaxRTO, MaxRPO *time.Duration
	Progress       func(Result)
}

// Run runs the scenarios one after another; an error means the drills
// could not run at all.
func Run(ctx context.Context, opts Options) (*Report, error) {
	start := time.Now()
	for _, s := range opts.Scenarios {
		if !slices.Contains(Names(), s) {
			return nil, fmt.Errorf("no drill %q (have: %s)", s, strings.Join(Names(), ", "))
		}
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Minute
	}
	c, err := check.NewCluster(opts.Config, opts.Namespace)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	rep := &Report{Env: opts.Env, Namespace: opts.Namespace, RunID: check.NewRunID()}
	e := &Env{Cluster: c, RunID: rep.RunID, Timeout: opts.Timeout}
	for _, sc := range Scenarios {
		if len(opts.Scenarios) > 0 && !slices.Contains(opts.Scenarios, sc.Name) {
			continue
		}
		if opts.MaxRTO != nil {
			sc.Gates.MaxRTOSeconds = opts.MaxRTO.Seconds()
		}
		if opts.MaxRPO != nil {
			sc.Gates.MaxRPOSeconds = opts.MaxRPO.Seconds()
		}
		res := sc.Run(ctx, e, sc)
		switch res.Verdict {
		case check.Pass:
			rep.Passed++
		case check.Fail:
			rep.Failed++
		default:
			rep.Skipped++
		}
		rep.Results = append(rep.Results, res)
		if opts.Progress != nil {
			opts.Progress(res)
		}
	}
	rep.Seconds = check.Seconds(time.Since(start))
	return rep, nil
}

// ack is one acknowledged write and the pod that acknowledged it.
type ack struct {
	seq int
	at  time.Time
	by  string
}

// writer commits numbered writes one after another, each bounded, and
// records which were acknowledged and when.
type writer struct {
	write    func(ctx context.Context, seq int) (string, error)
	interval time.Duration

	mu       sync.Mutex
	acks     []ack
	failed   int
	failedAt []time.Time
	lastErr  error
	stop     context.CancelFunc
	done     chan struct{}
}

func startWriter(ctx context.Context, interval time.Duration, write func(ctx context.Context, seq int) (string, error)) *writer {
	ctx, cancel := context.WithCancel(ctx)
	w := &writer{write: write, interval: interval, stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for seq := 1; ctx.Err() == nil; seq++ {
			wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			by, err := w.write(wctx, seq)
			cancel()
			now := time.Now()
			w.mu.Lock()
			if err == nil {
				w.acks = append(w.acks, ack{seq, now, by})
				w.lastErr = nil
			} else if ctx.Err() == nil {
				w.failed++
				w.failedAt = append(w.failedAt, now)
				w.lastErr = err
			}
			w.mu.Unlock()
			select {
			case <-ctx.Done():
			case <-time.After(w.interval):
			}
		}
	}()
	return w
}

// halt stops the writer and waits for its last write.
func (w *writer) halt() {
	w.stop()
	<-w.done
}

// acked returns a copy of the acknowledgements so far.
func (w *writer) acked() []ack {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.acks)
}

// waitAcks waits until n writes were acknowledged after t.
func (w *writer) waitAcks(ctx context.Context, t time.Time, n int, timeout time.Duration) (ack, error) {
	var first ack
	err := check.Poll(ctx, timeout, 50*time.Millisecond, func() error {
		count := 0
		for _, a := range w.acked() {
			if a.at.After(t) {
				if count == 0 {
					first = a
				}
				count++
			}
		}
		if count >= n {
			return nil
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.lastErr != nil {
			return fmt.Errorf("%d of %d writes acknowledged; last error: %v", count, n, w.lastErr)
		}
		return fmt.Errorf("%d of %d writes acknowledged", count, n)
	})
	return first, err
}

// waitResumed waits for the fault to reach the writer (a write fails after
// it) and for n writes acknowledged after that. Without the first part a
// write still in flight on the dying server would count as "resumed".
func (w *writer) waitResumed(ctx context.Context, fault time.Time, n int, timeout time.Duration) (ack, error) {
	var failed time.Time
	err := check.Poll(ctx, timeout, 50*time.Millisecond, func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, t := range w.failedAt {
			if t.After(fault) {
				failed = t
				return nil
			}
		}
		return errors.New("no write has failed since the fault: it did not reach the client path")
	})
	if err != nil {
		return ack{}, err
	}
	return w.waitAcks(ctx, failed, n, timeout)
}

// settle fills in metrics (whose recovery time is already set) from the
// writer's record, once the writer has stopped.
func (w *writer) settle(metrics *Metrics, fault time.Time, survived map[int]bool) Metrics {
	w.mu.Lock()
	failed := w.failed
	w.mu.Unlock()
	m := measure(w.acked(), fault, survived, failed)
	m.RecoverySeconds = metrics.RecoverySeconds
	*metrics = m
	return m
}

// measure computes RTO and RPO from the acknowledgements, the fault time
// and the sequence numbers that survived.
func measure(acks []ack, fault time.Time, survived map[int]bool, failed int) Metrics {
	m := Metrics{Acknowledged: len(acks), FailedWrites: failed, RTOSeconds: outage(acks, fault)}
	for _, a := range acks {
		if !survived[a.seq] {
			m.Lost++
			m.RPOSeconds = max(m.RPOSeconds, check.Seconds(fault.Sub(a.at)))
		}
	}
	return m
}

// outage is the longest gap between acknowledged writes from the last one
// before the fault on, in seconds.
func outage(acks []ack, fault time.Time) float64 {
	longest := 0.0
	for i := 1; i < len(acks); i++ {
		if acks[i].at.After(fault) {
			longest = max(longest, check.Seconds(acks[i].at.Sub(acks[i-1].at)))
		}
	}
	return longest
}

// judge applies the gates to the metrics.
func judge(m Metrics, g Gates) (string, error) {
	var problems []string
	if m.RTOSeconds > g.MaxRTOSeconds {
		problems = append(problems, fmt.Sprintf("RTO %.1f s is above the gate of %.0f s", m.RTOSeconds, g.MaxRTOSeconds))
	}
	if m.Lost > 0 && g.MaxRPOSeconds == 0 {
		problems = append(problems, fmt.Sprintf("%d acknowledged writes lost; the gate allows none", m.Lost))
	} else if m.RPOSeconds > g.MaxRPOSeconds {
		problems = append(problems, fmt.Sprintf("RPO %.1f s is above the gate of %.0f s", m.RPOSeconds, g.MaxRPOSeconds))
	}
	ev := fmt.Sprintf("RTO %.1f s (gate %.0f s), RPO %.1f s with %d of %d acknowledged writes lost (gate %.0f s), recovery %.1f s",
		m.RTOSeconds, g.MaxRTOSeconds, m.RPOSeconds, m.Lost, m.Acknowledged, g.MaxRPOSeconds, m.RecoverySeconds)
	if len(problems) > 0 {
		return ev, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return ev, nil
}

// finish turns the steps into a result.
func finish(sc Scenario, s *check.Steps, m *Metrics, start time.Time) Result {
	r := s.Finish(sc.Service, start)
	return Result{
		Scenario: sc.Name, Service: sc.Service, Fault: sc.Description, Verdict: r.Verdict,
		Metrics: m, Gates: sc.Gates, Steps: r.Steps, Seconds: r.Seconds,
	}
}
