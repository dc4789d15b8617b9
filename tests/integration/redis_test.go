package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
)

// A master, a replica and a Sentinel from the statex/redis image on one
// network: writes are acknowledged by the replica (WAIT), read back from it,
// and a Sentinel-aware client finds the master by name.
// redisTrio is a master, its replica and a Sentinel watching the master,
// from the statex/redis image on one network, all with requirepass.
type redisTrio struct {
	master, replica, sentinel *testcontainers.DockerContainer
	masterIP                  string
}

const redisPassword = "integration-secret"

func startRedisTrio(t *testing.T, ctx context.Context) redisTrio {
	t.Helper()
	image := requireImage(t, "redis")
	nw := newNetwork(t, ctx)
	auth := "requirepass " + redisPassword + "\nmasterauth " + redisPassword + "\n"
	conf := func(extra string) testcontainers.CustomizeRequestOption {
		return testcontainers.WithFiles(testcontainers.ContainerFile{
			Reader: strings.NewReader(auth + extra), ContainerFilePath: "/etc/redis/conf.d/test.conf", FileMode: 0o644,
		})
	}
	var r redisTrio
	r.master = start(t, image, network.WithNetwork([]string{"redis-0"}, nw), conf(""),
		testcontainers.WithExposedPorts("6379/tcp"),
		testcontainers.WithWaitStrategy(wait.ForLog("Ready to accept connections").WithStartupTimeout(time.Minute)))
	r.replica = start(t, image, network.WithNetwork([]string{"redis-1"}, nw), conf("replicaof redis-0 6379\n"),
		testcontainers.WithExposedPorts("6379/tcp"),
		testcontainers.WithWaitStrategy(wait.ForLog("MASTER <-> REPLICA sync: Finished with success").WithStartupTimeout(time.Minute)))
	// Sentinel runs through the image's entrypoint, which builds its config
	// from the template plus /etc/redis/sentinel.d/*.conf.
	var err error
	if r.masterIP, err = r.master.ContainerIP(ctx); err != nil {
		t.Fatal(err)
	}
	sentinelConf := "port 26379\nsentinel monitor statex " + r.masterIP + " 6379 1\nsentinel auth-pass statex " + redisPassword + "\n"
	r.sentinel = start(t, image, network.WithNetwork([]string{"sentinel-0"}, nw),
		testcontainers.WithCmd("redis-sentinel"),
		testcontainers.WithFiles(testcontainers.ContainerFile{
			Reader: strings.NewReader(sentinelConf), ContainerFilePath: "/etc/redis/sentinel.d/test.conf", FileMode: 0o644,
		}),
		testcontainers.WithExposedPorts("26379/tcp"),
		testcontainers.WithWaitStrategy(wait.ForLog("+monitor master statex").WithStartupTimeout(time.Minute)))
	return r
}

func TestRedisImageReplicatesAndSentinelFindsMaster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	trio := startRedisTrio(t, ctx)
	master, replica, sentinel, masterIP := trio.master, trio.replica, trio.sentinel, trio.masterIP
	const password = redisPassword

	m := redis.NewClient(&redis.Options{Addr: endpoint(t, master, "6379/tcp"), Password: password})
	defer m.Close()
	r := redis.NewClient(&redis.Options{Addr: endpoint(t, replica, "6379/tcp"), Password: password})
	defer r.Close()

	key, value := unique("probe"), unique("value")
	if err := m.Set(ctx, key, value, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	acked, err := m.Do(ctx, "WAIT", 1, 5000).Int()
	if err != nil || acked != 1 {
		t.Fatalf("WAIT 1 = %d, %v; want the replica's acknowledgement", acked, err)
	}
	if got, err := r.Get(ctx, key).Result(); err != nil || got != value {
		t.Fatalf("replica GET = %q, %v; want %q", got, err, value)
	}
	if err := r.Set(ctx, key, "x", 0).Err(); err == nil || !strings.Contains(err.Error(), "READONLY") {
		t.Errorf("write to replica: %v, want READONLY", err)
	}
	if err := redis.NewClient(&redis.Options{Addr: endpoint(t, master, "6379/tcp")}).Ping(ctx).Err(); err == nil {
		t.Error("PING without a password succeeded: requirepass is not in effect")
	}

	s := redis.NewSentinelClient(&redis.Options{Addr: endpoint(t, sentinel, "26379/tcp")})
	defer s.Close()
	addr, err := s.GetMasterAddrByName(ctx, "statex").Result()
	if err != nil || len(addr) != 2 || addr[0] != masterIP || addr[1] != "6379" {
		t.Fatalf("sentinel master address = %v, %v; want %s:6379", addr, err, masterIP)
	}
	// The Sentinel-aware client reaches the master it reports (the Docker
	// bridge is routable from the host on Linux).
	fc := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName: "statex", SentinelAddrs: []string{endpoint(t, sentinel, "26379/tcp")}, Password: password,
	})
	defer fc.Close()
	if got, err := fc.Get(ctx, key).Result(); err != nil || got != value {
		t.Fatalf("GET through Sentinel = %q, %v; want %q", got, err, value)
	}
}
