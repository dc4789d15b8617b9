package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/statex/infrastructure/pipelines/kube"
	"github.com/statex/infrastructure/pipelines/poll"
)

// PostgreSQL: three Patroni members with Kubernetes as the DCS, one of
// them a synchronous standby (manifests/base/postgres).
const (
	// PostgresService routes to the leader: what applications connect to.
	PostgresService = "postgres"
	// PostgresHeadless has every member behind it, leader or not.
	PostgresHeadless = "postgres-headless"
	// PostgresContainer runs Patroni and PostgreSQL.
	PostgresContainer = "postgres"
	// PostgresSecret holds the superuser's password under
	// PostgresSuperuserKey.
	PostgresSecret       = "postgres-credentials"
	PostgresSuperuserKey = "superuser-password"
	PostgresSuperuser    = "postgres"
	PostgresDatabase     = "postgres"
	PostgresPort         = 5432
	// PatroniPort is Patroni's REST API (GET /cluster).
	PatroniPort = 8008
	// PostgresMembers is the seed's cluster size.
	PostgresMembers = 3
)

// PatroniClusterCommand prints Patroni's GET /cluster from inside a
// member's container (ParsePatroniCluster reads it): the REST API answers on
// the pod's loopback, and python3 is in the image because Patroni is
// Python, so no debug container is needed.
func PatroniClusterCommand() []string {
	return []string{"python3", "-c", "import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:8008/cluster',timeout=5).read().decode())"}
}

// markerTable holds the rows WriteMarker writes.
const markerTable = "statex_check"

// PostgresPassword reads the superuser's password.
func PostgresPassword(ctx context.Context, c *kube.Cluster) (string, error) {
	return c.Secret(ctx, PostgresSecret, PostgresSuperuserKey)
}

// ConnectPostgresPod connects to the postgres database of pod as the
// superuser through a port-forward; a failed connection drops the
// forward, so the next try reaches the pod that now bears the name.
func ConnectPostgresPod(ctx context.Context, c *kube.Cluster, pod, password string, timeout time.Duration) (*pgx.Conn, error) {
	addr, err := c.Forward(ctx, pod, PostgresPort)
	if err != nil {
		return nil, err
	}
	conn, err := ConnectPostgres(ctx, addr, PostgresSuperuser, password, PostgresDatabase, timeout)
	if err != nil {
		c.Forget(pod)
	}
	return conn, err
}

// PatroniHealthy asks Patroni (on each ready member in turn, until one
// answers) for the cluster and judges it with JudgePatroni.
func PatroniHealthy(ctx context.Context, c *kube.Cluster, size int) (evidence, leader string, replicas []string, err error) {
	pods, err := c.ServicePods(ctx, PostgresHeadless)
	if err != nil {
		return "", "", nil, err
	}
	lastErr := errors.New("no ready postgres pod")
	for _, pod := range pods {
		addr, err := c.Forward(ctx, pod, PatroniPort)
		if err != nil {
			lastErr = err
			continue
		}
		members, err := PatroniMembers(ctx, "http://"+addr)
		if err != nil {
			c.Forget(pod)
			lastErr = err
			continue
		}
		return JudgePatroni(members, size)
	}
	return "", "", nil, lastErr
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
	err := RequestJSON(ctx, http.MethodGet, base+"/cluster", "", "", "", &c)
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
	if _, err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+markerTable+" (id text PRIMARY KEY, written_at timestamptz NOT NULL DEFAULT now())"); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, "INSERT INTO "+markerTable+" (id) VALUES ($1)", marker); err != nil {
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
	err := poll.Until(ctx, timeout, 200*time.Millisecond, func() error {
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
	if err := conn.QueryRow(ctx, "SELECT id FROM "+markerTable+" WHERE id = $1", marker).Scan(&got); err != nil {
		return "", fmt.Errorf("row %s not found after replay passed %s: %w", marker, lsn, err)
	}
	return fmt.Sprintf("row found; replay %s ≥ %s after %s", replayed, lsn, time.Since(start).Round(time.Millisecond)), nil
}

// DeleteMarker removes the row WriteMarker wrote and returns how many
// rows went.
func DeleteMarker(ctx context.Context, conn *pgx.Conn, marker string) (int64, error) {
	tag, err := conn.Exec(ctx, "DELETE FROM "+markerTable+" WHERE id = $1", marker)
	return tag.RowsAffected(), err
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
