package integration

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// The statex/postgres image runs Patroni, whose DCS is the Kubernetes API;
// outside a cluster the test runs the image's PostgreSQL 17 directly, as its
// own non-root user, with scram-sha-256 over TCP.
func TestPostgresImageServesSQL(t *testing.T) {
	image := requireImage(t, "postgres")
	const password = "integration-secret"
	script := `set -e
printf '%s' "$PGPASS" > /tmp/pw
initdb -D "$PGDATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 --pwfile=/tmp/pw >/dev/null
rm /tmp/pw
echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/tmp`
	c := start(t, image,
		testcontainers.WithEntrypoint("/bin/bash", "-c", script),
		testcontainers.WithCmd(),
		testcontainers.WithEnv(map[string]string{"PGPASS": password}),
		testcontainers.WithExposedPorts("5432/tcp"),
		testcontainers.WithWaitStrategy(
			wait.ForLog("database system is ready to accept connections").WithStartupTimeout(2*time.Minute),
			wait.ForListeningPort("5432/tcp"),
		),
	)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, "postgres://postgres:"+password+"@"+endpoint(t, c, "5432/tcp")+"/postgres?sslmode=disable")
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)

	var version string
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil || !strings.HasPrefix(version, "17.") {
		t.Fatalf("server_version = %q, %v; want 17.x", version, err)
	}
	table, want := unique("probe"), unique("row")
	if _, err := conn.Exec(ctx, "CREATE TABLE "+table+" (id serial PRIMARY KEY, v text NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO "+table+" (v) VALUES ($1)", want); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := conn.QueryRow(ctx, "SELECT v FROM "+table+" WHERE v = $1", want).Scan(&got); err != nil || got != want {
		t.Fatalf("read back %q, %v; want %q", got, err, want)
	}
	// A wrong password must be refused: authentication is really on.
	if bad, err := pgx.Connect(ctx, "postgres://postgres:wrong@"+endpoint(t, c, "5432/tcp")+"/postgres?sslmode=disable"); err == nil {
		bad.Close(ctx)
		t.Fatal("connected with a wrong password")
	}
	// The server runs as the image's fixed non-root uid.
	_, out, err := c.Exec(ctx, []string{"id", "-u"})
	if err != nil {
		t.Fatal(err)
	}
	buf := new(strings.Builder)
	_, _ = io.Copy(buf, out)
	if !strings.Contains(buf.String(), "999") {
		t.Errorf("uid = %q, want 999", buf.String())
	}
}
