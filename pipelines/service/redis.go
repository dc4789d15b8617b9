package service

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/statex/infrastructure/pipelines/kube"
)

// Redis: one master and two replicas watched by three Sentinels (one per
// pod, quorum 2), found through Sentinel (manifests/base/redis).
const (
	// RedisService is the pods' name label; RedisHeadless names each pod
	// the way Sentinel announces it.
	RedisService  = "redis"
	RedisHeadless = "redis-headless"
	// RedisSecret holds the password (of Redis and of Sentinel) under
	// RedisPasswordKey.
	RedisSecret      = "redis-credentials"
	RedisPasswordKey = "password"
	RedisPort        = 6379
	SentinelPort     = 26379
	// SentinelContainer runs Sentinel beside Redis in each pod.
	SentinelContainer = "sentinel"
	// RedisMasterName is the master name Sentinel monitors.
	RedisMasterName = "statex"
	// RedisMembers is the seed's size: servers and Sentinels alike.
	RedisMembers = 3
)

// go-redis logs every Sentinel master switch to stderr; a check's or a
// drill's evidence says what matters, so its log is dropped.
type quietRedisLog struct{}

func (quietRedisLog) Printf(context.Context, string, ...any) {}

func init() { redis.SetLogger(quietRedisLog{}) }

// RedisPassword reads the password Redis and Sentinel share.
func RedisPassword(ctx context.Context, c *kube.Cluster) (string, error) {
	return c.Secret(ctx, RedisSecret, RedisPasswordKey)
}

// RedisAddr is the in-cluster address of a Redis pod's port, as Sentinel
// announces it; kube.Cluster's PodDialer reaches it from outside.
func RedisAddr(pod, namespace string, port int) string {
	return net.JoinHostPort(pod+"."+RedisHeadless+"."+namespace+".svc.cluster.local", strconv.Itoa(port))
}

// SentinelViewCommand prints, from inside a Sentinel container, the master
// then every replica and every other Sentinel this Sentinel remembers,
// each with its flags (JudgeSentinelView reads it). Only what the image
// ships: redis-cli.
func SentinelViewCommand() []string {
	return []string{"sh", "-c", `set -e; cli="redis-cli --no-auth-warning -p 26379"
echo '#master'; $cli sentinel master "$MASTER_NAME"
echo '#replicas'; $cli sentinel replicas "$MASTER_NAME"
echo '#sentinels'; $cli sentinel sentinels "$MASTER_NAME"`}
}

// JudgeSentinelView wants a master flagged healthy, desired-1 healthy
// replicas and desired-1 healthy other Sentinels (quorum needs them).
// Healthy means flagged only "slave" (with its link to the master up) or
// only "sentinel". A Sentinel never forgets a peer: a pod that came back
// with a new IP (after a drill, a node loss) leaves its old address behind
// flagged s_down, so the totals (num-slaves, num-other-sentinels) would
// count it and never settle.
func JudgeSentinelView(out string, desired int) error {
	sections := sentinelSections(out)
	master := sections["master"]
	if len(master) != 1 {
		return fmt.Errorf("sentinel master: unreadable answer %q", strings.TrimSpace(out))
	}
	if master[0]["flags"] != "master" {
		return fmt.Errorf("sentinel master flags %q (want master)", master[0]["flags"])
	}
	replicas, staleReplicas := countHealthy(sections["replicas"], "slave")
	sentinels, staleSentinels := countHealthy(sections["sentinels"], "sentinel")
	if replicas != desired-1 || sentinels != desired-1 {
		return fmt.Errorf("want %d healthy replicas and %d other sentinels, have %d and %d (%d and %d down or disconnected)",
			desired-1, desired-1, replicas, sentinels, staleReplicas, staleSentinels)
	}
	return nil
}

// sentinelSections splits SentinelViewCommand's output at its "#name"
// markers into entries: redis-cli prints replies one element per line, key
// then value, and an entry of SENTINEL REPLICAS/SENTINELS starts at its
// "name" key.
func sentinelSections(out string) map[string][]map[string]string {
	sections := map[string][]map[string]string{}
	var section, key string
	n := 0 // line index inside the section: even lines are keys
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") {
			section, n = strings.TrimPrefix(line, "#"), 0
			sections[section] = nil
			continue
		}
		if section == "" {
			continue
		}
		if n%2 == 0 {
			key = line
			if key == "name" || len(sections[section]) == 0 {
				sections[section] = append(sections[section], map[string]string{})
			}
		} else {
			entries := sections[section]
			entries[len(entries)-1][key] = line
		}
		n++
	}
	return sections
}

// countHealthy counts entries flagged exactly role (replicas also need
// master-link-status ok) and the rest.
func countHealthy(entries []map[string]string, role string) (healthy, other int) {
	for _, e := range entries {
		if e["flags"] == role && (role != "slave" || e["master-link-status"] == "ok") {
			healthy++
		} else {
			other++
		}
	}
	return healthy, other
}

