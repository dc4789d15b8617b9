// Package offsite is the other site: where an environment's backups go so
// that they survive the loss of what they protect. For a kind environment
// the pipeline runs it, a MinIO of the project's own image in a container
// on the kind Docker network, outside the cluster, with a Docker volume of
// its own (Start); it outlives the namespace and the cluster. Setup
// (Ensure) is the same for any MinIO site: a backup bucket that is
// versioned and object-locked (a backup cannot be deleted or overwritten
// inside its retention window), a replica bucket that is versioned, and
// one user per backup job whose policy reaches only that job's prefix and
// can neither remove a version nor lift a lock. No job holds the site's
// root credentials.
//
// The admin API (users, policies) is driven with mc inside the site's
// container: MinIO's admin client library is AGPL, so it is run, never
// imported.
package offsite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/statex/infrastructure/pipelines/manifest"
)

// Jobs are the platform's backup jobs, each with its own S3 user and the
// prefix <job>/ in the backup bucket.
var Jobs = []string{"postgres", "redis", "rabbitmq", "grafana", "mail-db", "maildir", "elasticsearch"}

// ReplicationJob is the identity the platform's MinIO replicates its
// buckets with, into the replica bucket only.
const ReplicationJob = "replication"

// User is a job's S3 user (its access key) at the site.
func User(job string) string { return "backup-" + job }

// Exec runs a command in the site's container and returns its output; a
// non-zero exit is an error with that output.
type Exec func(ctx context.Context, cmd []string) (string, error)

// statement is one statement of an IAM policy.
type statement struct {
	Effect    string         `json:"Effect"`
	Action    []string       `json:"Action"`
	Resource  []string       `json:"Resource"`
	Condition map[string]any `json:"Condition,omitempty"`
}

type policy struct {
	Version   string      `json:"Version"`
	Statement []statement `json:"Statement"`
}

// neverAllowed are the actions no backup job is given, and each job's
// policy denies outright: removing a version, shortening or lifting a lock,
// and changing the bucket's own rules.
var neverAllowed = []string{
	"s3:DeleteObjectVersion", "s3:BypassGovernanceRetention", "s3:PutObjectRetention", "s3:PutObjectLegalHold",
	"s3:PutBucketObjectLockConfiguration", "s3:PutBucketVersioning", "s3:PutLifecycleConfiguration",
	"s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:DeleteBucket", "s3:PutReplicationConfiguration",
}

