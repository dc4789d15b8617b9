package integration

// The protocol logic of `statex check` and `statex drill`
// (pipelines/service) against real servers from the project's images,
// without a cluster: the same functions the checks and drills call through
// port-forwards on kind.

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/moby/moby/api/pkg/stdcopy"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/statex/infrastructure/pipelines/poll"
	"github.com/statex/infrastructure/pipelines/service"
)

// A primary and a streaming replica (pg_basebackup): the marker written on
// the primary is read on the replica once replay passes its LSN, and
// pg_stat_replication shows the replica streaming.
func TestCheckPostgresReplication(t *testing.T) {
	image := requireImage(t, "postgres")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	nw := newNetwork(t, ctx)
	const password = "integration-secret"
	primaryScript := `set -e
printf '%s' "$PGPASS" > /tmp/pw
initdb -D "$PGDATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 --pwfile=/tmp/pw >/dev/null
rm /tmp/pw
echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
echo "host replication all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/tmp -c wal_level=replica -c max_wal_senders=4`
	replicaScript := `set -e
for i in $(seq 1 60); do pg_isready -h pg-primary -q && break; sleep 1; done
PGPASSWORD="$PGPASS" pg_basebackup -h pg-primary -U postgres -D "$PGDATA" -R -X stream -d "application_name=replica-1"
chmod 700 "$PGDATA"
exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/tmp`
	pgStart := func(alias, script, readyLog string) *testcontainers.DockerContainer {
		return start(t, image, network.WithNetwork([]string{alias}, nw),
			testcontainers.WithEntrypoint("/bin/bash", "-c", script), testcontainers.WithCmd(),
			testcontainers.WithEnv(map[string]string{"PGPASS": password}),
			testcontainers.WithExposedPorts("5432/tcp"),
			testcontainers.WithWaitStrategy(wait.ForLog(readyLog).WithStartupTimeout(2*time.Minute), wait.ForListeningPort("5432/tcp")))
	}
	primary := pgStart("pg-primary", primaryScript, "database system is ready to accept connections")
	replica := pgStart("pg-replica", replicaScript, "started streaming WAL")
	connect := func(c *testcontainers.DockerContainer) *pgx.Conn {
		conn, err := pgx.Connect(ctx, "postgres://postgres:"+password+"@"+endpoint(t, c, "5432/tcp")+"/postgres?sslmode=disable")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
		return conn
	}
	p, r := connect(primary), connect(replica)
	marker := unique("check")
	lsn, err := service.WriteMarker(ctx, p, marker)
	if err != nil {
		t.Fatalf("WriteMarker: %v", err)
	}
	ev, err := service.ReadMarkerAfter(ctx, r, marker, lsn, 30*time.Second)
	if err != nil {
		t.Fatalf("ReadMarkerAfter: %v", err)
	}
	t.Log(ev)
	if _, err := service.ReadMarkerAfter(ctx, r, "absent-"+marker, lsn, 2*time.Second); err == nil {
		t.Error("ReadMarkerAfter found a row that was never written")
	}
	// On the primary (not in recovery) the replay condition never holds.
	if _, err := service.ReadMarkerAfter(ctx, p, marker, lsn, 2*time.Second); err == nil {
		t.Error("ReadMarkerAfter accepted the primary as a replica")
	}
	ev, err = service.ReplicationStatus(ctx, p, 1, 10*time.Second)
	if err != nil || !strings.Contains(ev, "replica-1 streaming") {
		t.Fatalf("ReplicationStatus = %q, %v", ev, err)
	}
	if _, err := service.ReplicationStatus(ctx, p, 2, 10*time.Second); err == nil {
		t.Error("ReplicationStatus accepted 1 replica when 2 are wanted")
	}
}

