package service

import (
	"strings"
	"testing"
)

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

func TestQuorumLeaderPod(t *testing.T) {
	// The shape of `rabbitmq-queues quorum_status --formatter json`, as
	// JudgeQuorumMembers reads it against real brokers.
	out := `[{"Node Name":"rabbit@rabbitmq-0.rabbitmq-headless.statex-infrastructure.svc.cluster.local","Raft State":"follower"},
	{"Node Name":"rabbit@rabbitmq-2.rabbitmq-headless.statex-infrastructure.svc.cluster.local","Raft State":"leader"}]`
	if pod, err := QuorumLeaderPod(out); err != nil || pod != "rabbitmq-2" {
		t.Errorf("QuorumLeaderPod = %q, %v; want rabbitmq-2", pod, err)
	}
	if _, err := QuorumLeaderPod(`[{"Node Name":"rabbit@rabbitmq-0","Raft State":"follower"}]`); err == nil {
		t.Error("no leader: want an error")
	}
}

// The deploy engine's Redis signal: a healthy master, replicas and
// Sentinels; stale entries of a pod that came back with a new IP neither
// count nor block; anything less fails.
func TestJudgeSentinelView(t *testing.T) {
	replica := func(ip, flags, link string) string {
		return "name\n" + ip + ":6379\nip\n" + ip + "\nport\n6379\nflags\n" + flags + "\nmaster-link-status\n" + link + "\n"
	}
	sentinel := func(ip, flags string) string {
		return "name\nrun" + ip + "\nip\n" + ip + "\nport\n26379\nflags\n" + flags + "\n"
	}
	master := "#master\nname\nstatex\nip\n10.0.0.1\nflags\nmaster\n"
	healthy := master +
		"#replicas\n" + replica("10.0.0.2", "slave", "ok") + replica("10.0.0.3", "slave", "ok") +
		"#sentinels\n" + sentinel("10.0.0.2", "sentinel") + sentinel("10.0.0.3", "sentinel")
	if err := JudgeSentinelView(healthy, 3); err != nil {
		t.Errorf("healthy: %v", err)
	}
	stale := healthy + replica("10.0.0.9", "s_down,slave,disconnected", "err")
	stale = strings.Replace(stale, "#sentinels\n", "#sentinels\n"+sentinel("10.0.0.9", "s_down,sentinel,disconnected"), 1)
	if err := JudgeSentinelView(stale, 3); err != nil {
		t.Errorf("stale entries beside healthy ones: %v", err)
	}
	for name, out := range map[string]string{
		"s_down master":     strings.Replace(healthy, "flags\nmaster\n", "flags\ns_down,master\n", 1),
		"replica link down": strings.Replace(healthy, replica("10.0.0.3", "slave", "ok"), replica("10.0.0.3", "slave", "err"), 1),
		"sentinel missing":  strings.Replace(healthy, sentinel("10.0.0.3", "sentinel"), "", 1),
		"no answer":         "",
	} {
		if err := JudgeSentinelView(out, 3); err == nil {
			t.Errorf("%s passed", name)
		}
	}
}
