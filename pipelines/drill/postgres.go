package drill

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/statex/infrastructure/pipelines/check"
)

const pgDrillTable = "statex_drill"

// postgresFault is how a PostgreSQL drill breaks the leader.
type postgresFault struct {
	step   string
	inject func(ctx context.Context, c *check.Cluster, leader string) (string, error)
}

var (
	// A deleted pod: the kubelet sends SIGTERM and SIGKILL 2 s later, the
	// StatefulSet recreates the pod (node drain, eviction, pod loss). The
	// synchronous standby takes over — or the recreated pod, which still
	// holds the leader lock under its name, comes back as the leader.
	postgresPodKill = postgresFault{step: "delete the leader's pod (grace period 0)", inject: crashPod}
	// The postmaster killed with SIGKILL: no shutdown checkpoint, the
	// pod and Patroni stay; Patroni restarts PostgreSQL (crash recovery
	// from WAL) or fails over, whichever comes first.
	postgresPostmasterCrash = postgresFault{step: "SIGKILL the leader's postmaster", inject: killPostmaster}
)

func postgresLeaderPodKill(ctx context.Context, e *Env, sc Scenario) Result {
	return postgresDrill(ctx, e, sc, postgresPodKill)
}

func postgresPostmasterKill(ctx context.Context, e *Env, sc Scenario) Result {
	return postgresDrill(ctx, e, sc, postgresPostmasterCrash)
}

// postgresDrill breaks the Patroni leader while a client writes through
// the postgres Service, the way applications do.
func postgresDrill(ctx context.Context, e *Env, sc Scenario, fault postgresFault) Result {
	start := time.Now()
	var s check.Steps
	c := e.Cluster
	var password, leader string
	s.Do("read the superuser credentials", func() (string, error) {
		var err error
		password, err = c.Secret(ctx, "postgres-credentials", "superuser-password")
		return "secret postgres-credentials", err
	})
	connect := func(ctx context.Context, pod string) (*pgx.Conn, error) {
		addr, err := c.Forward(ctx, pod, 5432)
		if err != nil {
			return nil, err
		}
		conn, err := check.ConnectPostgres(ctx, addr, "postgres", password, "postgres", 3*time.Second)
		if err != nil {
			c.Forget(pod)
		}
		return conn, err
	}
	// primary connects to what the postgres Service routes to now.
	primary := func(ctx context.Context) (*pgx.Conn, string, error) {
		pods, err := c.ServicePods(ctx, "postgres")
		if err != nil {
			return nil, "", err
		}
		if len(pods) == 0 {
			return nil, "", errors.New("the postgres Service has no ready endpoint")
		}
		conn, err := connect(ctx, pods[0])
		return conn, pods[0], err
	}
	s.Do("patroni healthy before the fault: leader, 2 streaming, one synchronous", func() (string, error) {
		ev, l, err := patroniHealthy(ctx, c)
		leader = l
		return ev, err
	})
	s.Do("create the drill table", func() (string, error) {
		conn, pod, err := primary(ctx)
		if err != nil {
			return "", err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+pgDrillTable+
			" (run text NOT NULL, seq int NOT NULL, at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (run, seq))")
		return "table " + pgDrillTable + " on " + pod, err
	})
	if s.Failed() {
		return finish(sc, &s, nil, start)
	}

	// The writer reconnects through the Service after any error, as a
	// pooled client would.
	var conn *pgx.Conn
	var connPod string
	w := startWriter(ctx, 100*time.Millisecond, func(ctx context.Context, seq int) (string, error) {
		if conn == nil {
			var err error
			if conn, connPod, err = primary(ctx); err != nil {
				conn = nil
				return "", err
			}
		}
		_, err := conn.Exec(ctx, "INSERT INTO "+pgDrillTable+" (run, seq) VALUES ($1, $2)", e.RunID, seq)
		if err != nil {
			closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
			conn.Close(closeCtx)
			cancel()
			conn = nil
			c.Forget(connPod)
		}
		return connPod, err
	})
	defer w.halt()
	var faultAt time.Time
	metrics := &Metrics{}
	s.Do("writes acknowledged through the postgres Service", func() (string, error) {
		if _, err := w.waitAcks(ctx, start, 20, time.Minute); err != nil {
			return "", err
		}
		return fmt.Sprintf("%d writes acknowledged (synchronous commit)", len(w.acked())), nil
	})
	s.Do(fault.step, func() (string, error) {
		faultAt = time.Now()
		return fault.inject(ctx, c, leader)
	})
	s.Do("writes fail, then resume", func() (string, error) {
		resumed, err := w.waitResumed(ctx, faultAt, 5, e.Timeout, "")
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("acknowledged by %s again; writes stopped for %.1f s", resumed.by, outage(w.acked(), faultAt)), nil
	})
	s.Do("patroni whole again: leader, 2 streaming, one synchronous", func() (string, error) {
		var ev, newLeader string
		err := check.Poll(ctx, e.Timeout, time.Second, func() error {
			var err error
			ev, newLeader, err = patroniHealthy(ctx, c)
			return err
		})
		metrics.RecoverySeconds = check.Seconds(time.Since(faultAt))
		how := "failed over to " + newLeader
		if newLeader == leader {
			how = leader + " came back as the leader (no failover)"
		}
		return fmt.Sprintf("%s; %s, whole %.1f s after the fault", ev, how, metrics.RecoverySeconds), err
	})
	s.Do("every acknowledged write survived", func() (string, error) {
		if _, err := w.waitAcks(ctx, time.Now(), 5, e.Timeout); err != nil {
			return "", err
		}
		w.halt()
		conn, pod, err := primary(ctx)
		if err != nil {
			return "", err
		}
		defer conn.Close(ctx)
		rows, err := conn.Query(ctx, "SELECT seq FROM "+pgDrillTable+" WHERE run = $1", e.RunID)
		if err != nil {
			return "", err
		}
		seqs, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			return "", err
		}
		survived := map[int]bool{}
		for _, q := range seqs {
			survived[int(q)] = true
		}
		m := w.settle(metrics, faultAt, survived)
		if m.Lost > 0 {
			return "", fmt.Errorf("%d of %d acknowledged writes missing on %s", m.Lost, m.Acknowledged, pod)
		}
		return fmt.Sprintf("all %d acknowledged writes on %s; %d attempts failed during the outage", m.Acknowledged, pod, m.FailedWrites), nil
	})
	s.Test("gates: RTO and RPO", func() (string, error) { return judge(*metrics, sc.Gates) })
	s.Always("remove the drill rows", func() (string, error) {
		w.halt()
		if conn != nil {
			conn.Close(ctx)
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		var tag string
		err := check.Poll(cctx, 30*time.Second, time.Second, func() error {
			conn, _, err := primary(cctx)
			if err != nil {
				return err
			}
			defer conn.Close(cctx)
			t, err := conn.Exec(cctx, "DELETE FROM "+pgDrillTable+" WHERE run = $1", e.RunID)
			tag = fmt.Sprintf("%d rows deleted", t.RowsAffected())
			return err
		})
		return tag, err
	})
	if metrics.Acknowledged == 0 {
		metrics = nil
	}
	return finish(sc, &s, metrics, start)
}