// A master, a replica and a Sentinel: the check's write waits for the
// replica, the read is served by the replica, the Sentinel names the master.
func TestCheckRedisSentinelWriteRead(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	trio := startRedisTrio(t, ctx)
	master, replica, sentinel, masterIP := trio.master, trio.replica, trio.sentinel, trio.masterIP
	const password = redisPassword
	m := redis.NewClient(&redis.Options{Addr: endpoint(t, master, "6379/tcp"), Password: password})
	defer m.Close()
	r := redis.NewClient(&redis.Options{Addr: endpoint(t, replica, "6379/tcp"), Password: password})
	defer r.Close()
	key, value := unique("check"), unique("value")
	if ev, err := service.WriteAndWait(ctx, m, key, value, 1); err != nil {
		t.Fatalf("WriteAndWait: %v", err)
	} else {
		t.Log(ev)
	}
	if _, err := service.WriteAndWait(ctx, r, key, value, 1); err == nil {
		t.Error("WriteAndWait accepted a replica as master")
	}
	if _, err := service.ReadBack(ctx, r, key, value); err != nil {
		t.Fatalf("ReadBack on the replica: %v", err)
	}
	if _, err := service.ReadBack(ctx, m, key, value); err == nil {
		t.Error("ReadBack accepted a read served by the master")
	}
	s := redis.NewSentinelClient(&redis.Options{Addr: endpoint(t, sentinel, "26379/tcp")})
	defer s.Close()
	ev, err := service.SentinelsAgree(ctx, []*redis.SentinelClient{s}, "statex", 1)
	if err != nil || !strings.Contains(ev, masterIP+":6379") {
		t.Fatalf("SentinelsAgree = %q, %v; want master %s", ev, err, masterIP)
	}
	if _, err := service.SentinelsAgree(ctx, []*redis.SentinelClient{s}, "statex", 3); err == nil {
		t.Error("SentinelsAgree accepted 1 sentinel when 3 are wanted")
	}
}

// One RabbitMQ node: the check's quorum queue with dead-lettering, publish
// with confirms, reject → DLQ with x-death, and the CLI JSON judged.
func TestCheckRabbitMQQueues(t *testing.T) {
	image := requireImage(t, "rabbitmq")
	conf := "default_user = statex\ndefault_pass = integration-secret\nloopback_users = none\n"
	c := start(t, image,
		testcontainers.WithFiles(testcontainers.ContainerFile{Reader: strings.NewReader(conf), ContainerFilePath: "/etc/rabbitmq/conf.d/10-test.conf", FileMode: 0o644}),
		testcontainers.WithExposedPorts("5672/tcp"),
		testcontainers.WithWaitStrategy(wait.ForLog("Server startup complete").WithStartupTimeout(2*time.Minute), wait.ForListeningPort("5672/tcp")))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := amqp.Dial("amqp://statex:integration-secret@" + endpoint(t, c, "5672/tcp") + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	queue := unique("check")
	if _, err := service.DeclareWithDLQ(conn, queue); err != nil {
		t.Fatal(err)
	}
	if _, err := service.PublishConsume(ctx, conn, queue, "hello"); err != nil {
		t.Fatalf("PublishConsume: %v", err)
	}
	ev, err := service.RejectToDLQ(ctx, conn, queue, "reject-me")
	if err != nil || !strings.Contains(ev, "reason=rejected") {
		t.Fatalf("RejectToDLQ = %q, %v", ev, err)
	}
	out := execOut(t, c, "rabbitmqctl", "-q", "cluster_status", "--formatter", "json")
	if _, err := service.JudgeRabbitCluster(out, 1); err != nil {
		t.Errorf("JudgeRabbitCluster(1 node): %v", err)
	}
	if _, err := service.JudgeRabbitCluster(out, 3); err == nil {
		t.Error("JudgeRabbitCluster accepted 1 node when 3 are wanted")
	}
	out = execOut(t, c, "rabbitmq-queues", "-q", "quorum_status", queue, "--formatter", "json")
	if _, err := service.JudgeQuorumMembers(out, 1); err != nil {
		t.Errorf("JudgeQuorumMembers(1): %v\n%s", err, out)
	}
}

// One MinIO server: health, a small object and a 3-part multipart upload
// read back with matching SHA-256.
func TestCheckMinIOObjects(t *testing.T) {
	image := requireImage(t, "minio")
	c := start(t, image,
		testcontainers.WithEnv(map[string]string{"MINIO_ROOT_USER": "statex", "MINIO_ROOT_PASSWORD": "integration-secret"}),
		testcontainers.WithCmd("server", "/tmp/data", "--address", ":9000"),
		testcontainers.WithExposedPorts("9000/tcp"),
		// /minio/health/cluster, not /ready: ready answers before the
		// erasure set has write quorum, and the check demands quorum.
		testcontainers.WithWaitStrategy(wait.ForHTTP("/minio/health/cluster").WithPort("9000/tcp").WithStartupTimeout(time.Minute)))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	addr := endpoint(t, c, "9000/tcp")
	if _, err := service.MinIOHealth(ctx, []string{addr}, 1); err != nil {
		t.Fatalf("MinIOHealth: %v", err)
	}
	mc, err := minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4("statex", "integration-secret", "")})
	if err != nil {
		t.Fatal(err)
	}
	bucket := strings.ReplaceAll(unique("check"), "_", "-")
	if err := service.MakeOwnBucket(ctx, mc, bucket); err != nil {
		t.Fatal(err)
	}
	// A retried create of our own run-unique bucket (what a client does
	// when a settling server errs after creating it) is not an error; the
	// server really does answer it with BucketAlreadyOwnedByYou.
	if code := minio.ToErrorResponse(mc.MakeBucket(ctx, bucket, minio.MakeBucketOptions{})).Code; code != "BucketAlreadyOwnedByYou" {
		t.Fatalf("second MakeBucket: code %q, want BucketAlreadyOwnedByYou", code)
	}
	if err := service.MakeOwnBucket(ctx, mc, bucket); err != nil {
		t.Fatalf("second create of our own bucket: %v", err)
	}
	if _, err := service.S3RoundTrip(ctx, mc, bucket, "small", 1024, 0); err != nil {
		t.Fatalf("small: %v", err)
	}
	ev, err := service.S3RoundTrip(ctx, mc, bucket, "multipart", 12<<20, 5<<20)
	if err != nil || !strings.Contains(ev, "3 parts") {
		t.Fatalf("multipart = %q, %v", ev, err)
	}
}

