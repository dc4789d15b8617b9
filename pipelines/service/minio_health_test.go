package service

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A server that is live but does not see write quorum yet (it restarted
// and has not rejoined) keeps the cluster from being judged whole, even
// when the first server reports it healthy. The real servers' answers are
// covered by the integration test TestCheckMinIOObjects; this is the judgement.
func TestMinIOHealthAsksEveryServerForQuorum(t *testing.T) {
	server := func(clusterStatus int) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/minio/health/live":
				w.WriteHeader(http.StatusOK)
			case "/minio/health/cluster":
				w.Header().Set("X-Minio-Write-Quorum", "3")
				w.WriteHeader(clusterStatus)
			default:
				w.WriteHeader(http.StatusNotFound)
			}
		}))
		t.Cleanup(s.Close)
		return strings.TrimPrefix(s.URL, "http://")
	}
	healthy, rejoining := server(http.StatusOK), server(http.StatusServiceUnavailable)
	if _, err := MinIOHealth(context.Background(), []string{healthy, healthy}, 2); err != nil {
		t.Errorf("two healthy servers: %v", err)
	}
	_, err := MinIOHealth(context.Background(), []string{healthy, rejoining}, 2)
	if err == nil || !strings.Contains(err.Error(), rejoining) {
		t.Errorf("a server without write quorum behind a healthy first one: err %v, want one naming %s", err, rejoining)
	}
}
