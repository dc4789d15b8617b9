package kube

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// upgradeRefuser is an API server (on the loopback) that refuses every
// streaming upgrade and records how each was asked for.
func upgradeRefuser(t *testing.T) (*rest.Config, func() []string) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+strings.ToLower(r.Header.Get("Upgrade"))+" "+r.URL.Path)
		mu.Unlock()
		http.Error(w, "upgrades refused here", http.StatusForbidden)
	}))
	t.Cleanup(srv.Close)
	return &rest.Config{Host: srv.URL}, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

// Exec asks for WebSocket first (GET, as RFC 6455 wants) and, refused,
// falls back to SPDY (POST), as kubectl >= 1.31 does.
func TestExecTriesWebSocketThenSPDY(t *testing.T) {
	cfg, seen := upgradeRefuser(t)
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := Exec(ctx, cfg, cs, "ns", "pod-0", "main", []string{"true"}); err == nil {
		t.Fatal("exec through a server that refuses every upgrade succeeded")
	}
	want := []string{"GET websocket /api/v1/namespaces/ns/pods/pod-0/exec", "POST spdy/3.1 /api/v1/namespaces/ns/pods/pod-0/exec"}
	if got := seen(); !slices.Equal(got, want) {
		t.Errorf("requests\n got %q\nwant %q", got, want)
	}
}

// Port-forward tunnels over WebSocket first and falls back to SPDY.
func TestForwardTriesWebSocketThenSPDY(t *testing.T) {
	cfg, seen := upgradeRefuser(t)
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{Config: cfg, CS: cs, Namespace: "ns"}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Forward(ctx, "pod-0", 5432); err == nil {
		t.Fatal("port-forward through a server that refuses every upgrade succeeded")
	}
	want := []string{"GET websocket /api/v1/namespaces/ns/pods/pod-0/portforward", "POST spdy/3.1 /api/v1/namespaces/ns/pods/pod-0/portforward"}
	if got := seen(); !slices.Equal(got, want) {
		t.Errorf("requests\n got %q\nwant %q", got, want)
	}
}

// Only a refused upgrade falls back: any other failure is the answer.
func TestShouldFallbackOnlyOnRefusedUpgrades(t *testing.T) {
	if shouldFallback(context.DeadlineExceeded) || shouldFallback(nil) {
		t.Error("a timeout or no error falls back")
	}
}