// Jaeger all-in-one: a span sent with the OpenTelemetry SDK is found by
// trace ID; an unknown trace ID is not.
func TestCheckJaegerTrace(t *testing.T) {
	image := requireImage(t, "jaeger")
	c := start(t, image,
		testcontainers.WithExposedPorts("4318/tcp", "16686/tcp"),
		testcontainers.WithWaitStrategy(wait.ForListeningPort("4318/tcp").WithStartupTimeout(time.Minute), wait.ForListeningPort("16686/tcp")))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := unique("span")
	id, err := service.SendSpan(ctx, endpoint(t, c, "4318/tcp"), "statex-integration", name)
	if err != nil {
		t.Fatalf("SendSpan: %v", err)
	}
	query := "http://" + endpoint(t, c, "16686/tcp")
	if _, err := service.FindTrace(ctx, query, id, name, 30*time.Second); err != nil {
		t.Fatalf("FindTrace: %v", err)
	}
	if _, err := service.FindTrace(ctx, query, strings.Repeat("0", 31)+"1", name, 2*time.Second); err == nil {
		t.Error("FindTrace found a trace that was never sent")
	}
}

func execOut(t *testing.T, c *testcontainers.DockerContainer, cmd ...string) string {
	t.Helper()
	code, r, err := c.Exec(context.Background(), cmd)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr strings.Builder
	if _, err := stdcopy.StdCopy(&stdout, &stderr, r); err != nil {
		t.Fatal(err)
	}
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", cmd, code, stderr.String())
	}
	return stdout.String()
}

// Prometheus scraping itself and a target that does not exist, with one
// rule group: targets are judged (the dead one fails unless its service is
// excused), rules load, `up` answers.
func TestCheckPrometheusTargetsRulesQuery(t *testing.T) {
	image := requireImage(t, "prometheus")
	config := `global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [/etc/prometheus/rules.yml]
scrape_configs:
  - job_name: prometheus
    static_configs: [{targets: ["localhost:9090"]}]
  - job_name: ghost
    static_configs: [{targets: ["127.0.0.1:1"]}]
`
	rules := `groups:
  - name: check
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
`
	c := start(t, image,
		testcontainers.WithFiles(
			testcontainers.ContainerFile{Reader: strings.NewReader(config), ContainerFilePath: "/etc/prometheus/prometheus.yml", FileMode: 0o644},
			testcontainers.ContainerFile{Reader: strings.NewReader(rules), ContainerFilePath: "/etc/prometheus/rules.yml", FileMode: 0o644}),
		testcontainers.WithCmd("--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/tmp/tsdb", "--web.listen-address=:9090"),
		testcontainers.WithExposedPorts("9090/tcp"),
		testcontainers.WithWaitStrategy(wait.ForHTTP("/-/ready").WithPort("9090/tcp").WithStartupTimeout(time.Minute)))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	base := "http://" + endpoint(t, c, "9090/tcp")
	// Both targets scraped once, or what is seen after the bound is judged.
	var targets []service.PromTarget
	err := poll.Until(ctx, 30*time.Second, 500*time.Millisecond, func() error {
		var err error
		if targets, err = service.PromTargets(ctx, base); err != nil {
			return poll.Stop(err)
		}
		scraped := 0
		for _, tg := range targets {
			if tg.Health != "unknown" {
				scraped++
			}
		}
		if scraped != 2 {
			return errors.New("targets not scraped yet")
		}
		return nil
	})
	if _, timedOut := errors.AsType[*poll.TimeoutError](err); err != nil && !timedOut {
		t.Fatal(err)
	}
	if _, err := service.JudgeTargets(targets, nil); err == nil || !strings.Contains(err.Error(), "ghost") {
		t.Errorf("JudgeTargets with a dead target: %v", err)
	}
	if ev, err := service.JudgeTargets(targets, map[string]string{"ghost": "image unavailable offline"}); err != nil || !strings.Contains(ev, "excused") {
		t.Errorf("JudgeTargets excusing the ghost: %q, %v", ev, err)
	}
	if ev, err := service.PromRules(ctx, base); err != nil || !strings.Contains(ev, "1 groups, 1 rules") {
		t.Errorf("PromRules = %q, %v", ev, err)
	}
	if _, err := service.PromQueryUp(ctx, base); err != nil {
		t.Errorf("PromQueryUp: %v", err)
	}
}

