package check

import (
	"strings"
	"testing"
)

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
