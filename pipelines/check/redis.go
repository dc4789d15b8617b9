package check

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/statex/infrastructure/pipelines/service"
	"github.com/statex/infrastructure/pipelines/verdict"
)

// Redis: every Sentinel names the same master; a SET through the master
// (found through Sentinel) is acknowledged by both replicas (WAIT 2) and
// read back through a Sentinel-aware client on a replica.

func checkRedis(ctx context.Context, e *Env) Result {
	start := time.Now()
	var s verdict.Steps
	c := e.Cluster
	var password string
	var sentinels []string
	s.Do("read the credentials", func() (string, error) {
		var err error
		password, err = service.RedisPassword(ctx, c)
		return "secret " + service.RedisSecret, err
	})
	s.Do("every Sentinel names the same master", func() (string, error) {
		all, err := service.RedisSentinels(ctx, c, password, redis.Options{})
		if err != nil {
			return "", err
		}
		defer all.Close()
		sentinels = all.Addrs
		return all.Agree(ctx)
	})
	key := "statex:check:" + e.RunID
	value := "v-" + e.RunID
	failover := func(replica bool) *redis.Client {
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: service.RedisMasterName, SentinelAddrs: sentinels, Password: password, SentinelPassword: password,
			ReplicaOnly: replica, Dialer: c.PodDialer(), DialTimeout: 10 * time.Second,
		})
	}
	s.Do("SET through the master, WAIT 2 acknowledges 2 replicas", func() (string, error) {
		m := failover(false)
		defer m.Close()
		return service.WriteAndWait(ctx, m, key, value, service.RedisMembers-1)
	})
	s.Do("GET on a replica through a Sentinel-aware client", func() (string, error) {
		r := failover(true)
		defer r.Close()
		return service.ReadBack(ctx, r, key, value)
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
	return finish("redis", &s, start)
}
