package check

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// MinIO: every server live and the cluster holding write quorum; a bucket
// with a small object (put, stat, get with its SHA-256 compared) and a
// multipart upload; a listing; everything removed afterwards.

func checkMinIO(ctx context.Context, e *Env) Result {
	start := time.Now()
	var s Steps
	c := e.Cluster
	var user, password, pod string
	s.Do("read the credentials", func() (string, error) {
		var err error
		if user, err = c.Secret(ctx, "minio-credentials", "root-user"); err != nil {
			return "", err
		}
		password, err = c.Secret(ctx, "minio-credentials", "root-password")
		return "secret minio-credentials", err
	})
	s.Do("4 servers live, cluster has write quorum", func() (string, error) {
		pods, err := c.Pods(ctx, "minio")
		if err != nil {
			return "", err
		}
		var addrs []string
		for _, p := range pods {
			if OwnedByJob(&p) {
				continue // the bucket-setup Job
			}
			addr, err := c.Forward(ctx, p.Name, 9000)
			if err != nil {
				return "", err
			}
			addrs = append(addrs, addr)
			pod = p.Name
		}
		return MinIOHealth(ctx, addrs, 4)
	})
	bucket := "statex-check-" + e.RunID
	var mc *minio.Client
	s.Do("connect with the S3 API", func() (string, error) {
		addr, err := c.Forward(ctx, pod, 9000)
		if err != nil {
			return "", err
		}
		mc, err = minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4(user, password, "")})
		if err != nil {
			return "", err
		}
		return "endpoint " + pod, MakeOwnBucket(ctx, mc, bucket)
	})
	s.Do("put, stat and get an object; SHA-256 matches", func() (string, error) {
		return S3RoundTrip(ctx, mc, bucket, "small", 64<<10, 0)
	})
	s.Do("multipart upload (3 parts) read back intact", func() (string, error) {
		return S3RoundTrip(ctx, mc, bucket, "multipart", 12<<20, 5<<20)
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
	return s.Finish("minio", start)
}

// MinIOHealth wants every server's liveness endpoint to answer and the
// cluster endpoint to confirm write quorum (200, not 503).
func MinIOHealth(ctx context.Context, addrs []string, want int) (string, error) {
	if len(addrs) != want {
		return "", fmt.Errorf("%d servers, want %d", len(addrs), want)
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	get := func(url string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
		return resp, nil
	}
	for _, a := range addrs {
		resp, err := get("http://" + a + "/minio/health/live")
		if err != nil {
			return "", err
		}
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("server at %s: live %s", a, resp.Status)
		}
	}
	resp, err := get("http://" + addrs[0] + "/minio/health/cluster")
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("cluster health %s (no write quorum)", resp.Status)
	}
	return fmt.Sprintf("%d live; write quorum %s", len(addrs), resp.Header.Get("X-Minio-Write-Quorum")), nil
}

// MakeOwnBucket creates a bucket whose name is unique to this run. A
// server settling after a restart can answer the first request with an
// error after creating the bucket; the client's retry then gets
// BucketAlreadyOwnedByYou, which for a run-unique name means it is ours.
func MakeOwnBucket(ctx context.Context, mc *minio.Client, bucket string) error {
	err := mc.MakeBucket(ctx, bucket, minio.MakeBucketOptions{})
	if minio.ToErrorResponse(err).Code == "BucketAlreadyOwnedByYou" {
		return nil
	}
	return err
}

// S3RoundTrip uploads size random bytes (multipart when partSize > 0),
// stats and downloads the object and compares SHA-256 digests.
func S3RoundTrip(ctx context.Context, mc *minio.Client, bucket, key string, size, partSize int) (string, error) {
	data := make([]byte, size)
	if _, err := rand.Read(data); err != nil {
		return "", err
	}
	want := sha256.Sum256(data)
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream"}
	if partSize > 0 {
		opts.PartSize = uint64(partSize)
	}
	info, err := mc.PutObject(ctx, bucket, key, bytes.NewReader(data), int64(size), opts)
	if err != nil {
		return "", err
	}
	st, err := mc.StatObject(ctx, bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return "", err
	}
	if st.Size != int64(size) {
		return "", fmt.Errorf("stat size %d, want %d", st.Size, size)
	}
	obj, err := mc.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return "", err
	}
	defer obj.Close()
	h := sha256.New()
	if _, err := io.Copy(h, obj); err != nil {
		return "", err
	}
	if got := h.Sum(nil); !bytes.Equal(got, want[:]) {
		return "", fmt.Errorf("sha256 %s, want %s", hex.EncodeToString(got), hex.EncodeToString(want[:]))
	}
	parts := "single part"
	if i := strings.LastIndexByte(info.ETag, '-'); i >= 0 {
		parts = info.ETag[i+1:] + " parts"
	}
	return fmt.Sprintf("%d bytes, %s, etag %s, sha256 %s…", size, parts, info.ETag, hex.EncodeToString(want[:6])), nil
}
