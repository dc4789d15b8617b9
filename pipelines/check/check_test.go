package check

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestStepsBlockAndCleanup(t *testing.T) {
	var s Steps
	s.Do("connect", func() (string, error) { return "ok", nil })
	s.Test("independent fails", func() (string, error) { return "", errors.New("boom") })
	s.Test("independent runs", func() (string, error) { return "ran", nil })
	s.Do("required fails", func() (string, error) { return "", errors.New("down") })
	ran := false
	s.Do("dependent", func() (string, error) { ran = true; return "", nil })
	s.Always("cleanup", func() (string, error) { return "cleaned", nil })
	if ran {
		t.Error("a step after a failed required step ran")
	}
	var got []string
	for _, st := range s.list {
		got = append(got, st.Name+"="+string(st.Verdict))
	}
	want := "connect=PASS independent fails=FAIL independent runs=PASS required fails=FAIL dependent=SKIPPED cleanup=PASS"
	if strings.Join(got, " ") != want {
		t.Errorf("steps:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	if r := s.Finish("x", time.Now()); r.Verdict != Fail {
		t.Errorf("verdict %s, want FAIL", r.Verdict)
	}
}

func TestJudgePatroni(t *testing.T) {
	m := []PatroniMember{{Name: "p0", Role: "leader", State: "running"}, {Name: "p1", Role: "sync_standby", State: "streaming"}, {Name: "p2", Role: "replica", State: "streaming"}}
	_, leader, reps, err := JudgePatroni(m, 3)
	if err != nil || leader != "p0" || strings.Join(reps, ",") != "p1,p2" {
		t.Fatalf("healthy: %s %v %v", leader, reps, err)
	}
	async := []PatroniMember{m[0], {Name: "p1", Role: "replica", State: "streaming"}, m[2]}
	if _, _, _, err := JudgePatroni(async, 3); err == nil || !strings.Contains(err.Error(), "synchronous") {
		t.Errorf("no sync standby: %v", err)
	}
	if _, _, _, err := JudgePatroni(m[:2], 3); err == nil {
		t.Error("2 members passed for 3")
	}
	split := []PatroniMember{m[0], {Name: "p1", Role: "leader", State: "running"}, m[2]}
	if _, _, _, err := JudgePatroni(split, 3); err == nil || !strings.Contains(err.Error(), "two leaders") {
		t.Errorf("split brain: %v", err)
	}
}

func TestJudgeTargetsExcusesOnlyUnavailableServices(t *testing.T) {
	targets := []PromTarget{
		{Labels: map[string]string{"job": "postgres", "instance": "a"}, Health: "up"},
		{Labels: map[string]string{"job": "grafana", "instance": "g", "pod": "grafana-1"}, Health: "down", LastError: "refused"},
	}
	unavailable := map[string]string{"grafana": "image unavailable offline"}
	ev, err := JudgeTargets(targets, unavailable)
	if err != nil || !strings.Contains(ev, "1 down but excused") || !strings.Contains(ev, "grafana/g") {
		t.Errorf("excused: %q %v", ev, err)
	}
	if _, err := JudgeTargets(targets, nil); err == nil {
		t.Error("a down target of an available service passed")
	}
}

func TestJudgeProbe(t *testing.T) {
	all := func(v string) map[string]string {
		m := map[string]string{}
		for _, tg := range probeTargets {
			m[tg] = v
		}
		return m
	}
	if _, err := judgeProbe(all("open"), "open"); err != nil {
		t.Error(err)
	}
	unresolved := all("closed")
	unresolved["postgres:5432"] = "unresolved"
	if _, err := judgeProbe(unresolved, "closed"); err == nil {
		t.Error("an unresolved name passed as closed by policy")
	}
	if _, err := judgeProbe(map[string]string{}, "closed"); err == nil {
		t.Error("missing probe output passed")
	}
	// What the e2e case breaks: PostgreSQL and Redis admitting every pod.
	open := all("closed")
	open["postgres:5432"], open["redis-headless:6379"] = "open", "open"
	_, err := judgeProbe(open, "closed")
	if err == nil || !strings.Contains(err.Error(), "PostgreSQL (postgres:5432) open") || !strings.Contains(err.Error(), "Redis (redis-headless:6379) open") || strings.Contains(err.Error(), "RabbitMQ") {
		t.Errorf("PostgreSQL and Redis open to the denied probe: %v", err)
	}
}

func TestJudgeRabbitCluster(t *testing.T) {
	out := `{"running_nodes":["rabbit@rabbitmq-0.h","rabbit@rabbitmq-1.h","rabbit@rabbitmq-2.h"],"alarms":[],"partitions":{}}`
	if ev, err := JudgeRabbitCluster(out, 3); err != nil || ev != "running: rabbitmq-0, rabbitmq-1, rabbitmq-2" {
		t.Errorf("healthy: %q, %v", ev, err)
	}
	for name, bad := range map[string]string{
		"one node":  `{"running_nodes":["rabbit@rabbitmq-0.h"]}`,
		"alarm":     strings.Replace(out, `"alarms":[]`, `"alarms":[{"resource_alarm":"disk"}]`, 1),
		"partition": strings.Replace(out, `"partitions":{}`, `"partitions":{"rabbit@rabbitmq-0.h":["rabbit@rabbitmq-1.h"]}`, 1),
		"not json":  "Error: unable to perform an operation",
	} {
		if _, err := JudgeRabbitCluster(bad, 3); err == nil {
			t.Errorf("%s: passed", name)
		}
	}
}
