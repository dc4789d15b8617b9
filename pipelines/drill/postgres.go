package drill

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/statex/infrastructure/pipelines/kube"
	"github.com/statex/infrastructure/pipelines/service"
	"github.com/statex/infrastructure/pipelines/verdict"
)

const pgDrillTable = "statex_drill"

// postgresFault is how a PostgreSQL drill breaks the leader.
type postgresFault struct {
	step   string
	inject func(ctx context.Context, c *kube.Cluster, leader string) (string, error)
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
	c := e.Cluster
	var password, leader string
	// primary connects to what the postgres Service routes to now.
	primary := func(ctx context.Context) (*pgx.Conn, string, error) {
		pods, err := c.ServicePods(ctx, service.PostgresService)
		if err != nil {
			return nil, "", err
		}
		conn, err := service.ConnectPostgresPod(ctx, c, pods[0], password, 3*time.Second)
		return conn, pods[0], err
	}
	// The writer reconnects through the Service after any error, as a
	// pooled client would.
	var conn *pgx.Conn
	var connPod string
	closeConn := func() {
		if conn == nil {
			return
		}
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn.Close(closeCtx)
		cancel()
		conn = nil
	}
	return e.run(ctx, sc, script{
		prepare: func(s *verdict.Steps) {
			s.Do("read the superuser credentials", func() (string, error) {
				var err error
				password, err = service.PostgresPassword(ctx, c)
				return "secret " + service.PostgresSecret, err
			})
			s.Do("patroni healthy before the fault: leader, 2 streaming, one synchronous", func() (string, error) {
				ev, l, _, err := service.PatroniHealthy(ctx, c, service.PostgresMembers)
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
		},
		write: func(ctx context.Context, seq int) (string, error) {
			if conn == nil {
				var err error
				if conn, connPod, err = primary(ctx); err != nil {
					conn = nil
					return "", err
				}
			}
			_, err := conn.Exec(ctx, "INSERT INTO "+pgDrillTable+" (run, seq) VALUES ($1, $2)", e.RunID, seq)
			if err != nil {
				closeConn()
				c.Forget(connPod)
			}
			return connPod, err
		},
		reset: closeConn,

		writing: "writes acknowledged through the postgres Service",
		written: func(n int) string { return fmt.Sprintf("%d writes acknowledged (synchronous commit)", n) },

		faultStep: fault.step,
		fault:     func(ctx context.Context) (string, error) { return fault.inject(ctx, c, leader) },

		resumeStep: "writes fail, then resume",
		resumed:    resumedAgain,

		wholeStep: "patroni whole again: leader, 2 streaming, one synchronous",
		whole: func(ctx context.Context) (string, error) {
			ev, now, _, err := service.PatroniHealthy(ctx, c, service.PostgresMembers)
			if err != nil {
				return ev, err
			}
			if now == leader {
				return ev + "; " + leader + " came back as the leader (no failover)", nil
			}
			return ev + "; failed over to " + now, nil
		},

		surviveStep: "every acknowledged write survived",
		survived: func(ctx context.Context, _ []ack) (map[int]bool, string, error) {
			conn, pod, err := primary(ctx)
			if err != nil {
				return nil, "", err
			}
			defer conn.Close(ctx)
			rows, err := conn.Query(ctx, "SELECT seq FROM "+pgDrillTable+" WHERE run = $1", e.RunID)
			if err != nil {
				return nil, "", err
			}
			seqs, err := pgx.CollectRows(rows, pgx.RowTo[int32])
			if err != nil {
				return nil, "", err
			}
			survived := map[int]bool{}
			for _, q := range seqs {
				survived[int(q)] = true
			}
			return survived, pod, nil
		},
		settled: func(m Metrics, pod string) (string, error) {
			if m.Lost > 0 {
				return "", fmt.Errorf("%d of %d acknowledged writes missing on %s", m.Lost, m.Acknowledged, pod)
			}
			return fmt.Sprintf("all %d acknowledged writes on %s; %d attempts failed during the outage", m.Acknowledged, pod, m.FailedWrites), nil
		},

		cleanupStep: "remove the drill rows",
		cleanup: func(ctx context.Context) (string, error) {
			conn, _, err := primary(ctx)
			if err != nil {
				return "", err
			}
			defer conn.Close(ctx)
			t, err := conn.Exec(ctx, "DELETE FROM "+pgDrillTable+" WHERE run = $1", e.RunID)
			return fmt.Sprintf("%d rows deleted", t.RowsAffected()), err
		},
	})
}

// killPostmaster sends SIGKILL to PostgreSQL's postmaster in the leader's
// container: the process started as .../bin/postgres (its children
// rename themselves "postgres: ...").
func killPostmaster(ctx context.Context, c *kube.Cluster, leader string) (string, error) {
	if leader == "" {
		return "", errors.New("no leader to break")
	}
	out, err := c.Exec(ctx, leader, service.PostgresContainer, "sh", "-c",
		`pid=$(ps -eo pid=,args= | awk '$2 ~ /\/bin\/postgres$/ {print $1; exit}') && [ -n "$pid" ] && kill -KILL "$pid" && echo "$pid"`)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("postmaster PID %s killed on %s", strings.TrimSpace(out), leader), nil
}

// crashPod deletes a pod with grace period 0: the kubelet sends SIGTERM
// and SIGKILL 2 s later, and the StatefulSet creates the pod again.
func crashPod(ctx context.Context, c *kube.Cluster, pod string) (string, error) {
	grace := int64(0)
	if err := c.CS.CoreV1().Pods(c.Namespace).Delete(ctx, pod, metav1.DeleteOptions{GracePeriodSeconds: &grace}); err != nil {
		return "", err
	}
	c.Forget(pod)
	return "deleted pod " + pod + " with grace period 0", nil
}
