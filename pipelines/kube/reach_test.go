package kube

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

func TestReachableNamesTheServerNeverTheCredentials(t *testing.T) {
	// Nothing listens on port 1 of the loopback: refused at once.
	cfg := &rest.Config{Host: "https://admin:hunter2-password@127.0.0.1:1", BearerToken: "token-that-must-not-show"}
	start := time.Now()
	err := Reachable(context.Background(), cfg)
	if !IsUnreachable(err) {
		t.Fatalf("want an UnreachableError, got %v", err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "API server https://127.0.0.1:1 is unreachable: ") || !strings.Contains(msg, "connection refused") {
		t.Errorf("message %q", msg)
	}
	for _, secret := range []string{"hunter2", "admin", "token-that-must-not-show", "/version"} {
		if strings.Contains(msg, secret) {
			t.Errorf("message %q contains %q", msg, secret)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s for a refused connection", d)
	}
}

func TestReachableTellsRefusedCredentialsFromNoServer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}`))
	}))
	defer srv.Close()
	err := Reachable(context.Background(), &rest.Config{Host: srv.URL, BearerToken: "wrong-token-value"})
	if err == nil || IsUnreachable(err) {
		t.Fatalf("want a refusal, not unreachable: %v", err)
	}
	if !strings.Contains(err.Error(), "API server "+srv.URL+" refused the request") || strings.Contains(err.Error(), "wrong-token-value") {
		t.Errorf("message %q", err)
	}

	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"major":"1","minor":"34"}`))
	}))
	defer ok.Close()
	if err := Reachable(context.Background(), &rest.Config{Host: ok.URL}); err != nil {
		t.Errorf("a server answering /version: %v", err)
	}
}

func TestServerURLDropsUserInfo(t *testing.T) {
	for host, want := range map[string]string{
		"https://u:p@10.0.0.1:6443/k8s/clusters/c-1?token=x": "https://10.0.0.1:6443/k8s/clusters/c-1",
		"https://127.0.0.1:6443":                             "https://127.0.0.1:6443",
		"user:pass@host:6443":                                "(server address not a URL)",
	} {
		if got := ServerURL(&rest.Config{Host: host}); got != want {
			t.Errorf("ServerURL(%q) = %q, want %q", host, got, want)
		}
	}
}
