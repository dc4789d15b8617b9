package backup

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/statex/infrastructure/pipelines/internal/testrepo"
	"github.com/statex/infrastructure/pipelines/offsite"
)

// The newest backup decides: none, an empty one, one the Job did not
// write, or (listing) one older than its schedule allows all fail.
func TestJudgeNewest(t *testing.T) {
	now := time.Now()
	fresh := []Object{{Key: "redis/2/dump.rdb", Bytes: 100, AgeSeconds: 5}, {Key: "redis/1/dump.rdb", Bytes: 90, AgeSeconds: 90000}}
	for _, tc := range []struct {
		name  string
		objs  []Object
		since time.Time
		want  string // "" passes
	}{
		{"just taken", fresh, now.Add(-time.Minute), ""},
		{"listed, young enough", fresh, time.Time{}, ""},
		{"none", nil, time.Time{}, "no backup at all"},
		{"empty", []Object{{Key: "redis/2/dump.rdb", AgeSeconds: 5}}, now.Add(-time.Minute), "is empty"},
		{"the Job wrote none", fresh, now.Add(-time.Second), "the Job did not write one"},
		{"stale", []Object{{Key: "redis/1/dump.rdb", Bytes: 90, AgeSeconds: 30 * 3600}}, time.Time{}, "more than its schedule allows"},
	} {
		_, err := judgeNewest(tc.objs, tc.since, daily, now)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestPullFailure(t *testing.T) {
	p := &corev1.Pod{Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Image: "docker.elastic.co/elasticsearch/elasticsearch:8",
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff"}}}}}}
	if image, why := pullFailure(p); image != "docker.elastic.co/elasticsearch/elasticsearch:8" || why != "ImagePullBackOff" {
		t.Errorf("%q %q", image, why)
	}
	p.Status.ContainerStatuses[0].State.Waiting.Reason = "ContainerCreating"
	if image, _ := pullFailure(p); image != "" {
		t.Errorf("a creating container is no pull failure: %q", image)
	}
}

// Every job writes as a user the site knows, under the prefix that user's
// policy grants, from a CronJob the kind set has; and every user the site
// gives a job (but replication, which is MinIO's) takes backups here.
func TestJobsMatchTheSiteAndTheManifests(t *testing.T) {
	rendered := testrepo.Rendered(t, "kind")
	cron := map[string]bool{}
	for _, o := range testrepo.OfKind(rendered.Objects, "CronJob") {
		cron[o.Name] = true
	}
	users := map[string]bool{}
	for _, j := range Jobs {
		users[j.User] = true
		if j.Prefix != j.User+"/" {
			t.Errorf("%s writes %s, but user %s may write only %s/", j.Service, j.Prefix, offsite.User(j.User), j.User)
		}
		if !cron[j.CronJob] {
			t.Errorf("%s: no CronJob %s in the kind set", j.Service, j.CronJob)
		}
	}
	for _, u := range offsite.Jobs {
		if !users[u] && u != "postgres" { // PostgreSQL archives continuously (pgBackRest), not from a CronJob
			t.Errorf("site user %s has no backup job", offsite.User(u))
		}
	}
}
