package service

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

	"github.com/statex/infrastructure/pipelines/kube"
)

// MinIO: four servers, one drive each, in one erasure set
// (manifests/base/minio).
const (
	MinIOService = "minio"
	// MinIOSecret holds the root user and password under these keys.
	MinIOSecret      = "minio-credentials"
	MinIOUserKey     = "root-user"
	MinIOPasswordKey = "root-password"
	MinIOPort        = 9000
	// MinIOServers is the seed's server count.
	MinIOServers = 4
)

// MinIOCredentials reads the root user and password.
func MinIOCredentials(ctx context.Context, c *kube.Cluster) (user, password string, err error) {
	if user, err = c.Secret(ctx, MinIOSecret, MinIOUserKey); err != nil {
		return "", "", err
	}
	password, err = c.Secret(ctx, MinIOSecret, MinIOPasswordKey)
	return user, password, err
}

// MinIOClient is an S3 client of the server in pod, through a port-forward.
func MinIOClient(ctx context.Context, c *kube.Cluster, pod, user, password string, retries int) (*minio.Client, error) {
	addr, err := c.Forward(ctx, pod, MinIOPort)
	if err != nil {
		return nil, err
	}
	opts := &minio.Options{Creds: credentials.NewStaticV4(user, password, "")}
	if retries > 0 {
		opts.MaxRetries = retries
	}
	return minio.New(addr, opts)
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
	// Every server must see write quorum, not only the first: a server that
	// restarted answers live before it has rejoined, and a PUT it takes is
	// refused ("Resource requested is unwritable, please reduce your request
	// rate") while the first server already reports the cluster healthy.
	quorum := ""
	for _, a := range addrs {
		resp, err := get("http://" + a + "/minio/health/cluster")
		if err != nil {
			return "", err
		}
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("server at %s: cluster health %s (no write quorum)", a, resp.Status)
		}
		quorum = resp.Header.Get("X-Minio-Write-Quorum")
	}
	return fmt.Sprintf("%d live, each sees write quorum %s", len(addrs), quorum), nil
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
