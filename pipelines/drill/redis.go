package drill

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/statex/infrastructure/pipelines/check"
)

// redisMasterPodKill deletes the Redis master's pod while a client writes to
// whatever master the Sentinels name, each write acknowledged by a replica
// (WAIT 1), the way a Sentinel-aware application writes.
func redisMasterPodKill(ctx context.Context, e *Env, sc Scenario) Result {
	start := time.Now()
	var s check.Steps
	c := e.Cluster
	var password, master string
	var sentinels []*redis.SentinelClient
	defer func() {
		for _, sc := range sentinels {
			sc.Close()
		}
	}()
	s.Do("read the credentials", func() (string, error) {
		var err error
		password, err = c.Secret(ctx, "redis-credentials", "password")
		return "secret redis-credentials", err
	})
	// masterPod asks the Sentinels in turn (one dies with the master) which
	// pod is the master.
	masterPod := func(ctx context.Context) (string, error) {
		var errs []error
		for _, sc := range sentinels {
			addr, err := sc.GetMasterAddrByName(ctx, check.RedisMasterName).Result()
			if err != nil {
				errs = append(errs, err)
				continue
			}
			pod, _, _ := strings.Cut(addr[0], ".")
			return pod, nil
		}
		return "", fmt.Errorf("no Sentinel named a master: %w", errors.Join(errs...))
	}
	s.Do("every Sentinel names the same master", func() (string, error) {
		pods, err := serverPods(ctx, c, "redis")
		if err != nil {
			return "", err
		}
		for _, p := range pods {
			addr := p.Name + ".redis-headless." + c.Namespace + ".svc.cluster.local:26379"
			sentinels = append(sentinels, redis.NewSentinelClient(&redis.Options{
				Addr: addr, Password: password, Dialer: c.PodDialer(), DialTimeout: 2 * time.Second, MaxRetries: -1,
			}))
		}
		ev, err := check.SentinelsAgree(ctx, sentinels, check.RedisMasterName, 3)
		if err != nil {
			return "", err
		}
		master, err = masterPod(ctx)
		return ev, err
	})
	if s.Failed() {
		return finish(sc, &s, nil, start)
	}
	client := func(pod string) *redis.Client {
		return redis.NewClient(&redis.Options{
			Addr:     net.JoinHostPort(pod+".redis-headless."+c.Namespace+".svc.cluster.local", "6379"),
			Password: password, Dialer: c.PodDialer(), DialTimeout: 2 * time.Second, MaxRetries: -1,
		})
	}
	prefix := "statex:drill:" + e.RunID + ":"
	var conn *redis.Client
	var connPod string
	w := startWriter(ctx, 100*time.Millisecond, func(ctx context.Context, seq int) (string, error) {
		if conn == nil {
			pod, err := masterPod(ctx)
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
			conn.Close()
			conn = nil
			c.Forget(connPod)
		}
		return connPod, err
	})
	defer w.halt()
	var fault time.Time
	metrics := &Metrics{}
	s.Do("writes acknowledged by a replica (WAIT 1)", func() (string, error) {
		if _, err := w.waitAcks(ctx, start, 20, time.Minute); err != nil {
			return "", err
		}
		return fmt.Sprintf("%d writes acknowledged on master %s", len(w.acked()), master), nil
	})
	s.Do("delete the master's pod (grace period 0)", func() (string, error) {
		fault = time.Now()
		return crashPod(ctx, c, master)
	})
	// The pod may come back (its AOF replayed) before Sentinel's
	// down-after-milliseconds passes, and stay master: what matters is that
	// writes resume and what survives.
	s.Do("writes fail, then resume", func() (string, error) {
		resumed, err := w.waitResumed(ctx, fault, 5, e.Timeout, "")
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("acknowledged by %s again; writes stopped for %.1f s", resumed.by, outage(w.acked(), fault)), nil
	})
	s.Do("Sentinels agree again; the master has 2 connected replicas", func() (string, error) {
		var ev string
		err := check.Poll(ctx, e.Timeout, time.Second, func() error {
			var err error
			if ev, err = check.SentinelsAgree(ctx, sentinels, check.RedisMasterName, 3); err != nil {
				return err
			}
			now, err := masterPod(ctx)
			if err != nil {
				return err
			}
			m := client(now)
			defer m.Close()
			info, err := m.Info(ctx, "replication").Result()
			if err != nil {
				c.Forget(now)
				return fmt.Errorf("%s: %w", now, err)
			}
			if !strings.Contains(info, "role:master") || !strings.Contains(info, "connected_slaves:2") {
				return fmt.Errorf("master %s does not have 2 connected replicas yet", now)
			}
			switch {
			case now == master:
				ev += fmt.Sprintf("; %s came back and is still the master (no failover)", now)
			default:
				ev += fmt.Sprintf("; %s promoted, %s came back as a replica", now, master)
			}
			return nil
		})
		metrics.RecoverySeconds = check.Seconds(time.Since(fault))
		return fmt.Sprintf("%s, whole %.1f s after the fault", ev, metrics.RecoverySeconds), err
	})
	// Losses are counted here and judged by the gates: Redis has a bound,
	// not none.
	s.Do("look up every acknowledged write on the master", func() (string, error) {
		if _, err := w.waitAcks(ctx, time.Now(), 5, e.Timeout); err != nil {
			return "", err
		}
		w.halt()
		pod, err := masterPod(ctx)
		if err != nil {
			return "", err
		}
		m := client(pod)
		defer m.Close()
		survived := map[int]bool{}
		for _, a := range w.acked() {
			n, err := m.Exists(ctx, fmt.Sprintf("%s%d", prefix, a.seq)).Result()
			if err != nil {
				return "", err
			}
			survived[a.seq] = n == 1
		}
		got := w.settle(metrics, fault, survived)
		return fmt.Sprintf("%d of %d acknowledged writes on %s (%d lost, RPO %.1f s); %d attempts failed during the outage",
			got.Acknowledged-got.Lost, got.Acknowledged, pod, got.Lost, got.RPOSeconds, got.FailedWrites), nil
	})
	s.Test("gates: RTO and RPO", func() (string, error) { return judge(*metrics, sc.Gates) })
	s.Always("remove the drill keys", func() (string, error) {
		w.halt()
		if conn != nil {
			conn.Close()
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		var deleted int64
		err := check.Poll(cctx, 30*time.Second, time.Second, func() error {
			pod, err := masterPod(cctx)
			if err != nil {
				return err
			}
			m := client(pod)
			defer m.Close()
			it := m.Scan(cctx, 0, prefix+"*", 1000).Iterator()
			for it.Next(cctx) {
				n, err := m.Del(cctx, it.Val()).Result()
				if err != nil {
					return err
				}
				deleted += n
			}
			return it.Err()
		})
		return fmt.Sprintf("%d keys deleted", deleted), err
	})
	if metrics.Acknowledged == 0 {
		metrics = nil
	}
	return finish(sc, &s, metrics, start)
}
