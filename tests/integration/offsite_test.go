package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/testcontainers/testcontainers-go"
	tcexec "github.com/testcontainers/testcontainers-go/exec"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/statex/infrastructure/pipelines/manifest"
	"github.com/statex/infrastructure/pipelines/offsite"
)

const siteRoot, siteRootPassword = "offsite-root", "offsite-root-secret"

// startSite runs the project's MinIO image as a backup site and returns
// how to exec in it and a client for a user.
func startSite(t *testing.T) (offsite.Exec, func(user, secret string) *minio.Client) {
	t.Helper()
	c := start(t, requireImage(t, "minio"),
		testcontainers.WithEnv(map[string]string{"MINIO_ROOT_USER": siteRoot, "MINIO_ROOT_PASSWORD": siteRootPassword}),
		testcontainers.WithCmd("server", "/tmp/data", "--address", ":9000"),
		testcontainers.WithExposedPorts("9000/tcp"),
		testcontainers.WithWaitStrategy(wait.ForHTTP("/minio/health/cluster").WithPort("9000/tcp").WithStartupTimeout(time.Minute)))
	addr := endpoint(t, c, "9000/tcp")
	exec := func(ctx context.Context, cmd []string) (string, error) {
		code, r, err := c.Exec(ctx, cmd, tcexec.Multiplexed())
		if err != nil {
			return "", err
		}
		out, _ := io.ReadAll(r)
		if code != 0 {
			return string(out), fmt.Errorf("exit %d: %s", code, strings.TrimSpace(string(out)))
		}
		return string(out), nil
	}
	client := func(user, secret string) *minio.Client {
		mc, err := minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4(user, secret, "")})
		if err != nil {
			t.Fatal(err)
		}
		return mc
	}
	return exec, client
}

func jobSecrets(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, job := range append(offsite.Jobs, offsite.ReplicationJob) {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		// A leading "-" as generated keys may have: mc must not read it as a flag.
		out[job] = "-" + hex.EncodeToString(b)
	}
	return out
}

func put(ctx context.Context, mc *minio.Client, bucket, key, body string) (minio.UploadInfo, error) {
	return mc.PutObject(ctx, bucket, key, strings.NewReader(body), int64(len(body)), minio.PutObjectOptions{})
}

func denied(err error) bool {
	return err != nil && minio.ToErrorResponse(err).Code == "AccessDenied"
}