// Dovecot from the project's image (its built-in passwd-file config, no
// TLS): a message delivered over LMTP is found by Message-ID over IMAP with
// the check's code; a wrong password and an absent Message-ID fail.
func TestCheckDovecotFindsDeliveredMail(t *testing.T) {
	image := requireImage(t, "dovecot")
	const user, password = "probe@statex.test", "integration-secret"
	c := start(t, image,
		testcontainers.WithFiles(testcontainers.ContainerFile{
			Reader: strings.NewReader(user + ":{PLAIN}" + password + "\n"), ContainerFilePath: "/etc/dovecot/users", FileMode: 0o644,
		}),
		testcontainers.WithExposedPorts("1143/tcp", "2424/tcp"),
		testcontainers.WithWaitStrategy(wait.ForListeningPort("1143/tcp").WithStartupTimeout(time.Minute), wait.ForListeningPort("2424/tcp")))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	msgID := "<" + unique("msg") + "@integration.statex>"
	lmtp, err := net.DialTimeout("tcp", endpoint(t, c, "2424/tcp"), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	lc := smtp.NewClientLMTP(lmtp)
	defer lc.Close()
	if err := lc.Hello("integration.statex"); err != nil {
		t.Fatal(err)
	}
	if err := lc.SendMail("sender@example.org", []string{user}, strings.NewReader(
		"From: sender@example.org\r\nTo: "+user+"\r\nSubject: probe\r\nMessage-ID: "+msgID+"\r\n\r\nbody\r\n")); err != nil {
		t.Fatalf("LMTP delivery: %v", err)
	}
	imapAddr := endpoint(t, c, "1143/tcp")
	if ev, err := service.FindByMessageID(ctx, imapAddr, nil, user, password, msgID, 20*time.Second); err != nil {
		t.Fatalf("FindByMessageID: %v", err)
	} else {
		t.Log(ev)
	}
	if _, err := service.FindByMessageID(ctx, imapAddr, nil, user, "wrong", msgID, 2*time.Second); err == nil {
		t.Error("FindByMessageID logged in with a wrong password")
	}
	if _, err := service.FindByMessageID(ctx, imapAddr, nil, user, password, "<absent@x>", 2*time.Second); err == nil {
		t.Error("FindByMessageID found a message that was never delivered")
	}
}

// Postfix from the project's image with a virtual domain in an inline map:
// the check's unauthenticated RCPT probe sees relaying refused (554) and an
// unknown mailbox refused (550), and reports a mailbox that exists as
// accepted (the check's failure case).
func TestCheckPostfixRefusesRelayAndUnknownMailbox(t *testing.T) {
	image := requireImage(t, "postfix")
	conf := "virtual_mailbox_domains = statex.test\n" +
		"virtual_mailbox_maps = inline:{ {kept@statex.test = ok} }\n" +
		"virtual_transport = discard:\n"
	c := start(t, image,
		testcontainers.WithFiles(testcontainers.ContainerFile{Reader: strings.NewReader(conf), ContainerFilePath: "/etc/postfix/conf.d/10-test.cf", FileMode: 0o644}),
		testcontainers.WithExposedPorts("25/tcp"),
		testcontainers.WithWaitStrategy(wait.ForListeningPort("25/tcp").WithStartupTimeout(time.Minute)))
	addr := endpoint(t, c, "25/tcp")
	if ev, err := service.RcptRefused(addr, "probe@example.org", "someone@example.net"); err != nil || !strings.Contains(ev, "554") {
		t.Errorf("relay: %q, %v; want a 554 refusal", ev, err)
	}
	if ev, err := service.RcptRefused(addr, "probe@example.org", "gone@statex.test"); err != nil || !strings.Contains(ev, "550") {
		t.Errorf("unknown mailbox: %q, %v; want a 550 refusal", ev, err)
	}
	if _, err := service.RcptRefused(addr, "probe@example.org", "kept@statex.test"); err == nil || !strings.Contains(err.Error(), "accepted") {
		t.Errorf("existing mailbox: %v; want the probe to report it accepted", err)
	}
}

// Two Roundcube containers from the project's image sharing one PostgreSQL
// database and des_key, with Dovecot as the IMAP server: the check's web
// client gets a CSRF token, is refused with a wrong password, logs in on the
// first and is still logged in on the second.
func TestCheckRoundcubeSessionMovesBetweenReplicas(t *testing.T) {
	pgImage := requireImage(t, "postgres")
	dovecotImage := requireImage(t, "dovecot")
	rcImage := requireImage(t, "roundcube")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	nw := newNetwork(t, ctx)
	const dbPassword, user, password = "integration-db", "probe@statex.test", "integration-secret"
	pgScript := `set -e
initdb -D "$PGDATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 >/dev/null
echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
postgres -D "$PGDATA" -c listen_addresses='' -c unix_socket_directories=/tmp &
for i in $(seq 1 30); do pg_isready -h /tmp -q && break; sleep 1; done
psql -h /tmp -U postgres -qc "CREATE ROLE roundcube LOGIN PASSWORD '$DBPASS'" -c "CREATE DATABASE roundcube OWNER roundcube"
pg_ctl -D "$PGDATA" stop -m fast >/dev/null
exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/tmp`
	start(t, pgImage, network.WithNetwork([]string{"postgres"}, nw),
		testcontainers.WithEntrypoint("/bin/bash", "-c", pgScript), testcontainers.WithCmd(),
		testcontainers.WithEnv(map[string]string{"DBPASS": dbPassword}),
		testcontainers.WithWaitStrategy(wait.ForLog("database system is ready to accept connections").WithOccurrence(2).WithStartupTimeout(2*time.Minute)))
	start(t, dovecotImage, network.WithNetwork([]string{"dovecot"}, nw),
		testcontainers.WithFiles(testcontainers.ContainerFile{Reader: strings.NewReader(user + ":{PLAIN}" + password + "\n"), ContainerFilePath: "/etc/dovecot/users", FileMode: 0o644}),
		testcontainers.WithWaitStrategy(wait.ForLog("starting up").WithStartupTimeout(time.Minute)))
	env := map[string]string{
		"ROUNDCUBE_DB_DSNW":   "pgsql://roundcube:" + dbPassword + "@postgres/roundcube",
		"ROUNDCUBE_IMAP_HOST": "dovecot:1143",
		"ROUNDCUBE_DES_KEY":   "integration-des-key-0123456789ab",
	}
	// Both replicas start at once, as a Deployment's do: creating the
	// schema must serialise itself (statex-initdb.php's advisory lock).
	var wg sync.WaitGroup
	ctrs := make([]*testcontainers.DockerContainer, 2)
	errs := make([]error, 2)
	for i := range ctrs {
		wg.Go(func() {
			ctrs[i], errs[i] = testcontainers.Run(ctx, rcImage, network.WithNetwork(nil, nw), testcontainers.WithEnv(env),
				testcontainers.WithExposedPorts("8080/tcp"),
				testcontainers.WithWaitStrategy(wait.ForHTTP("/").WithPort("8080/tcp").WithStartupTimeout(2*time.Minute)))
		})
	}
	wg.Wait()
	for i, c := range ctrs {
		testcontainers.CleanupContainer(t, c)
		if errs[i] != nil {
			t.Fatalf("start Roundcube replica %d: %v", i, errs[i])
		}
	}
	first, second := "http://"+endpoint(t, ctrs[0], "8080/tcp"), "http://"+endpoint(t, ctrs[1], "8080/tcp")
	w := service.NewWebmailClient()
	if _, err := w.Token(ctx, first); err != nil {
		t.Fatalf("Token: %v", err)
	}
	if _, err := w.LoginRefused(ctx, first, user, "wrong"); err != nil {
		t.Fatalf("LoginRefused: %v", err)
	}
	if _, err := w.LoggedIn(ctx, second); err == nil {
		t.Fatal("LoggedIn before any login")
	}
	if _, err := w.Login(ctx, first, user, password); err != nil {
		t.Fatalf("Login: %v", err)
	}
	if _, err := w.LoggedIn(ctx, second); err != nil {
		t.Fatalf("session on the second replica: %v", err)
	}
	if _, err := service.NewWebmailClient().LoggedIn(ctx, second); err == nil {
		t.Error("a client without the session cookie is logged in")
	}
}