// patroniHealthy asks Patroni (on any ready member) for the cluster and
// judges it as `statex check` does.
func patroniHealthy(ctx context.Context, c *check.Cluster) (evidence, leader string, err error) {
	pods, err := c.ServicePods(ctx, "postgres-headless")
	if err != nil {
		return "", "", err
	}
	if len(pods) == 0 {
		return "", "", errors.New("no ready postgres pod")
	}
	var lastErr error
	for _, pod := range pods {
		addr, err := c.Forward(ctx, pod, 8008)
		if err != nil {
			lastErr = err
			continue
		}
		members, err := check.PatroniMembers(ctx, "http://"+addr)
		if err != nil {
			c.Forget(pod)
			lastErr = err
			continue
		}
		ev, leader, _, err := check.JudgePatroni(members, 3)
		return ev, leader, err
	}
	return "", "", lastErr
}

// killPostmaster sends SIGKILL to PostgreSQL's postmaster in the leader's
// container: the process started as .../bin/postgres (its children
// rename themselves "postgres: ...").
func killPostmaster(ctx context.Context, c *check.Cluster, leader string) (string, error) {
	out, err := c.Exec(ctx, leader, "postgres", "sh", "-c",
		`pid=$(ps -eo pid=,args= | awk '$2 ~ /\/bin\/postgres$/ {print $1; exit}') && [ -n "$pid" ] && kill -KILL "$pid" && echo "$pid"`)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("postmaster PID %s killed on %s", strings.TrimSpace(out), leader), nil
}

// crashPod deletes a pod with grace period 0: the kubelet sends SIGTERM
// and SIGKILL 2 s later, and the StatefulSet creates the pod again.
func crashPod(ctx context.Context, c *check.Cluster, pod string) (string, error) {
	grace := int64(0)
	if err := c.CS.CoreV1().Pods(c.Namespace).Delete(ctx, pod, metav1.DeleteOptions{GracePeriodSeconds: &grace}); err != nil {
		return "", err
	}
	c.Forget(pod)
	return "deleted pod " + pod + " with grace period 0", nil
}
