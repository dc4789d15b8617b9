package poll

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestUntilReturnsOnceTheConditionHolds(t *testing.T) {
	calls := 0
	err := Until(context.Background(), time.Second, time.Millisecond, func() error {
		calls++
		if calls < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Errorf("err %v after %d calls, want nil after 3", err, calls)
	}
}

// A timeout fails, bounded, and says why with the last answer.
func TestUntilTimesOutWithTheLastReason(t *testing.T) {
	start := time.Now()
	n := 0
	err := Until(context.Background(), 50*time.Millisecond, 5*time.Millisecond, func() error {
		n++
		return errors.New("replica lagging")
	})
	var te *TimeoutError
	if !errors.As(err, &te) || te.After != 50*time.Millisecond || !strings.Contains(err.Error(), "after 50ms: replica lagging") {
		t.Fatalf("error %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %s for a 50 ms bound", d)
	}
	if n < 2 {
		t.Errorf("%d calls: no retry", n)
	}
}

// A cancelled context ends the wait at once, after one call that gives
// the reason.
func TestUntilStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n := 0
	err := Until(ctx, time.Hour, time.Hour, func() error { n++; return errors.New("down") })
	if n != 1 || err == nil || !strings.Contains(err.Error(), "down") {
		t.Errorf("%d calls, error %v", n, err)
	}
}

// Stop ends the wait with the error itself: no retry changes a crash loop.
func TestStopEndsTheWaitAtOnce(t *testing.T) {
	crash := errors.New("crash loop")
	n := 0
	err := Until(context.Background(), time.Hour, time.Millisecond, func() error { n++; return Stop(crash) })
	if err != crash || n != 1 {
		t.Errorf("%d calls, error %v (want the crash itself)", n, err)
	}
	if Stop(nil) != nil {
		t.Error("Stop(nil) is an error")
	}
	if err := Until(context.Background(), time.Second, 0, func() error { return nil }); err == nil {
		t.Error("interval 0 accepted: the loop would spin")
	}
}