// SentinelsAgree asks each Sentinel for the master's address; all must
// answer the same, and there must be want of them.
func SentinelsAgree(ctx context.Context, sentinels []*redis.SentinelClient, name string, want int) (string, error) {
	seen := map[string][]string{}
	for _, sc := range sentinels {
		addr, err := sc.GetMasterAddrByName(ctx, name).Result()
		if err != nil {
			return "", fmt.Errorf("sentinel %s: %w", sc.String(), err)
		}
		master := net.JoinHostPort(addr[0], addr[1])
		seen[master] = append(seen[master], sc.String())
	}
	if len(seen) != 1 {
		return "", fmt.Errorf("sentinels disagree: %v", seen)
	}
	for master := range seen {
		if len(sentinels) != want {
			return "", fmt.Errorf("%d sentinels, want %d", len(sentinels), want)
		}
		return fmt.Sprintf("%d sentinels agree: master %s", len(sentinels), master), nil
	}
	return "", fmt.Errorf("no sentinel answered")
}

// Sentinels is a Sentinel client on every Redis pod. The zero value has
// none: Agree fails, MasterPod finds no master, Close does nothing.
type Sentinels struct {
	// Addrs are the addresses Sentinel itself announces: the pod dialer
	// maps them to port-forwards, and a failover client given them sees the
	// names Sentinel uses.
	Addrs   []string
	Clients []*redis.SentinelClient
}

// RedisSentinels makes a Sentinel client for every Redis pod, with opts'
// timeouts and retries (address, password and dialer are set here). The
// clients connect on first use; Close them.
func RedisSentinels(ctx context.Context, c *kube.Cluster, password string, opts redis.Options) (Sentinels, error) {
	pods, err := c.Pods(ctx, RedisService)
	if err != nil {
		return Sentinels{}, err
	}
	var s Sentinels
	for _, p := range pods {
		o := opts
		o.Addr, o.Password, o.Dialer = RedisAddr(p.Name, c.Namespace, SentinelPort), password, c.PodDialer()
		s.Addrs = append(s.Addrs, o.Addr)
		s.Clients = append(s.Clients, redis.NewSentinelClient(&o))
	}
	return s, nil
}

// Agree is SentinelsAgree for the platform's master name and size.
func (s Sentinels) Agree(ctx context.Context) (string, error) {
	return SentinelsAgree(ctx, s.Clients, RedisMasterName, RedisMembers)
}

// MasterPod asks the Sentinels in turn (one dies with the master in a
// drill) which pod is the master.
func (s Sentinels) MasterPod(ctx context.Context) (string, error) {
	var errs []error
	for _, sc := range s.Clients {
		addr, err := sc.GetMasterAddrByName(ctx, RedisMasterName).Result()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		pod, _, _ := strings.Cut(addr[0], ".")
		return pod, nil
	}
	return "", fmt.Errorf("no Sentinel named a master: %w", errors.Join(errs...))
}

// Close closes every client.
func (s Sentinels) Close() {
	for _, sc := range s.Clients {
		sc.Close()
	}
}

// WriteAndWait sets key on the master and waits until replicas replicas
// acknowledged it.
func WriteAndWait(ctx context.Context, m *redis.Client, key, value string, replicas int) (string, error) {
	if err := m.Set(ctx, key, value, time.Hour).Err(); err != nil {
		return "", err
	}
	role, err := m.Do(ctx, "ROLE").Slice()
	if err != nil {
		return "", err
	}
	if len(role) == 0 || role[0] != "master" {
		return "", fmt.Errorf("the client's master reports role %v", role)
	}
	n, err := m.Wait(ctx, replicas, 5*time.Second).Result()
	if err != nil {
		return "", err
	}
	if int(n) < replicas {
		return "", fmt.Errorf("WAIT %d returned %d", replicas, n)
	}
	return fmt.Sprintf("SET %s; WAIT %d → %d", key, replicas, n), nil
}

// ReadBack reads key through the client (a replica-only failover client)
// and checks the value.
func ReadBack(ctx context.Context, r *redis.Client, key, value string) (string, error) {
	got, err := r.Get(ctx, key).Result()
	if err != nil {
		return "", err
	}
	if got != value {
		return "", fmt.Errorf("GET %s = %q, want %q", key, got, value)
	}
	info, err := r.Info(ctx, "replication").Result()
	if err != nil {
		return "", err
	}
	role := "unknown"
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "role:"); ok {
			role = v
		}
	}
	if !slices.Contains([]string{"slave", "replica"}, role) {
		return "", fmt.Errorf("read served by role %s, want a replica", role)
	}
	return "GET on a replica returned the value", nil
}
