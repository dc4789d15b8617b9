package offsite

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/statex/infrastructure/pipelines/internal/testrepo"
)

// Every job has its key in each environment's credentials Secret, and the
// Secret holds no key that is not a job (a stray key is a user nobody
// set up, or a job left out).
func TestEveryJobHasItsKeyInTheCredentialsSecret(t *testing.T) {
	envs := testrepo.Environments(t)
	want := append(slices.Clone(Jobs), ReplicationJob)
	slices.Sort(want)
	for _, env := range envs.Environments {
		if env.Backup == nil {
			continue
		}
		var keys []string
		for _, s := range envs.GeneratedSecrets {
			if s.Name == env.Backup.CredentialsSecret {
				keys = slices.Sorted(slices.Values(s.Keys))
			}
		}
		if !slices.Equal(keys, want) {
			t.Errorf("%s: %s keys %v, want %v", env.Name, env.Backup.CredentialsSecret, keys, want)
		}
	}
}

// A job's policy denies what would remove or unlock a backup, and reaches
// its own prefix only; the real site enforces it in
// tests/integration's TestOffsiteBackupsCannotBeDeletedInsideRetention.
func TestJobPolicyReachesItsPrefixOnly(t *testing.T) {
	var p policy
	if err := json.Unmarshal(JobPolicy("b", "redis"), &p); err != nil {
		t.Fatal(err)
	}
	var denied []string
	for _, st := range p.Statement {
		for _, r := range st.Resource {
			if st.Effect == "Allow" && strings.HasPrefix(r, "arn:aws:s3:::b/") && r != "arn:aws:s3:::b/redis/*" {
				t.Errorf("allows %v on %s", st.Action, r)
			}
		}
		if st.Effect == "Deny" {
			denied = append(denied, st.Action...)
		}
	}
	for _, a := range []string{"s3:DeleteObjectVersion", "s3:BypassGovernanceRetention", "s3:PutObjectRetention", "s3:PutBucketObjectLockConfiguration"} {
		if !slices.Contains(denied, a) {
			t.Errorf("%s not denied", a)
		}
	}
}

// A user's secret key never shows in an error.
func TestRedactArgsHidesTheSecretKey(t *testing.T) {
	got := strings.Join(redactArgs([]string{"admin", "user", "add", "site", "backup-redis", "s3cr3t"}), " ")
	if strings.Contains(got, "s3cr3t") || got != "admin user add site backup-redis [redacted]" {
		t.Errorf("%q", got)
	}
}
