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
//   - RPO: acknowledged writes that did not survive — how many, and the
//     time they span (see measure; 0 s: nothing lost).
//
// Each scenario has gates on RTO, on the number of lost acknowledged writes
// and on RPO; a drill whose measurement misses a gate fails, like a check.
// Drill data is unique per run and removed.
//
// Every scenario runs the same skeleton (scenario.go: writer, fault,
// resumption, recovery, survivors, gates, cleanup); a scenario is only its
// script, written with what pipelines/service knows about its service.
package drill

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/statex/infrastructure/pipelines/kube"
	"github.com/statex/infrastructure/pipelines/poll"
	"github.com/statex/infrastructure/pipelines/target"
	"github.com/statex/infrastructure/pipelines/verdict"
)

// Metrics are what a drill measured.
type Metrics struct {
	// RTOSeconds is the longest gap between acknowledged writes from the
	// last one before the fault on.
	RTOSeconds float64 `json:"rtoSeconds"`
	// RecoverySeconds runs from the fault to the service being whole.
	RecoverySeconds float64 `json:"recoverySeconds"`
	// RPOSeconds runs from the recovery point (the newest write that
	// survived before the first lost one, or the writer's start) to the
	// fault or the last lost write, whichever is later; 0 when nothing was
	// lost. Lost counts them.
	RPOSeconds   float64 `json:"rpoSeconds"`
	Acknowledged int     `json:"acknowledged"`
	Lost         int     `json:"lost"`
	// FailedWrites are attempts that got an error (the outage, seen by a
	// client).
	FailedWrites int `json:"failedWrites"`
}

// Gates bound a scenario's measurements. MaxLost and MaxRPOSeconds are
// both applied; any lost write gives an RPO above 0 s, so either at 0 means
// no acknowledged write may be lost.
type Gates struct {
	MaxRTOSeconds float64 `json:"maxRtoSeconds"`
	// MaxLost is how many acknowledged writes may be lost.
	MaxLost       int     `json:"maxLost"`
	MaxRPOSeconds float64 `json:"maxRpoSeconds"`
}

// Result is one scenario's drill.
type Result struct {
	Scenario string          `json:"scenario"`
	Service  string          `json:"service"`
	Fault    string          `json:"fault"`
	Verdict  verdict.Verdict `json:"verdict"`
	Reason   string          `json:"reason,omitempty"`
	Metrics  *Metrics        `json:"metrics,omitempty"`
	Gates    Gates           `json:"gates"`
	Steps    []verdict.Step  `json:"steps"`
	Seconds  float64         `json:"seconds"`
}

// Report is a drill run over an environment.
type Report = verdict.Report[Result]

// Subject and Judged make a Result a verdict.Outcome.
func (r Result) Subject() string         { return r.Scenario }
func (r Result) Judged() verdict.Verdict { return r.Verdict }

// Env is what a scenario gets.
type Env struct {
	Cluster *kube.Cluster
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
		// still be lost (the other replica promoted, or the master back
		// with an AOF fsynced once a second and its replicas resynced from
		// it). The seed's RPO bound is 15 min; Redis is held to one AOF
		// fsync interval of the writer's writes (10 at 100 ms) and seconds.
		Gates: Gates{MaxRTOSeconds: 60, MaxLost: 10, MaxRPOSeconds: 5},
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

// DefaultTimeout bounds each wait inside a scenario unless Options say
// otherwise.
const DefaultTimeout = 5 * time.Minute

// Options configure a drill run.
type Options struct {
	// Target is the environment drilled: its namespace and its cluster.
	Target *target.Target
	// Scenarios limits the run (empty: all).
	Scenarios []string
	// Timeout bounds each wait inside a scenario (default 5 minutes).
	Timeout time.Duration
	// MaxRTO, MaxRPO and MaxLost, when set, replace every scenario's gate
	// (an RPO of 0 allows no lost write).
	MaxRTO, MaxRPO *time.Duration
	MaxLost        *int
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
		opts.Timeout = DefaultTimeout
	}
	if opts.Target == nil {
		return nil, errors.New("drill: a target is required")
	}
	cfg, err := opts.Target.RESTConfig()
	if err != nil {
		return nil, err
	}
	// Without this an unreachable server showed as every scenario FAILing
	// its first step: a broken cluster judged as failed drills (exit 1).
	if err := kube.Reachable(ctx, cfg); err != nil {
		return nil, err
	}
	c, err := kube.NewCluster(cfg, opts.Target.Namespace)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	rep := &Report{Env: opts.Target.Name, Namespace: opts.Target.Namespace, RunID: verdict.NewRunID()}
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
		if opts.MaxLost != nil {
			sc.Gates.MaxLost = *opts.MaxLost
		}
		res := sc.Run(ctx, e, sc)
		res.Reason = c.Scrubber().String(res.Reason)
		verdict.Scrub(res.Steps, c.Scrubber().String)
		rep.Add(res)
		if opts.Progress != nil {
			opts.Progress(res)
		}
	}
	rep.Seconds = verdict.Seconds(time.Since(start))
	return rep, nil
}

// ack is one acknowledged write and the pod that acknowledged it (the one
// the client's connection or port-forward went to).
type ack struct {
	seq int
	at  time.Time
	by  string
}

// history is what a writer recorded: when it started, every acknowledged
// write in order, and how many attempts failed. The judgement is made from
// it, not from a summary.
type history struct {
	started time.Time
	acks    []ack
	failed  int
}