// JobPolicy is a backup job's policy: list, read and write under its own
// prefix of the backup bucket. DeleteObject is allowed because in a
// versioned bucket it only lays a delete marker (pgBackRest's expire, a
// job's pruning); the locked versions stay, and removing one is denied.
func JobPolicy(bucket, job string) []byte {
	arn := "arn:aws:s3:::" + bucket
	return mustJSON(policy{Version: "2012-10-17", Statement: []statement{
		{Effect: "Allow", Action: []string{"s3:GetBucketLocation", "s3:GetBucketVersioning", "s3:GetBucketObjectLockConfiguration"}, Resource: []string{arn}},
		{Effect: "Allow", Action: []string{"s3:ListBucket", "s3:ListBucketVersions"}, Resource: []string{arn},
			Condition: map[string]any{"StringLike": map[string]any{"s3:prefix": []string{job + "/*", job + "/"}}}},
		{Effect: "Allow", Action: []string{"s3:PutObject", "s3:GetObject", "s3:GetObjectVersion", "s3:DeleteObject",
			"s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "s3:GetObjectRetention"}, Resource: []string{arn + "/" + job + "/*"}},
		{Effect: "Deny", Action: neverAllowed, Resource: []string{arn, arn + "/*"}},
	}})
}

// ReplicationPolicy is what a MinIO replicating into the replica bucket
// needs there, and no more: deletes are never replicated into it.
func ReplicationPolicy(replicaBucket string) []byte {
	arn := "arn:aws:s3:::" + replicaBucket
	return mustJSON(policy{Version: "2012-10-17", Statement: []statement{
		{Effect: "Allow", Action: []string{"s3:GetBucketLocation", "s3:GetBucketVersioning", "s3:GetBucketObjectLockConfiguration",
			"s3:ListBucket", "s3:GetReplicationConfiguration"}, Resource: []string{arn}},
		{Effect: "Allow", Action: []string{"s3:ReplicateObject", "s3:ReplicateTags", "s3:GetObject", "s3:GetObjectVersion",
			"s3:GetObjectVersionTagging", "s3:PutObject"}, Resource: []string{arn + "/*"}},
		{Effect: "Deny", Action: append([]string{"s3:ReplicateDelete", "s3:DeleteObject"}, neverAllowed...), Resource: []string{arn, arn + "/*"}},
	}})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // static shapes: cannot fail
	}
	return b
}

// lifecycle keeps backups for the retention window and then lets them go:
// current versions expire after it, replaced and deleted ones after it too,
// and markers left with nothing behind them are cleaned up.
func lifecycle(days int) []byte {
	return mustJSON(map[string]any{"Rules": []map[string]any{{
		"ID": "statex-retention", "Status": "Enabled", "Filter": map[string]any{"Prefix": ""},
		"Expiration":                     map[string]any{"Days": days},
		"NoncurrentVersionExpiration":    map[string]any{"NoncurrentDays": days},
		"AbortIncompleteMultipartUpload": map[string]any{"DaysAfterInitiation": 1},
	}, {
		"ID": "statex-markers", "Status": "Enabled", "Filter": map[string]any{"Prefix": ""},
		"Expiration": map[string]any{"ExpiredObjectDeleteMarker": true},
	}}})
}

// siteEnv points mc at the site from inside its container, with the root
// credentials the container already has: they never cross into this
// process, its arguments or its logs. A site the pipeline runs serves TLS
// (STATEX_SITE_SCHEME=https, its CA in SSL_CERT_FILE).
const siteEnv = `MC_HOST_site="${STATEX_SITE_SCHEME:-http}://${MINIO_ROOT_USER}:${MINIO_ROOT_PASSWORD}@127.0.0.1:9000"`

// mc runs mc against the site.
func mc(ctx context.Context, exec Exec, args ...string) (string, error) {
	script := siteEnv + ` exec mc --no-color --quiet --config-dir /tmp/.mc "$@"`
	out, err := exec(ctx, append([]string{"sh", "-c", script, "mc"}, args...))
	if err != nil {
		return out, fmt.Errorf("mc %s: %w", strings.Join(redactArgs(args), " "), err)
	}
	return out, nil
}

// mcWith runs mc with data (a policy, a lifecycle: nothing secret) in a
// temporary file in the container: "{}" in args is replaced by its path,
// and with asStdin the file is also mc's stdin.
func mcWith(ctx context.Context, exec Exec, data []byte, asStdin bool, args ...string) (string, error) {
	in := "/dev/null"
	if asStdin {
		in = `"$f"`
	}
	// $1 is the data; "for a do" walks the rest as they were when it
	// began, so what it appends comes after them, and shift drops them.
	script := `f=$(mktemp) || exit 1
printf '%s' "$1" > "$f"
shift
n=$#
for a do
  [ "$a" = "{}" ] && a="$f"
  set -- "$@" "$a"
done
shift "$n"
` + siteEnv + ` mc --no-color --quiet --config-dir /tmp/.mc "$@" < ` + in + `
rc=$?
rm -f "$f"
exit "$rc"`
	out, err := exec(ctx, append([]string{"sh", "-c", script, "mc", string(data)}, args...))
	if err != nil {
		return out, fmt.Errorf("mc %s: %w", strings.Join(args, " "), err)
	}
	return out, nil
}

// redactArgs hides the secret key of "user add ALIAS USER SECRET".
func redactArgs(args []string) []string {
	out := slices.Clone(args)
	for i := 0; i+1 < len(out); i++ {
		if out[i] == "user" && out[i+1] == "add" {
			out[len(out)-1] = "[redacted]"
		}
	}
	return out
}

// Ensure sets the site up for b, idempotently: EnsureBuckets, then
// EnsureJobs.
func Ensure(ctx context.Context, exec Exec, b *manifest.Backup, secrets map[string]string) error {
	if err := EnsureBuckets(ctx, exec, b); err != nil {
		return err
	}
	return EnsureJobs(ctx, exec, b, secrets)
}

// EnsureBuckets makes the buckets with their versioning, lock and
// lifecycle, idempotently.
func EnsureBuckets(ctx context.Context, exec Exec, b *manifest.Backup) error {
	days := b.RetentionDays()
	if days < 1 {
		return fmt.Errorf("backup target: retention %q is under a day", b.Retention)
	}
	mode := "GOVERNANCE"
	if b.RetentionMode == "compliance" {
		mode = "COMPLIANCE"
	}
	steps := [][]string{
		// Object lock can only be turned on when a bucket is made, and it
		// turns versioning on with it.
		{"mb", "--ignore-existing", "--with-lock", "site/" + b.Bucket},
		{"retention", "set", "--default", mode, fmt.Sprintf("%dd", days), "site/" + b.Bucket},
		{"mb", "--ignore-existing", "site/" + b.ReplicaBucket},
		{"version", "enable", "site/" + b.ReplicaBucket},
	}
	for _, s := range steps {
		if _, err := mc(ctx, exec, s...); err != nil {
			return err
		}
	}
	// A whole configuration replaces the last one: re-running adds no rule.
	_, err := mcWith(ctx, exec, lifecycle(days), true, "ilm", "import", "site/"+b.Bucket)
	return err
}

// EnsureJobs gives every job, and ReplicationJob, its policy and its user
// with the secret key secrets[job] (the environment's credentials Secret),
// idempotently: a key that changed (a namespace re-created) is updated. A
// job without a secret is an error: no job falls back to root.
func EnsureJobs(ctx context.Context, exec Exec, b *manifest.Backup, secrets map[string]string) error {
	jobs := append(slices.Clone(Jobs), ReplicationJob)
	for _, job := range jobs {
		if secrets[job] == "" {
			return fmt.Errorf("backup target: no secret key for job %s in %s", job, b.CredentialsSecret)
		}
	}
	for _, job := range jobs {
		doc := JobPolicy(b.Bucket, job)
		if job == ReplicationJob {
			doc = ReplicationPolicy(b.ReplicaBucket)
		}
		if _, err := mcWith(ctx, exec, doc, false, "admin", "policy", "create", "site", User(job), "{}"); err != nil {
			return err
		}
		// "--": a generated key may begin with "-", which mc would read
		// as a flag (and quote back in its error).
		if _, err := mc(ctx, exec, "admin", "user", "add", "--", "site", User(job), secrets[job]); err != nil {
			return errors.New(strings.ReplaceAll(err.Error(), secrets[job], "[redacted]"))
		}
		out, err := mc(ctx, exec, "admin", "policy", "attach", "site", User(job), "--user", User(job))
		if err != nil && !strings.Contains(out+err.Error(), "already") {
			return err
		}
	}
	return nil
}