// The backup site as Ensure leaves it: a backup inside its retention
// window cannot be deleted (by its job, or by root without lifting the
// lock) or overwritten; each job reaches its own prefix only; the
// replication user writes the replica bucket and nothing else; and
// running Ensure again changes nothing.
func TestOffsiteBackupsCannotBeDeletedInsideRetention(t *testing.T) {
	exec, client := startSite(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	target := &manifest.Backup{Site: "kind", Bucket: "statex-backups", ReplicaBucket: "statex-objects",
		CredentialsSecret: "backup-credentials", Retention: "24h", RetentionMode: "governance"}
	secrets := jobSecrets(t)
	for range 2 { // idempotent
		if err := offsite.Ensure(ctx, exec, target, secrets); err != nil {
			t.Fatal(err)
		}
	}
	root := client(siteRoot, siteRootPassword)
	lock, mode, validity, unit, err := root.GetObjectLockConfig(ctx, target.Bucket)
	if err != nil || lock != "Enabled" || mode == nil || *mode != minio.Governance || validity == nil || *validity != 1 || unit == nil || *unit != minio.Days {
		t.Fatalf("object lock: %q %v %v %v, err %v", lock, mode, validity, unit, err)
	}
	if v, err := root.GetBucketVersioning(ctx, target.ReplicaBucket); err != nil || !v.Enabled() {
		t.Fatalf("replica bucket versioning: %+v, %v", v, err)
	}

	redis := client(offsite.User("redis"), secrets["redis"])
	first, err := put(ctx, redis, target.Bucket, "redis/dump.rdb", "first")
	if err != nil {
		t.Fatalf("redis job writes its own prefix: %v", err)
	}
	// Overwriting makes a new version; the backup it replaced stays.
	if _, err := put(ctx, redis, target.Bucket, "redis/dump.rdb", "second"); err != nil {
		t.Fatal(err)
	}
	obj, err := redis.GetObject(ctx, target.Bucket, "redis/dump.rdb", minio.GetObjectOptions{VersionID: first.VersionID})
	if err != nil {
		t.Fatal(err)
	}
	if body, err := io.ReadAll(obj); err != nil || string(body) != "first" {
		t.Errorf("the overwritten backup reads %q, %v; want it kept", body, err)
	}
	// Deleting a version inside retention: refused to the job, with or
	// without asking to lift the lock, and to root unless it does.
	for who, mc := range map[string]*minio.Client{"redis job": redis, "root": root} {
		err := mc.RemoveObject(ctx, target.Bucket, "redis/dump.rdb", minio.RemoveObjectOptions{VersionID: first.VersionID})
		if err == nil {
			t.Errorf("%s deleted a locked backup version", who)
		}
	}
	if err := redis.RemoveObject(ctx, target.Bucket, "redis/dump.rdb", minio.RemoveObjectOptions{VersionID: first.VersionID, GovernanceBypass: true}); !denied(err) {
		t.Errorf("redis job lifting the lock: %v, want AccessDenied", err)
	}
	// A plain delete lays a marker (pgBackRest's expire does this); the
	// version under it is still there.
	if err := redis.RemoveObject(ctx, target.Bucket, "redis/dump.rdb", minio.RemoveObjectOptions{}); err != nil {
		t.Errorf("delete marker: %v", err)
	}
	if _, err := root.StatObject(ctx, target.Bucket, "redis/dump.rdb", minio.StatObjectOptions{VersionID: first.VersionID}); err != nil {
		t.Errorf("the backup under the marker: %v", err)
	}

	// Each job reaches its own prefix only.
	if _, err := put(ctx, redis, target.Bucket, "postgres/base.tar", "x"); !denied(err) {
		t.Errorf("redis job writing postgres/: %v, want AccessDenied", err)
	}
	if _, err := put(ctx, root, target.Bucket, "postgres/base.tar", "pg"); err != nil {
		t.Fatal(err)
	}
	if _, err := redis.StatObject(ctx, target.Bucket, "postgres/base.tar", minio.StatObjectOptions{}); err == nil {
		t.Error("redis job read postgres/")
	}
	for o := range redis.ListObjects(ctx, target.Bucket, minio.ListObjectsOptions{Prefix: "postgres/", Recursive: true}) {
		if o.Err == nil {
			t.Errorf("redis job listed %s", o.Key)
		} else if !denied(o.Err) {
			t.Errorf("redis job listing postgres/: %v, want AccessDenied", o.Err)
		}
	}
	// No job changes the bucket's rules.
	if err := redis.SetObjectLockConfig(ctx, target.Bucket, nil, nil, nil); !denied(err) {
		t.Errorf("redis job clearing the lock configuration: %v, want AccessDenied", err)
	}
	// A wrong secret is no way in.
	if _, err := put(ctx, client(offsite.User("redis"), "wrong"), target.Bucket, "redis/x", "x"); err == nil {
		t.Error("a wrong secret key wrote a backup")
	}

	// Replication writes the replica bucket, never the backups, and never
	// deletes.
	repl := client(offsite.User(offsite.ReplicationJob), secrets[offsite.ReplicationJob])
	if _, err := put(ctx, repl, target.ReplicaBucket, "platform/object", "o"); err != nil {
		t.Errorf("replication into the replica bucket: %v", err)
	}
	if err := repl.RemoveObject(ctx, target.ReplicaBucket, "platform/object", minio.RemoveObjectOptions{}); !denied(err) {
		t.Errorf("replication deleting: %v, want AccessDenied", err)
	}
	if _, err := put(ctx, repl, target.Bucket, "redis/x", "x"); !denied(err) {
		t.Errorf("replication writing the backups: %v, want AccessDenied", err)
	}
}

// In compliance mode nobody lifts the lock, not even root.
func TestOffsiteComplianceLockHoldsAgainstRoot(t *testing.T) {
	exec, client := startSite(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	target := &manifest.Backup{Site: "kind", Bucket: "statex-locked", ReplicaBucket: "statex-replica",
		CredentialsSecret: "backup-credentials", Retention: "24h", RetentionMode: "compliance"}
	if err := offsite.Ensure(ctx, exec, target, jobSecrets(t)); err != nil {
		t.Fatal(err)
	}
	root := client(siteRoot, siteRootPassword)
	info, err := root.PutObject(ctx, target.Bucket, "postgres/wal", bytes.NewReader([]byte("wal")), 3, minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := root.RemoveObject(ctx, target.Bucket, "postgres/wal", minio.RemoveObjectOptions{VersionID: info.VersionID, GovernanceBypass: true}); err == nil {
		t.Error("root deleted a version under a compliance lock")
	}
	// A job without its secret is refused setup, not given root.
	secrets := jobSecrets(t)
	delete(secrets, "maildir")
	if err := offsite.Ensure(ctx, exec, target, secrets); err == nil || !strings.Contains(err.Error(), "no secret key for job maildir") {
		t.Errorf("Ensure without maildir's secret: %v", err)
	}
}
