package check

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/statex/infrastructure/pipelines/kube"
)

// PostgreSQL: Patroni's view of the cluster, a unique row written through
// the client Service (the primary) and read back on every replica once its
// replay passed the write's LSN, and the primary's own replication view.

// maxReplicationLag is the replay lag above which a replica fails the check.
const maxReplicationLag = 10 * time.Second

const pgCheckTable = "statex_check"

func checkPostgres(ctx context.Context, e *Env) Result {
	start := time.Now()
	var s Steps
	c := e.Cluster
	var password, primary string
	var replicas []string
	s.Do("read the superuser credentials", func() (string, error) {
		var err error
		password, err = c.Secret(ctx, "postgres-credentials", "superuser-password")
		return "secret postgres-credentials", err
	})

	s.Do("patroni reports a leader and 2 streaming members, one synchronous", func() (string, error) {
		pods, err := c.ServicePods(ctx, "postgres-headless")
		if err != nil {
			return "", err
		}
		addr, err := c.Forward(ctx, pods[0], 8008)
		if err != nil {
			return "", err
		}
		members, err := PatroniMembers(ctx, "http://"+addr)
		if err != nil {
			return "", err
		}
		ev, leader, reps, err := JudgePatroni(members, 3)
		primary, replicas = leader, reps
		return ev, err
	})
	connect := func(pod string) (*pgx.Conn, error) {
		addr, err := c.Forward(ctx, pod, 5432)
		if err != nil {
			return nil, err
		}
		return ConnectPostgres(ctx, addr, "postgres", password, "postgres", 10*time.Second)
	}
	var lsn, marker string
	marker = "check-" + e.RunID
	s.Do("write a unique row through the client Service", func() (string, error) {
		pods, err := c.ServicePods(ctx, "postgres")
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
		lsn, err = WriteMarker(ctx, conn, marker)
		return fmt.Sprintf("row %s on %s at LSN %s", marker, pods[0], lsn), err
	})
	for _, pod := range replicas {
		s.Do("read the row on replica "+pod, func() (string, error) {
			conn, err := connect(pod)
			if err != nil {
				return "", err
			}
			defer conn.Close(ctx)
			return ReadMarkerAfter(ctx, conn, marker, lsn, 30*time.Second)
		})
	}
	s.Do("pg_stat_replication: 2 streaming, lag under "+maxReplicationLag.String(), func() (string, error) {
		conn, err := connect(primary)
		if err != nil {
			return "", err
		}
		defer conn.Close(ctx)
		return ReplicationStatus(ctx, conn, 2, maxReplicationLag)
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
		tag, err := conn.Exec(ctx, "DELETE FROM "+pgCheckTable+" WHERE id = $1", marker)
		return fmt.Sprintf("%d row deleted", tag.RowsAffected()), err
	})
	return s.Finish("postgres", start)
}

type patroniCluster struct {
	Members []PatroniMember `json:"members"`
}

// PatroniMember is one member as Patroni's GET /cluster reports it.
type PatroniMember struct {
	Name  string          `json:"name"`
	Role  string          `json:"role"`
	State string          `json:"state"`
	Lag   json.RawMessage `json:"lag"`
}

// PatroniMembers reads GET /cluster from a Patroni REST API.
func PatroniMembers(ctx context.Context, base string) ([]PatroniMember, error) {
	var c patroniCluster
	err := jsonRequest(ctx, http.MethodGet, base+"/cluster", "", "", "", &c)
	return c.Members, err
}

// ParsePatroniCluster reads the body of Patroni's GET /cluster.
func ParsePatroniCluster(body []byte) ([]PatroniMember, error) {
	var c patroniCluster
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, fmt.Errorf("patroni /cluster: %v", err)
	}
	return c.Members, nil
}

// JudgePatroni wants one running leader, size-1 streaming replicas and at
// least one synchronous standby (RPO 0 for committed writes).
func JudgePatroni(members []PatroniMember, size int) (evidence, leader string, replicas []string, err error) {
	var desc []string
	sync := 0
	for _, m := range members {
		desc = append(desc, m.Name+"="+m.Role+"/"+m.State)
		switch {
		case m.Role == "leader" && m.State == "running":
			if leader != "" {
				return "", "", nil, fmt.Errorf("two leaders: %s and %s", leader, m.Name)
			}
			leader = m.Name
		case (m.Role == "replica" || m.Role == "sync_standby") && m.State == "streaming":
			replicas = append(replicas, m.Name)
			if m.Role == "sync_standby" {
				sync++
			}
		}
	}
	evidence = strings.Join(desc, ", ")
	switch {
	case leader == "":
		err = fmt.Errorf("no running leader")
	case len(replicas) != size-1:
		err = fmt.Errorf("%d streaming replicas, want %d", len(replicas), size-1)
	case sync == 0:
		err = fmt.Errorf("no synchronous standby")
	}
	return evidence, leader, replicas, err
}

