package drill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/statex/infrastructure/pipelines/check"
)

// rabbitmqLeaderPodKill deletes the pod holding a quorum queue's leader
// while a client connected to that node publishes to the queue with
// publisher confirms; a confirmed message is on a majority of the queue's
// members, so none may be lost.
func rabbitmqLeaderPodKill(ctx context.Context, e *Env, sc Scenario) Result {
	start := time.Now()
	var s check.Steps
	c := e.Cluster
	var password, leader string
	queue := "statex-drill-" + e.RunID
	s.Do("read the credentials", func() (string, error) {
		var err error
		password, err = c.Secret(ctx, "rabbitmq-credentials", "admin-password")
		return "secret rabbitmq-credentials (user admin)", err
	})
	// healthyPod is a ready node, asked about the cluster and the queue.
	healthyPod := func(ctx context.Context) (string, error) {
		pods, err := c.ServicePods(ctx, "rabbitmq")
		if err != nil {
			return "", err
		}
		if len(pods) == 0 {
			return "", errors.New("the rabbitmq Service has no ready endpoint")
		}
		return pods[0], nil
	}
	// dialPod connects to pod, or to what the Service routes to.
	dialPod := func(ctx context.Context, pod string) (*amqp.Connection, string, error) {
		if pod == "" {
			var err error
			if pod, err = healthyPod(ctx); err != nil {
				return nil, "", err
			}
		}
		addr, err := c.Forward(ctx, pod, 5672)
		if err != nil {
			return nil, "", err
		}
		conn, err := check.DialAMQP(addr, "admin", password, 3*time.Second)
		if err != nil {
			c.Forget(pod)
		}
		return conn, pod, err
	}
	dial := func(ctx context.Context) (*amqp.Connection, string, error) { return dialPod(ctx, "") }
	queueStatus := func(ctx context.Context) (ev, leader string, err error) {
		pod, err := healthyPod(ctx)
		if err != nil {
			return "", "", err
		}
		out, err := c.Exec(ctx, pod, "rabbitmq", "rabbitmq-queues", "-q", "quorum_status", queue, "--formatter", "json")
		if err != nil {
			return "", "", err
		}
		if ev, err = check.JudgeQuorumMembers(out, 3); err != nil {
			return ev, "", err
		}
		leader, err = quorumLeaderPod(out)
		return ev, leader, err
	}
	s.Do("3 running cluster nodes, no partition, no alarm", func() (string, error) {
		pod, err := healthyPod(ctx)
		if err != nil {
			return "", err
		}
		out, err := c.Exec(ctx, pod, "rabbitmq", "rabbitmqctl", "-q", "cluster_status", "--formatter", "json")
		if err != nil {
			return "", err
		}
		return check.JudgeRabbitCluster(out, 3)
	})
	s.Do("declare a quorum queue; find its leader", func() (string, error) {
		conn, pod, err := dial(ctx)
		if err != nil {
			return "", err
		}
		defer conn.Close()
		ch, err := conn.Channel()
		if err != nil {
			return "", err
		}
		defer ch.Close()
		if _, err := ch.QueueDeclare(queue, true, false, false, false, amqp.Table{"x-queue-type": "quorum"}); err != nil {
			return "", err
		}
		ev, l, err := queueStatus(ctx)
		leader = l
		return fmt.Sprintf("queue %s declared through %s: %s", queue, pod, ev), err
	})
	if s.Failed() {
		return finish(sc, &s, nil, start)
	}

	// The writer publishes persistent messages and counts one as written
	// when the broker confirms it. It starts on the leader's node, the worst
	// place for a client to be when that node dies; any error means a new
	// connection through the Service.
	var conn *amqp.Connection
	var ch *amqp.Channel
	var connPod string
	first := leader
	reset := func() {
		if conn != nil {
			conn.Close()
		}
		conn, ch = nil, nil
		c.Forget(connPod)
	}
	w := startWriter(ctx, 100*time.Millisecond, func(ctx context.Context, seq int) (string, error) {
		if ch == nil {
			var err error
			conn, connPod, err = dialPod(ctx, first)
			first = ""
			if err != nil {
				conn = nil
				return "", err
			}
			if ch, err = conn.Channel(); err == nil {
				err = ch.Confirm(false)
			}
			if err != nil {
				reset()
				return "", err
			}
		}
		confirm, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", queue, true, false, amqp.Publishing{
			DeliveryMode: amqp.Persistent, Body: []byte(strconv.Itoa(seq)),
		})
		if err == nil {
			var acked bool
			if acked, err = confirm.WaitContext(ctx); err == nil && !acked {
				err = fmt.Errorf("message %d nacked by the broker", seq)
			}
		}
		if err != nil {
			reset()
		}
		return connPod, err
	})
	defer w.halt()
	var fault time.Time
	metrics := &Metrics{}
	s.Do("publishes confirmed through the rabbitmq Service", func() (string, error) {
		if _, err := w.waitAcks(ctx, start, 20, time.Minute); err != nil {
			return "", err
		}
		return fmt.Sprintf("%d messages confirmed (queue leader on %s)", len(w.acked()), leader), nil
	})
	s.Do("delete the queue leader's pod (grace period 0)", func() (string, error) {
		fault = time.Now()
		return crashPod(ctx, c, leader)
	})
	s.Do("publishes fail, then resume", func() (string, error) {
		resumed, err := w.waitResumed(ctx, fault, 5, e.Timeout, "")
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("confirmed through %s again; publishing stopped for %.1f s", resumed.by, outage(w.acked(), fault)), nil
	})
	s.Do("cluster whole again: 3 nodes, the queue with 3 members", func() (string, error) {
		var ev string
		err := check.Poll(ctx, e.Timeout, time.Second, func() error {
			pod, err := healthyPod(ctx)
			if err != nil {
				return err
			}
			out, err := c.Exec(ctx, pod, "rabbitmq", "rabbitmqctl", "-q", "cluster_status", "--formatter", "json")
			if err != nil {
				return err
			}
			if _, err := check.JudgeRabbitCluster(out, 3); err != nil {
				return err
			}
			ev, _, err = queueStatus(ctx)
			return err
		})
		metrics.RecoverySeconds = check.Seconds(time.Since(fault))
		return fmt.Sprintf("%s, whole %.1f s after the fault", ev, metrics.RecoverySeconds), err
	})
	s.Do("every confirmed message is in the queue", func() (string, error) {
		if _, err := w.waitAcks(ctx, time.Now(), 5, e.Timeout); err != nil {
			return "", err
		}
		w.halt()
		reset()
		got, err := drainQueue(ctx, dial, queue)
		if err != nil {
			return "", err
		}
		m := w.settle(metrics, fault, got)
		if m.Lost > 0 {
			return "", fmt.Errorf("%d of %d confirmed messages missing", m.Lost, m.Acknowledged)
		}
		return fmt.Sprintf("all %d confirmed messages consumed (%d in the queue, unconfirmed ones included); %d publishes failed during the outage",
			m.Acknowledged, len(got), m.FailedWrites), nil
	})
	s.Test("gates: RTO and RPO", func() (string, error) { return judge(*metrics, sc.Gates) })
	s.Always("delete the drill queue", func() (string, error) {
		w.halt()
		reset()
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		var purged int
		err := check.Poll(cctx, 30*time.Second, time.Second, func() error {
			conn, _, err := dial(cctx)
			if err != nil {
				return err
			}
			defer conn.Close()
			ch, err := conn.Channel()
			if err != nil {
				return err
			}
			defer ch.Close()
			purged, err = ch.QueueDelete(queue, false, false, false)
			return err
		})
		return fmt.Sprintf("deleted %s (%d messages left in it)", queue, purged), err
	})
	if metrics.Acknowledged == 0 {
		metrics = nil
	}
	return finish(sc, &s, metrics, start)
}

