package drill

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	corev1 "k8s.io/api/core/v1"

	"github.com/statex/infrastructure/pipelines/check"
)

// minioNodeLoss deletes one of the 4 MinIO servers' pods — the one the
// client is talking to — while the client keeps putting objects: the
// erasure set keeps write quorum with 3 servers, so writes go on after a
// reconnect and every acknowledged object stays readable.
func minioNodeLoss(ctx context.Context, e *Env, sc Scenario) Result {
	start := time.Now()
	var s check.Steps
	c := e.Cluster
	var user, password, victim string
	bucket := "statex-drill-" + e.RunID
	s.Do("read the credentials", func() (string, error) {
		var err error
		if user, err = c.Secret(ctx, "minio-credentials", "root-user"); err != nil {
			return "", err
		}
		password, err = c.Secret(ctx, "minio-credentials", "root-password")
		return "secret minio-credentials", err
	})
	// health asks every MinIO server (not the bucket-setup Job's pod).
	health := func(ctx context.Context) (string, error) {
		pods, err := serverPods(ctx, c, "minio")
		if err != nil {
			return "", err
		}
		var addrs []string
		for _, p := range pods {
			if !podReady(&p) {
				return "", fmt.Errorf("server %s is not ready", p.Name)
			}
			addr, err := c.Forward(ctx, p.Name, 9000)
			if err != nil {
				c.Forget(p.Name)
				return "", err
			}
			addrs = append(addrs, addr)
		}
		return check.MinIOHealth(ctx, addrs, 4)
	}
	client := func(ctx context.Context, pod string) (*minio.Client, string, error) {
		if pod == "" {
			pods, err := c.ServicePods(ctx, "minio")
			if err != nil {
				return nil, "", err
			}
			if len(pods) == 0 {
				return nil, "", errors.New("the minio Service has no ready endpoint")
			}
			pod = pods[0]
		}
		addr, err := c.Forward(ctx, pod, 9000)
		if err != nil {
			return nil, "", err
		}
		mc, err := minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4(user, password, ""), MaxRetries: 1})
		return mc, pod, err
	}
	s.Do("4 servers live, cluster has write quorum", func() (string, error) { return health(ctx) })
	s.Do("create the drill bucket", func() (string, error) {
		mc, pod, err := client(ctx, "")
		if err != nil {
			return "", err
		}
		victim = pod
		return "bucket " + bucket + " through " + pod, check.MakeOwnBucket(ctx, mc, bucket)
	})
	if s.Failed() {
		return finish(sc, &s, nil, start)
	}

	// The writer starts on the server that will be lost; any error means a
	// new client through the Service.
	var mc *minio.Client
	var mcPod string
	first := victim
	w := startWriter(ctx, 100*time.Millisecond, func(ctx context.Context, seq int) (string, error) {
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
	})
	defer w.halt()
	var fault time.Time
	metrics := &Metrics{}
	s.Do("objects written", func() (string, error) {
		if _, err := w.waitAcks(ctx, start, 20, time.Minute); err != nil {
			return "", err
		}
		return fmt.Sprintf("%d objects acknowledged by %s", len(w.acked()), victim), nil
	})
	s.Do("delete the client's server pod (grace period 0)", func() (string, error) {
		fault = time.Now()
		return crashPod(ctx, c, victim)
	})
	// Each ack names the pod its port-forward reached, the server that
	// answered the PUT: acks by the lost server (its recreated pod too) do
	// not count.
	s.Do("writes fail, then resume on a server other than the lost one", func() (string, error) {
		resumed, err := w.waitResumed(ctx, fault, 5, e.Timeout, victim)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("acknowledged by %s (not %s); writes stopped for %.1f s", resumed.by, victim, outage(w.acked(), fault)), nil
	})
	s.Do("4 servers ready again, write quorum", func() (string, error) {
		var ev string
		err := check.Poll(ctx, e.Timeout, time.Second, func() error {
			var err error
			ev, err = health(ctx)
			return err
		})
		metrics.RecoverySeconds = check.Seconds(time.Since(fault))
		return fmt.Sprintf("%s, whole %.1f s after the fault", ev, metrics.RecoverySeconds), err
	})
	s.Do("every acknowledged object is readable", func() (string, error) {
		if _, err := w.waitAcks(ctx, time.Now(), 5, e.Timeout); err != nil {
			return "", err
		}
		w.halt()
		rc, pod, err := client(ctx, "")
		if err != nil {
			return "", err
		}
		survived := map[int]bool{}
		for _, a := range w.acked() {
			_, err := rc.StatObject(ctx, bucket, objectKey(a.seq), minio.StatObjectOptions{})
			survived[a.seq] = err == nil
		}
		m := w.settle(metrics, fault, survived)
		if m.Lost > 0 {
			return "", fmt.Errorf("%d of %d acknowledged objects missing through %s", m.Lost, m.Acknowledged, pod)
		}
		return fmt.Sprintf("all %d acknowledged objects found through %s; %d puts failed during the outage", m.Acknowledged, pod, m.FailedWrites), nil
	})
	s.Test("gates: RTO and RPO", func() (string, error) { return judge(*metrics, sc.Gates) })
	s.Always("remove the drill objects and bucket", func() (string, error) {
		w.halt()
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		removed := 0
		err := check.Poll(cctx, time.Minute, time.Second, func() error {
			rc, _, err := client(cctx, "")
			if err != nil {
				return err
			}
			for o := range rc.ListObjects(cctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
				if o.Err != nil {
					return o.Err
				}
				if err := rc.RemoveObject(cctx, bucket, o.Key, minio.RemoveObjectOptions{}); err != nil {
					return err
				}
				removed++
			}
			return rc.RemoveBucket(cctx, bucket)
		})
		return fmt.Sprintf("removed %d objects and %s", removed, bucket), err
	})
	if metrics.Acknowledged == 0 {
		metrics = nil
	}
	return finish(sc, &s, metrics, start)
}

func objectKey(seq int) string { return fmt.Sprintf("object-%06d", seq) }

// podReady is the pod's Ready condition: its readiness probe passes.
func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
