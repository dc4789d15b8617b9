package drill

import (
	"context"
	"fmt"
	"strconv"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/statex/infrastructure/pipelines/service"
	"github.com/statex/infrastructure/pipelines/verdict"
)

// rabbitmqLeaderPodKill deletes the pod holding a quorum queue's leader
// while a client connected to that node publishes to the queue with
// publisher confirms; a confirmed message is on a majority of the queue's
// members, so none may be lost.
func rabbitmqLeaderPodKill(ctx context.Context, e *Env, sc Scenario) Result {
	c := e.Cluster
	var password, leader string
	queue := "statex-drill-" + e.RunID
	// healthyPod is a ready node, asked about the cluster and the queue.
	healthyPod := func(ctx context.Context) (string, error) {
		pods, err := c.ServicePods(ctx, service.RabbitService)
		if err != nil {
			return "", err
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
		conn, err := service.DialAMQPPod(ctx, c, pod, password, 3*time.Second)
		return conn, pod, err
	}
	dial := func(ctx context.Context) (*amqp.Connection, string, error) { return dialPod(ctx, "") }
	clusterWhole := func(ctx context.Context) (string, error) {
		pod, err := healthyPod(ctx)
		if err != nil {
			return "", err
		}
		return service.RabbitCluster(ctx, c, pod, service.RabbitMembers)
	}
	queueStatus := func(ctx context.Context) (ev, leader string, err error) {
		pod, err := healthyPod(ctx)
		if err != nil {
			return "", "", err
		}
		out, err := service.QuorumStatus(ctx, c, pod, queue)
		if err != nil {
			return "", "", err
		}
		if ev, err = service.JudgeQuorumMembers(out, service.RabbitMembers); err != nil {
			return ev, "", err
		}
		leader, err = service.QuorumLeaderPod(out)
		return ev, leader, err
	}

	// The writer publishes persistent messages and counts one as written
	// when the broker confirms it. It starts on the leader's node, the worst
	// place for a client to be when that node dies; any error means a new
	// connection through the Service.
	var conn *amqp.Connection
	var ch *amqp.Channel
	var connPod, first string
	reset := func() {
		if conn != nil {
			conn.Close()
		}
		conn, ch = nil, nil
		c.Forget(connPod)
	}
	return e.run(ctx, sc, script{
		prepare: func(s *verdict.Steps) {
			s.Do("read the credentials", func() (string, error) {
				var err error
				password, err = service.RabbitPassword(ctx, c)
				return "secret " + service.RabbitSecret + " (user " + service.RabbitUser + ")", err
			})
			s.Do("3 running cluster nodes, no partition, no alarm", func() (string, error) { return clusterWhole(ctx) })
			s.Do("declare a quorum queue; find its leader", func() (string, error) {
				return onChannel(ctx, dial, func(ch *amqp.Channel, pod string) (string, error) {
					if _, err := ch.QueueDeclare(queue, true, false, false, false, amqp.Table{"x-queue-type": "quorum"}); err != nil {
						return "", err
					}
					ev, l, err := queueStatus(ctx)
					leader, first = l, l
					return fmt.Sprintf("queue %s declared through %s: %s", queue, pod, ev), err
				})
			})
		},
		write: func(ctx context.Context, seq int) (string, error) {
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
		},
		reset: reset,

		writing: "publishes confirmed through the rabbitmq Service",
		written: func(n int) string { return fmt.Sprintf("%d messages confirmed (queue leader on %s)", n, leader) },

		faultStep: "delete the queue leader's pod (grace period 0)",
		fault:     func(ctx context.Context) (string, error) { return crashPod(ctx, c, leader) },

		resumeStep: "publishes fail, then resume",
		resumed: func(by string, outage float64) string {
			return fmt.Sprintf("confirmed through %s again; publishing stopped for %.1f s", by, outage)
		},

		wholeStep: "cluster whole again: 3 nodes, the queue with 3 members",
		whole: func(ctx context.Context) (string, error) {
			if _, err := clusterWhole(ctx); err != nil {
				return "", err
			}
			ev, _, err := queueStatus(ctx)
			return ev, err
		},

		surviveStep: "every confirmed message is in the queue",
		survived: func(ctx context.Context, _ []ack) (map[int]bool, string, error) {
			got, err := drainQueue(ctx, dial, queue)
			return got, fmt.Sprint(len(got)), err
		},
		settled: func(m Metrics, inQueue string) (string, error) {
			if m.Lost > 0 {
				return "", fmt.Errorf("%d of %d confirmed messages missing", m.Lost, m.Acknowledged)
			}
			return fmt.Sprintf("all %d confirmed messages consumed (%s in the queue, unconfirmed ones included); %d publishes failed during the outage",
				m.Acknowledged, inQueue, m.FailedWrites), nil
		},

		cleanupStep: "delete the drill queue",
		cleanup: func(ctx context.Context) (string, error) {
			return onChannel(ctx, dial, func(ch *amqp.Channel, _ string) (string, error) {
				purged, err := ch.QueueDelete(queue, false, false, false)
				return fmt.Sprintf("deleted %s (%d messages left in it)", queue, purged), err
			})
		},
	})
}

// amqpDial connects to a RabbitMQ node and says which pod it reached.
type amqpDial func(context.Context) (*amqp.Connection, string, error)

// onChannel runs fn on a channel of a new connection (and the pod it
// reached), closing both after.
func onChannel[T any](ctx context.Context, dial amqpDial, fn func(ch *amqp.Channel, pod string) (T, error)) (T, error) {
	conn, pod, err := dial(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	defer conn.Close()
	return service.OnChannel(conn, func(ch *amqp.Channel) (T, error) { return fn(ch, pod) })
}

// drainQueue consumes every message in queue (bounded by its count at the
// start) and returns the sequence numbers seen.
func drainQueue(ctx context.Context, dial amqpDial, queue string) (map[int]bool, error) {
	return onChannel(ctx, dial, func(ch *amqp.Channel, _ string) (map[int]bool, error) { return drain(ch, queue) })
}

func drain(ch *amqp.Channel, queue string) (map[int]bool, error) {
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
