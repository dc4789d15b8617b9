package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/statex/infrastructure/pipelines/backup"
	"github.com/statex/infrastructure/pipelines/check"
)

// siteMC runs mc as the backup site's root inside its container (the
// credentials never leave it).
func siteMC(t *testing.T, container string, args ...string) {
	t.Helper()
	script := `MC_HOST_site="${STATEX_SITE_SCHEME:-http}://${MINIO_ROOT_USER}:${MINIO_ROOT_PASSWORD}@127.0.0.1:9000" mc --config-dir /tmp/.mc "$@"`
	out, err := exec.Command("docker", append([]string{"exec", container, "sh", "-c", script, "mc"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("mc %v: %v: %s", args, err, out)
	}
}

// statex backup takes backups at the other site and reads them back as
// each job's own user; with that user disabled at the site the backup
// FAILs; --list judges what is there.
func TestBackupsReachTheOtherSite(t *testing.T) {
	if os.Getenv("STATEX_E2E") != "1" {
		t.Skip("e2e needs a kind cluster: set STATEX_E2E=1 (tests/run e2e)")
	}
	bin := statex(t)
	site := kindTarget(t).Backup.Offsite
	var rep backup.Report
	code, _ := runJSON(t, bin, &rep, "backup", "--env", "kind", "redis", "rabbitmq")
	if code != 0 || rep.Passed != 2 {
		t.Fatalf("statex backup redis rabbitmq: exit %d, %d passed: %+v", code, rep.Passed, rep.Results)
	}
	for _, r := range rep.Results {
		if len(r.Backups) == 0 || r.Backups[0].Bytes == 0 || !strings.HasPrefix(r.Backups[0].Key, r.Service+"/") {
			t.Errorf("%s: backups %+v", r.Service, r.Backups)
		}
	}

	t.Run("a job whose user the site refuses FAILs", func(t *testing.T) {
		siteMC(t, site.Container, "admin", "user", "disable", "site", "backup-redis")
		defer siteMC(t, site.Container, "admin", "user", "enable", "site", "backup-redis")
		var broken backup.Report
		code, _ := runJSON(t, bin, &broken, "backup", "--env", "kind", "redis", "--timeout", "3m")
		if code != 1 || len(broken.Results) != 1 || broken.Results[0].Verdict != check.Fail {
			t.Fatalf("exit %d, results %+v; want exit 1 and redis FAIL", code, broken.Results)
		}
	})

	t.Run("--list judges what the site holds", func(t *testing.T) {
		var listed backup.Report
		code, _ := runJSON(t, bin, &listed, "backup", "--env", "kind", "--list", "redis")
		if code != 0 || listed.Passed != 1 || len(listed.Results[0].Backups) == 0 {
			t.Fatalf("--list redis: exit %d, %+v", code, listed.Results)
		}
	})
}