// WriteMarker inserts a unique row and returns the primary's WAL position
// after the commit.
func WriteMarker(ctx context.Context, conn *pgx.Conn, marker string) (string, error) {
	if _, err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+pgCheckTable+" (id text PRIMARY KEY, written_at timestamptz NOT NULL DEFAULT now())"); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, "INSERT INTO "+pgCheckTable+" (id) VALUES ($1)", marker); err != nil {
		return "", err
	}
	var lsn string
	err := conn.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&lsn)
	return lsn, err
}

// ReadMarkerAfter waits until the replica's replay passed lsn, then reads the
// row.
func ReadMarkerAfter(ctx context.Context, conn *pgx.Conn, marker, lsn string, timeout time.Duration) (string, error) {
	start := time.Now()
	var replayed string
	err := Poll(ctx, timeout, 200*time.Millisecond, func() error {
		var passed bool
		if err := conn.QueryRow(ctx, "SELECT pg_is_in_recovery() AND pg_last_wal_replay_lsn() >= $1::pg_lsn, pg_last_wal_replay_lsn()::text", lsn).Scan(&passed, &replayed); err != nil {
			return err
		}
		if !passed {
			return fmt.Errorf("replay at %s, write at %s", replayed, lsn)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	var got string
	if err := conn.QueryRow(ctx, "SELECT id FROM "+pgCheckTable+" WHERE id = $1", marker).Scan(&got); err != nil {
		return "", fmt.Errorf("row %s not found after replay passed %s: %w", marker, lsn, err)
	}
	return fmt.Sprintf("row found; replay %s ≥ %s after %s", replayed, lsn, time.Since(start).Round(time.Millisecond)), nil
}

// ReplicationStatus reads pg_stat_replication on the primary.
func ReplicationStatus(ctx context.Context, conn *pgx.Conn, want int, maxLag time.Duration) (string, error) {
	rows, err := conn.Query(ctx, "SELECT application_name, state, sync_state, COALESCE(EXTRACT(EPOCH FROM replay_lag), 0)::float8 FROM pg_stat_replication ORDER BY application_name")
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var desc []string
	streaming := 0
	var worst float64
	for rows.Next() {
		var name, state, sync string
		var lag float64
		if err := rows.Scan(&name, &state, &sync, &lag); err != nil {
			return "", err
		}
		desc = append(desc, fmt.Sprintf("%s %s %s lag %.3fs", name, state, sync, lag))
		if state == "streaming" {
			streaming++
		}
		worst = max(worst, lag)
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	ev := strings.Join(desc, "; ")
	if streaming != want {
		return ev, fmt.Errorf("%d streaming replicas, want %d", streaming, want)
	}
	if time.Duration(worst*float64(time.Second)) > maxLag {
		return ev, fmt.Errorf("replay lag %.3fs over %s", worst, maxLag)
	}
	return ev, nil
}

// ConnectPostgres connects to database on addr as user. The password is set
// on the parsed config, never written into the connection string: pgx
// quotes the string in parse errors, and a reserved character in the
// password would break it. The error is scrubbed of the password too.
func ConnectPostgres(ctx context.Context, addr, user, password, database string, timeout time.Duration) (*pgx.Conn, error) {
	cfg, err := PostgresConfig(addr, user, password, database, timeout)
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	return conn, kube.NewScrubber(password).Error(err)
}

// PostgresConfig is the pgx config ConnectPostgres uses (plain TCP: the
// hop is a port-forward to the pod).
func PostgresConfig(addr, user, password, database string, timeout time.Duration) (*pgx.ConnConfig, error) {
	u := url.URL{Scheme: "postgres", User: url.User(user), Host: addr, Path: "/" + database,
		RawQuery: "sslmode=disable&connect_timeout=" + strconv.Itoa(max(1, int(timeout.Seconds())))}
	cfg, err := pgx.ParseConfig(u.String())
	if err != nil {
		return nil, fmt.Errorf("postgres config for %s: %w", addr, err)
	}
	cfg.Password = password
	return cfg, nil
}
