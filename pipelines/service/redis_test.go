package service

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Without Sentinels (no pods found, or the step that makes them failed)
// and with only unreachable ones, the judgements fail closed: no
// agreement, no master. The happy path runs against real Sentinels in
// tests/integration (SentinelsAgree) and on kind (check, drill).
func TestSentinelsFailClosed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var none Sentinels
	if _, err := none.Agree(ctx); err == nil {
		t.Error("no Sentinels agreed")
	}
	if pod, err := none.MasterPod(ctx); err == nil || !strings.Contains(err.Error(), "no Sentinel named a master") {
		t.Errorf("no Sentinels named master %q (%v)", pod, err)
	}
	none.Close()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now: every dial is refused
	dead := Sentinels{Addrs: []string{addr}, Clients: []*redis.SentinelClient{redis.NewSentinelClient(&redis.Options{Addr: addr, MaxRetries: -1})}}
	defer dead.Close()
	if _, err := dead.Agree(ctx); err == nil {
		t.Error("an unreachable Sentinel agreed")
	}
	if pod, err := dead.MasterPod(ctx); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("an unreachable Sentinel named master %q (%v)", pod, err)
	}
}
