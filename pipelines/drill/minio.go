package drill

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/statex/infrastructure/pipelines/kube"
	"github.com/statex/infrastructure/pipelines/service"
	"github.com/statex/infrastructure/pipelines/verdict"
)

// minioNodeLoss deletes one of the 4 MinIO servers' pods — the one the
// client is talking to — while the client keeps putting objects: the
// erasure set keeps write quorum with 3 servers, so writes go on after a
// reconnect and every acknowledged object stays readable.
func minioNodeLoss(ctx context.Context, e *Env, sc Scenario) Result {
	c := e.Cluster
	var user, password, victim string
	bucket := "statex-drill-" + e.RunID
	// health asks every MinIO server (not the bucket-setup Job's pod).
	health := func(ctx context.Context) (string, error) {
		pods, err := c.Pods(ctx, service.MinIOService)
		if err != nil {
			return "", err
		}
		var addrs []string
		for _, p := range pods {
			if !kube.PodReady(&p) {
				return "", fmt.Errorf("server %s is not ready", p.Name)
			}
			addr, err := c.Forward(ctx, p.Name, service.MinIOPort)
			if err != nil {
				c.Forget(p.Name)
				return "", err
			}
			addrs = append(addrs, addr)
		}
		return service.MinIOHealth(ctx, addrs, service.MinIOServers)
	}
	// client talks to pod, or to what the Service routes to.
	client := func(ctx context.Context, pod string) (*minio.Client, string, error) {
		if pod == "" {
			pods, err := c.ServicePods(ctx, service.MinIOService)
			if err != nil {
				return nil, "", err
			}
			pod = pods[0]
		}
		mc, err := service.MinIOClient(ctx, c, pod, user, password, 1)
		return mc, pod, err
	}

	// The writer starts on the server that will be lost; any error means a
	// new client through the Service.
	var mc *minio.Client
	var mcPod, first string
	removed := 0
	return e.run(ctx, sc, script{
		prepare: func(s *verdict.Steps) {
			s.Do("read the credentials", func() (string, error) {
				var err error
				user, password, err = service.MinIOCredentials(ctx, c)
				return "secret " + service.MinIOSecret, err
			})
			s.Do("4 servers live, cluster has write quorum", func() (string, error) { return health(ctx) })
			s.Do("create the drill bucket", func() (string, error) {
				mc, pod, err := client(ctx, "")
				if err != nil {
					return "", err
				}
				victim, first = pod, pod
				return "bucket " + bucket + " through " + pod, service.MakeOwnBucket(ctx, mc, bucket)
			})
		},
		write: func(ctx context.Context, seq int) (string, error) {
			if mc == nil {
				var err error
				mc, mcPod, err = client(ctx, first)
				first = ""
				if err != nil {
					mc = nil
					return "", err
				}
			}
			body := fmt.Appendf(nil, "drill object %d", seq)
			_, err := mc.PutObject(ctx, bucket, objectKey(seq), bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{})
			if err != nil {
				mc = nil
				c.Forget(mcPod)
			}
			return mcPod, err
		},

		writing: "objects written",
		written: func(n int) string { return fmt.Sprintf("%d objects acknowledged by %s", n, victim) },

		faultStep: "delete the client's server pod (grace period 0)",
		fault:     func(ctx context.Context) (string, error) { return crashPod(ctx, c, victim) },

		// Each ack names the pod its port-forward reached, the server that
		// answered the PUT: acks by the lost server (its recreated pod too)
		// do not count.
		resumeStep: "writes fail, then resume on a server other than the lost one",
		notBy:      func() string { return victim },
		resumed: func(by string, outage float64) string {
			return fmt.Sprintf("acknowledged by %s (not %s); writes stopped for %.1f s", by, victim, outage)
		},

		wholeStep: "4 servers ready again, write quorum",
		whole:     health,

		surviveStep: "every acknowledged object is readable",
		survived: func(ctx context.Context, acks []ack) (map[int]bool, string, error) {
			rc, pod, err := client(ctx, "")
			if err != nil {
				return nil, "", err
			}
			survived := map[int]bool{}
			for _, a := range acks {
				_, err := rc.StatObject(ctx, bucket, objectKey(a.seq), minio.StatObjectOptions{})
				survived[a.seq] = err == nil
			}
			return survived, pod, nil
		},
		settled: func(m Metrics, pod string) (string, error) {
			if m.Lost > 0 {
				return "", fmt.Errorf("%d of %d acknowledged objects missing through %s", m.Lost, m.Acknowledged, pod)
			}
			return fmt.Sprintf("all %d acknowledged objects found through %s; %d puts failed during the outage", m.Acknowledged, pod, m.FailedWrites), nil
		},

		cleanupStep:    "remove the drill objects and bucket",
		cleanupTimeout: minioCleanupTimeout,
		cleanup: func(ctx context.Context) (string, error) {
			rc, _, err := client(ctx, "")
			if err != nil {
				return "", err
			}
			for o := range rc.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
				if o.Err != nil {
					return "", o.Err
				}
				if err := rc.RemoveObject(ctx, bucket, o.Key, minio.RemoveObjectOptions{}); err != nil {
					return "", err
				}
				removed++
			}
			return fmt.Sprintf("removed %d objects and %s", removed, bucket), rc.RemoveBucket(ctx, bucket)
		},
	})
}

// minioCleanupTimeout allows for listing and removing a few hundred objects.
const minioCleanupTimeout = time.Minute

func objectKey(seq int) string { return fmt.Sprintf("object-%06d", seq) }
