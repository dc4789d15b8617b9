package drill

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/statex/infrastructure/pipelines/service"
	"github.com/statex/infrastructure/pipelines/verdict"
)

// redisMasterPodKill deletes the Redis master's pod while a client writes to
// whatever master the Sentinels name, each write acknowledged by a replica
// (WAIT 1), the way a Sentinel-aware application writes.
func redisMasterPodKill(ctx context.Context, e *Env, sc Scenario) Result {
	c := e.Cluster
	var password, master string
	var sentinels service.Sentinels
	client := func(pod string) *redis.Client {
		return redis.NewClient(&redis.Options{
			Addr:     service.RedisAddr(pod, c.Namespace, service.RedisPort),
			Password: password, Dialer: c.PodDialer(), DialTimeout: 2 * time.Second, MaxRetries: -1,
		})
	}
	prefix := "statex:drill:" + e.RunID + ":"
	var conn *redis.Client
	var connPod string
	reset := func() {
		if conn != nil {
			conn.Close()
		}
		conn = nil
	}
	var deleted int64
	return e.run(ctx, sc, script{
		close: func() { sentinels.Close() },
		prepare: func(s *verdict.Steps) {
			s.Do("read the credentials", func() (string, error) {
				var err error
				password, err = service.RedisPassword(ctx, c)
				return "secret " + service.RedisSecret, err
			})
			s.Do("every Sentinel names the same master", func() (string, error) {
				// Short timeouts, no retries: one Sentinel dies with the
				// master, and the writer must not wait on it.
				var err error
				if sentinels, err = service.RedisSentinels(ctx, c, password, redis.Options{DialTimeout: 2 * time.Second, MaxRetries: -1}); err != nil {
					return "", err
				}
				ev, err := sentinels.Agree(ctx)
				if err != nil {
					return "", err
				}
				master, err = sentinels.MasterPod(ctx)
				return ev, err
			})
		},
		write: func(ctx context.Context, seq int) (string, error) {
			if conn == nil {
				pod, err := sentinels.MasterPod(ctx)
				if err != nil {
					return "", err
				}
				conn, connPod = client(pod), pod
			}
			err := conn.Set(ctx, fmt.Sprintf("%s%d", prefix, seq), time.Now().UnixMilli(), time.Hour).Err()
			if err == nil {
				var n int64
				if n, err = conn.Wait(ctx, 1, time.Second).Result(); err == nil && n < 1 {
					err = fmt.Errorf("WAIT 1: no replica acknowledged write %d", seq)
				}
			}
			if err != nil {
				reset()
				c.Forget(connPod)
			}
			return connPod, err
		},
		reset: reset,

		writing: "writes acknowledged by a replica (WAIT 1)",
		written: func(n int) string { return fmt.Sprintf("%d writes acknowledged on master %s", n, master) },

		faultStep: "delete the master's pod (grace period 0)",
		fault:     func(ctx context.Context) (string, error) { return crashPod(ctx, c, master) },

		// The pod may come back (its AOF replayed) before Sentinel's
		// down-after-milliseconds passes, and stay master: what matters is
		// that writes resume and what survives.
		resumeStep: "writes fail, then resume",
		resumed:    resumedAgain,

		wholeStep: "Sentinels agree again; the master has 2 connected replicas",
		whole: func(ctx context.Context) (string, error) {
			ev, err := sentinels.Agree(ctx)
			if err != nil {
				return "", err
			}
			now, err := sentinels.MasterPod(ctx)
			if err != nil {
				return "", err
			}
			m := client(now)
			defer m.Close()
			info, err := m.Info(ctx, "replication").Result()
			if err != nil {
				c.Forget(now)
				return "", fmt.Errorf("%s: %w", now, err)
			}
			if !strings.Contains(info, "role:master") || !strings.Contains(info, fmt.Sprintf("connected_slaves:%d", service.RedisMembers-1)) {
				return "", fmt.Errorf("master %s does not have %d connected replicas yet", now, service.RedisMembers-1)
			}
			if now == master {
				return ev + fmt.Sprintf("; %s came back and is still the master (no failover)", now), nil
			}
			return ev + fmt.Sprintf("; %s promoted, %s came back as a replica", now, master), nil
		},

		// Losses are counted here and judged by the gates: Redis has a
		// bound, not none.
		surviveStep: "look up every acknowledged write on the master",
		survived: func(ctx context.Context, acks []ack) (map[int]bool, string, error) {
			pod, err := sentinels.MasterPod(ctx)
			if err != nil {
				return nil, "", err
			}
			m := client(pod)
			defer m.Close()
			survived := map[int]bool{}
			for _, a := range acks {
				n, err := m.Exists(ctx, fmt.Sprintf("%s%d", prefix, a.seq)).Result()
				if err != nil {
					return nil, "", err
				}
				survived[a.seq] = n == 1
			}
			return survived, pod, nil
		},
		settled: func(got Metrics, pod string) (string, error) {
			return fmt.Sprintf("%d of %d acknowledged writes on %s (%d lost, RPO %.1f s); %d attempts failed during the outage",
				got.Acknowledged-got.Lost, got.Acknowledged, pod, got.Lost, got.RPOSeconds, got.FailedWrites), nil
		},

		cleanupStep: "remove the drill keys",
		cleanup: func(ctx context.Context) (string, error) {
			pod, err := sentinels.MasterPod(ctx)
			if err != nil {
				return "", err
			}
			m := client(pod)
			defer m.Close()
			it := m.Scan(ctx, 0, prefix+"*", 1000).Iterator()
			for it.Next(ctx) {
				n, err := m.Del(ctx, it.Val()).Result()
				if err != nil {
					return "", err
				}
				deleted += n
			}
			return fmt.Sprintf("%d keys deleted", deleted), it.Err()
		},
	})
}
