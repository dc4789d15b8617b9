package check

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis: every Sentinel names the same master; a SET through the master
// (found through Sentinel) is acknowledged by both replicas (WAIT 2) and
// read back through a Sentinel-aware client on a replica.

// RedisMasterName is the master name Sentinel monitors (manifests/base/redis).
const RedisMasterName = "statex"

// go-redis logs every Sentinel master switch to stderr; a check's evidence
// says what matters, so its log is dropped.
type quietRedisLog struct{}

func (quietRedisLog) Printf(context.Context, string, ...any) {}

func init() { redis.SetLogger(quietRedisLog{}) }

func checkRedis(ctx context.Context, e *Env) Result {
	start := time.Now()
	var s Steps
	c := e.Cluster
	var password string
	var sentinels []string
	s.Do("read the credentials", func() (string, error) {
		var err error
		password, err = c.Secret(ctx, "redis-credentials", "password")
		return "secret redis-credentials", err
	})
	s.Do("every Sentinel names the same master", func() (string, error) {
		pods, err := c.Pods(ctx, "redis")
		if err != nil {
			return "", err
		}
		var clients []*redis.SentinelClient
		for _, p := range pods {
			// The address Sentinel itself announces: the dialer maps it to
			// a port-forward, and the client sees the names Sentinel uses.
			addr := p.Name + ".redis-headless." + c.Namespace + ".svc.cluster.local:26379"
			sentinels = append(sentinels, addr)
			clients = append(clients, redis.NewSentinelClient(&redis.Options{Addr: addr, Password: password, Dialer: c.PodDialer()}))
		}
		defer func() {
			for _, sc := range clients {
				sc.Close()
			}
		}()
		return SentinelsAgree(ctx, clients, RedisMasterName, 3)
	})
	key := "statex:check:" + e.RunID
	value := "v-" + e.RunID
	failover := func(replica bool) *redis.Client {
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: RedisMasterName, SentinelAddrs: sentinels, Password: password, SentinelPassword: password,
			ReplicaOnly: replica, Dialer: c.PodDialer(), DialTimeout: 10 * time.Second,
		})
	}
	s.Do("SET through the master, WAIT 2 acknowledges 2 replicas", func() (string, error) {
		m := failover(false)
		defer m.Close()
		return WriteAndWait(ctx, m, key, value, 2)
	})
	s.Do("GET on a replica through a Sentinel-aware client", func() (string, error) {
		r := failover(true)
		defer r.Close()
		return ReadBack(ctx, r, key, value)
	})
	s.Always("clean up the key", func() (string, error) {
		if len(sentinels) == 0 {
			return "nothing written", nil
		}
		m := failover(false)
		defer m.Close()
		n, err := m.Del(ctx, key).Result()
		return fmt.Sprintf("%d key deleted", n), err
	})
	return s.Finish("redis", start)
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
