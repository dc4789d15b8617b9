package check

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/statex/infrastructure/pipelines/service"
	"github.com/statex/infrastructure/pipelines/verdict"
)

// PostgreSQL: Patroni's view of the cluster, a unique row written through
// the client Service (the primary) and read back on every replica once its
// replay passed the write's LSN, and the primary's own replication view.

// maxReplicationLag is the replay lag above which a replica fails the check.
const maxReplicationLag = 10 * time.Second

func checkPostgres(ctx context.Context, e *Env) Result {
	start := time.Now()
	var s verdict.Steps
	c := e.Cluster
	var password, primary string
	var replicas []string
	s.Do("read the superuser credentials", func() (string, error) {
		var err error
		password, err = service.PostgresPassword(ctx, c)
		return "secret " + service.PostgresSecret, err
	})

	s.Do("patroni reports a leader and 2 streaming members, one synchronous", func() (string, error) {
		ev, leader, reps, err := service.PatroniHealthy(ctx, c, service.PostgresMembers)
		primary, replicas = leader, reps
		return ev, err
	})
	connect := func(pod string) (*pgx.Conn, error) {
		return service.ConnectPostgresPod(ctx, c, pod, password, 10*time.Second)
	}
	var lsn, marker string
	marker = "check-" + e.RunID
	s.Do("write a unique row through the client Service", func() (string, error) {
		pods, err := c.ServicePods(ctx, service.PostgresService)
		if err != nil {
			return "", err
		}
		if pods[0] != primary {
			return "", fmt.Errorf("Service postgres routes to %s, Patroni's leader is %s", pods[0], primary)
		}
		conn, err := connect(pods[0])
		if err != nil {
			return "", err
		}
		defer conn.Close(ctx)
		lsn, err = service.WriteMarker(ctx, conn, marker)
		return fmt.Sprintf("row %s on %s at LSN %s", marker, pods[0], lsn), err
	})
	for _, pod := range replicas {
		s.Do("read the row on replica "+pod, func() (string, error) {
			conn, err := connect(pod)
			if err != nil {
				return "", err
			}
			defer conn.Close(ctx)
			return service.ReadMarkerAfter(ctx, conn, marker, lsn, 30*time.Second)
		})
	}
	s.Do("pg_stat_replication: 2 streaming, lag under "+maxReplicationLag.String(), func() (string, error) {
		conn, err := connect(primary)
		if err != nil {
			return "", err
		}
		defer conn.Close(ctx)
		return service.ReplicationStatus(ctx, conn, service.PostgresMembers-1, maxReplicationLag)
	})
	s.Always("clean up the row", func() (string, error) {
		if primary == "" || lsn == "" {
			return "nothing written", nil
		}
		conn, err := connect(primary)
		if err != nil {
			return "", err
		}
		defer conn.Close(ctx)
		n, err := service.DeleteMarker(ctx, conn, marker)
		return fmt.Sprintf("%d row deleted", n), err
	})
	return finish("postgres", &s, start)
}