// writer commits numbered writes one after another, each bounded, and
// records which were acknowledged and when.
type writer struct {
	write    func(ctx context.Context, seq int) (string, error)
	interval time.Duration
	started  time.Time

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
	w := &writer{write: write, interval: interval, started: time.Now(), stop: cancel, done: make(chan struct{})}
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

// history returns a copy of the record so far.
func (w *writer) history() history {
	w.mu.Lock()
	defer w.mu.Unlock()
	return history{started: w.started, acks: slices.Clone(w.acks), failed: w.failed}
}

// waitAcks waits until n writes were acknowledged after t.
func (w *writer) waitAcks(ctx context.Context, t time.Time, n int, timeout time.Duration) (ack, error) {
	return w.waitAcksNotBy(ctx, t, n, timeout, "")
}

// waitAcksNotBy waits until n writes were acknowledged after t by a pod
// other than notBy (any pod when it is empty).
func (w *writer) waitAcksNotBy(ctx context.Context, t time.Time, n int, timeout time.Duration, notBy string) (ack, error) {
	var first ack
	by := ""
	if notBy != "" {
		by = " by a pod other than " + notBy
	}
	err := poll.Until(ctx, timeout, 50*time.Millisecond, func() error {
		count := 0
		for _, a := range w.acked() {
			if a.at.After(t) && (notBy == "" || a.by != notBy) {
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
			return fmt.Errorf("%d of %d writes acknowledged%s; last error: %v", count, n, by, w.lastErr)
		}
		return fmt.Errorf("%d of %d writes acknowledged%s", count, n, by)
	})
	return first, err
}

// waitResumed waits for the fault to reach the writer (a write fails after
// it) and for n writes acknowledged after that, by a pod other than notBy
// when it is set (the server that was lost: MinIO must resume without it).
// Without the first part a write still in flight on the dying server would
// count as "resumed".
func (w *writer) waitResumed(ctx context.Context, fault time.Time, n int, timeout time.Duration, notBy string) (ack, error) {
	var failed time.Time
	err := poll.Until(ctx, timeout, 50*time.Millisecond, func() error {
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
	return w.waitAcksNotBy(ctx, failed, n, timeout, notBy)
}

// settle fills in metrics (whose recovery time is already set) from the
// writer's record, once the writer has stopped.
func (w *writer) settle(metrics *Metrics, fault time.Time, survived map[int]bool) Metrics {
	m := measure(w.history(), fault, survived)
	m.RecoverySeconds = metrics.RecoverySeconds
	*metrics = m
	return m
}

// measure computes RTO and RPO from the writer's history, the fault time
// and the sequence numbers that survived.
//
// RPO is the time span of acknowledged data a client lost: from the
// recovery point — the newest acknowledged write that survived before the
// first lost one (the writer's start if none did), the last moment up to
// which everything acknowledged is still there — to the fault or the last
// lost write, whichever is later. A lost tail before the fault gives the
// classic "fault minus recovery point"; a write acknowledged after the
// fault and then lost stretches the span past the fault instead of being
// dropped; any lost write gives more than 0 s, one lost exactly at the
// fault included.
func measure(h history, fault time.Time, survived map[int]bool) Metrics {
	m := Metrics{Acknowledged: len(h.acks), FailedWrites: h.failed, RTOSeconds: outage(h.acks, fault)}
	point, end := h.started, fault
	for _, a := range h.acks {
		if survived[a.seq] {
			if m.Lost == 0 {
				point = a.at
			}
			continue
		}
		m.Lost++
		if a.at.After(end) {
			end = a.at
		}
	}
	if m.Lost > 0 {
		m.RPOSeconds = verdict.Seconds(end.Sub(point))
	}
	return m
}

// outage is the longest gap between acknowledged writes from the last one
// before the fault on, in seconds.
func outage(acks []ack, fault time.Time) float64 {
	longest := 0.0
	for i := 1; i < len(acks); i++ {
		if acks[i].at.After(fault) {
			longest = max(longest, verdict.Seconds(acks[i].at.Sub(acks[i-1].at)))
		}
	}
	return longest
}

// judge applies the gates to the metrics: RTO, the count of lost
// acknowledged writes and RPO, each on its own. No acknowledged write at
// all is no evidence, and fails.
func judge(m Metrics, g Gates) (string, error) {
	var problems []string
	if m.Acknowledged == 0 {
		problems = append(problems, "no acknowledged write to judge")
	}
	if m.RTOSeconds > g.MaxRTOSeconds {
		problems = append(problems, fmt.Sprintf("RTO %.1f s is above the gate of %.0f s", m.RTOSeconds, g.MaxRTOSeconds))
	}
	if m.Lost > g.MaxLost {
		allowed := "none"
		if g.MaxLost > 0 {
			allowed = fmt.Sprintf("at most %d", g.MaxLost)
		}
		problems = append(problems, fmt.Sprintf("%d of %d acknowledged writes lost; the gate allows %s", m.Lost, m.Acknowledged, allowed))
	}
	if m.RPOSeconds > g.MaxRPOSeconds {
		problems = append(problems, fmt.Sprintf("RPO %.1f s is above the gate of %.0f s", m.RPOSeconds, g.MaxRPOSeconds))
	}
	ev := fmt.Sprintf("RTO %.1f s (gate %.0f s), %d of %d acknowledged writes lost (gate %d), RPO %.1f s (gate %.0f s), recovery %.1f s",
		m.RTOSeconds, g.MaxRTOSeconds, m.Lost, m.Acknowledged, g.MaxLost, m.RPOSeconds, g.MaxRPOSeconds, m.RecoverySeconds)
	if len(problems) > 0 {
		return ev, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return ev, nil
}

// finish turns the steps into a result.
func finish(sc Scenario, s *verdict.Steps, m *Metrics, start time.Time) Result {
	return Result{
		Scenario: sc.Name, Service: sc.Service, Fault: sc.Description, Verdict: s.Verdict(),
		Metrics: m, Gates: sc.Gates, Steps: s.List(), Seconds: verdict.Seconds(time.Since(start)),
	}
}
