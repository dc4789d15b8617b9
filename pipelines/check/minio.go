package check

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/statex/infrastructure/pipelines/service"
	"github.com/statex/infrastructure/pipelines/verdict"
)

// MinIO: every server live and the cluster holding write quorum; a bucket
// with a small object (put, stat, get with its SHA-256 compared) and a
// multipart upload; a listing; everything removed afterwards.

func checkMinIO(ctx context.Context, e *Env) Result {
	start := time.Now()
	var s verdict.Steps
	c := e.Cluster
	var user, password, pod string
	s.Do("read the credentials", func() (string, error) {
		var err error
		user, password, err = service.MinIOCredentials(ctx, c)
		return "secret " + service.MinIOSecret, err
	})
	s.Do("4 servers live, cluster has write quorum", func() (string, error) {
		// Pods leaves out the bucket-setup Job's pod.
		pods, err := c.Pods(ctx, service.MinIOService)
		if err != nil {
			return "", err
		}
		var addrs []string
		for _, p := range pods {
			addr, err := c.Forward(ctx, p.Name, service.MinIOPort)
			if err != nil {
				return "", err
			}
			addrs = append(addrs, addr)
			pod = p.Name
		}
		return service.MinIOHealth(ctx, addrs, service.MinIOServers)
	})
	bucket := "statex-check-" + e.RunID
	var mc *minio.Client
	s.Do("connect with the S3 API", func() (string, error) {
		var err error
		if mc, err = service.MinIOClient(ctx, c, pod, user, password, 0); err != nil {
			return "", err
		}
		return "endpoint " + pod, service.MakeOwnBucket(ctx, mc, bucket)
	})
	s.Do("put, stat and get an object; SHA-256 matches", func() (string, error) {
		return service.S3RoundTrip(ctx, mc, bucket, "small", 64<<10, 0)
	})
	s.Do("multipart upload (3 parts) read back intact", func() (string, error) {
		return service.S3RoundTrip(ctx, mc, bucket, "multipart", 12<<20, 5<<20)
	})
	s.Do("list the bucket", func() (string, error) {
		var keys []string
		for o := range mc.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
			if o.Err != nil {
				return "", o.Err
			}
			keys = append(keys, o.Key)
		}
		if strings.Join(keys, ",") != "multipart,small" {
			return "", fmt.Errorf("listed %v, want [multipart small]", keys)
		}
		return "2 objects: " + strings.Join(keys, ", "), nil
	})
	s.Always("remove the objects and the bucket", func() (string, error) {
		if mc == nil {
			return "nothing written", nil
		}
		for _, k := range []string{"small", "multipart"} {
			if err := mc.RemoveObject(ctx, bucket, k, minio.RemoveObjectOptions{}); err != nil {
				return "", err
			}
		}
		return "removed " + bucket, mc.RemoveBucket(ctx, bucket)
	})
	return finish("minio", &s, start)
}