// quorumLeaderPod names the pod of the member `rabbitmq-queues
// quorum_status` reports as leader (rabbit@rabbitmq-1.rabbitmq-headless...).
func quorumLeaderPod(out string) (string, error) {
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		return "", fmt.Errorf("quorum_status: %v", err)
	}
	for _, r := range rows {
		if fmt.Sprint(r["Raft State"]) == "leader" {
			_, host, _ := strings.Cut(fmt.Sprint(r["Node Name"]), "@")
			pod, _, _ := strings.Cut(host, ".")
			return pod, nil
		}
	}
	return "", errors.New("quorum_status names no leader")
}

// drainQueue consumes every message in queue (bounded by its count at the
// start) and returns the sequence numbers seen.
func drainQueue(ctx context.Context, dial func(context.Context) (*amqp.Connection, string, error), queue string) (map[int]bool, error) {
	conn, _, err := dial(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return nil, err
	}
	defer ch.Close()
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, amqp.Table{"x-queue-type": "quorum"})
	if err != nil {
		return nil, err
	}
	got := map[int]bool{}
	for range q.Messages {
		msg, ok, err := ch.Get(queue, true)
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		if seq, err := strconv.Atoi(string(msg.Body)); err == nil {
			got[seq] = true
		}
	}
	return got, nil
}
