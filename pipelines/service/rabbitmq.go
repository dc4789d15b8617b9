package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/statex/infrastructure/pipelines/kube"
	"github.com/statex/infrastructure/pipelines/poll"
)

// RabbitMQ: three nodes found by rabbit_peer_discovery_k8s, quorum queues,
// pause_minority (manifests/base/rabbitmq).
const (
	RabbitService   = "rabbitmq"
	RabbitContainer = "rabbitmq"
	// RabbitSecret holds the admin user's password under RabbitPasswordKey.
	RabbitSecret      = "rabbitmq-credentials"
	RabbitPasswordKey = "admin-password"
	RabbitUser        = "admin"
	AMQPPort          = 5672
	// RabbitMembers is the seed's cluster size, and every quorum queue's
	// member count.
	RabbitMembers = 3
)

// RabbitPassword reads the admin user's password.
func RabbitPassword(ctx context.Context, c *kube.Cluster) (string, error) {
	return c.Secret(ctx, RabbitSecret, RabbitPasswordKey)
}

// RabbitClusterStatusCommand prints the cluster as JudgeRabbitCluster reads it.
func RabbitClusterStatusCommand() []string {
	return []string{"rabbitmqctl", "-q", "cluster_status", "--formatter", "json"}
}

// RabbitCluster asks the node in pod for the cluster and judges it with
// JudgeRabbitCluster.
func RabbitCluster(ctx context.Context, c *kube.Cluster, pod string, want int) (string, error) {
	out, err := c.Exec(ctx, pod, RabbitContainer, RabbitClusterStatusCommand()...)
	if err != nil {
		return "", err
	}
	return JudgeRabbitCluster(out, want)
}

// QuorumStatus asks the node in pod for a quorum queue's members (`rabbitmq-queues
// quorum_status`, read by JudgeQuorumMembers and QuorumLeaderPod).
func QuorumStatus(ctx context.Context, c *kube.Cluster, pod, queue string) (string, error) {
	return c.Exec(ctx, pod, RabbitContainer, "rabbitmq-queues", "-q", "quorum_status", queue, "--formatter", "json")
}

// DialAMQPPod connects to the node in pod as admin through a port-forward;
// a failed connection drops the forward.
func DialAMQPPod(ctx context.Context, c *kube.Cluster, pod, password string, timeout time.Duration) (*amqp.Connection, error) {
	addr, err := c.Forward(ctx, pod, AMQPPort)
	if err != nil {
		return nil, err
	}
	conn, err := DialAMQP(addr, RabbitUser, password, timeout)
	if err != nil {
		c.Forget(pod)
	}
	return conn, err
}

// QuorumLeaderPod names the pod of the member `rabbitmq-queues
// quorum_status` reports as leader (rabbit@rabbitmq-1.rabbitmq-headless...).
func QuorumLeaderPod(out string) (string, error) {
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

// JudgeRabbitCluster reads `rabbitmqctl cluster_status --formatter json`.
func JudgeRabbitCluster(out string, want int) (string, error) {
	var st struct {
		Running    []string       `json:"running_nodes"`
		Partitions map[string]any `json:"partitions"`
		Alarms     []any          `json:"alarms"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return "", fmt.Errorf("cluster_status: %v", err)
	}
	ev := fmt.Sprintf("running: %s", strings.Join(shortNodes(st.Running), ", "))
	switch {
	case len(st.Running) != want:
		return ev, fmt.Errorf("%d running nodes, want %d", len(st.Running), want)
	case len(st.Partitions) > 0:
		return ev, fmt.Errorf("partitions: %v", st.Partitions)
	case len(st.Alarms) > 0:
		return ev, fmt.Errorf("alarms: %v", st.Alarms)
	}
	return ev, nil
}

func shortNodes(nodes []string) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		_, host, _ := strings.Cut(n, "@")
		out[i], _, _ = strings.Cut(host, ".")
	}
	return out
}

// JudgeQuorumMembers reads `rabbitmq-queues quorum_status --formatter json`:
// one row per member with its Raft state.
func JudgeQuorumMembers(out string, want int) (string, error) {
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		return "", fmt.Errorf("quorum_status: %v", err)
	}
	var desc []string
	leaders := 0
	for _, r := range rows {
		state := fmt.Sprint(r["Raft State"])
		desc = append(desc, fmt.Sprintf("%s=%s", shortNodes([]string{fmt.Sprint(r["Node Name"])})[0], state))
		if state == "leader" {
			leaders++
		}
	}
	ev := strings.Join(desc, ", ")
	if len(rows) != want || leaders != 1 {
		return ev, fmt.Errorf("%d members with %d leaders, want %d with 1", len(rows), leaders, want)
	}
	return ev, nil
}

// OnChannel runs fn on a channel of its own and closes it after: a
// channel-level error (a failed declare, a missing queue) closes the channel, and
// must not break the next task on the same connection.
func OnChannel[T any](conn *amqp.Connection, fn func(*amqp.Channel) (T, error)) (T, error) {
	ch, err := conn.Channel()
	if err != nil {
		var zero T
		return zero, err
	}
	defer ch.Close()
	return fn(ch)
}

// DeclareWithDLQ declares queue (quorum, dead-lettering to queue.dlq) and
// queue.dlq (quorum).
func DeclareWithDLQ(conn *amqp.Connection, queue string) (string, error) {
	return OnChannel(conn, func(ch *amqp.Channel) (string, error) {
		dlq := queue + ".dlq"
		if _, err := ch.QueueDeclare(dlq, true, false, false, false, amqp.Table{"x-queue-type": "quorum"}); err != nil {
			return "", err
		}
		if _, err := ch.QueueDeclare(queue, true, false, false, false, amqp.Table{
			"x-queue-type": "quorum", "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq,
		}); err != nil {
			return "", err
		}
		return "quorum queues " + queue + " and " + dlq, nil
	})
}

// PublishConsume publishes body with a confirm, then consumes and acks it.
func PublishConsume(ctx context.Context, conn *amqp.Connection, queue, body string) (string, error) {
	return OnChannel(conn, func(ch *amqp.Channel) (string, error) {
		d, err := publishThenGet(ctx, ch, queue, body)
		if err != nil {
			return "", err
		}
		if err := d.Ack(false); err != nil {
			return "", err
		}
		return "published (confirmed), consumed, acked", nil
	})
}

// RejectToDLQ publishes, rejects without requeue and finds the message in
// the dead-letter queue with an x-death header naming the queue.
func RejectToDLQ(ctx context.Context, conn *amqp.Connection, queue, body string) (string, error) {
	return OnChannel(conn, func(ch *amqp.Channel) (string, error) { return rejectToDLQ(ctx, ch, queue, body) })
}

func rejectToDLQ(ctx context.Context, ch *amqp.Channel, queue, body string) (string, error) {
	d, err := publishThenGet(ctx, ch, queue, body)
	if err != nil {
		return "", err
	}
	if err := d.Reject(false); err != nil {
		return "", err
	}
	dl, err := getOne(ctx, ch, queue+".dlq")
	if err != nil {
		return "", fmt.Errorf("dead-letter queue: %w", err)
	}
	defer dl.Ack(false)
	if string(dl.Body) != body {
		return "", fmt.Errorf("dead-lettered %q, want %q", dl.Body, body)
	}
	deaths, ok := dl.Headers["x-death"].([]any)
	if !ok || len(deaths) == 0 {
		return "", fmt.Errorf("no x-death header: %v", dl.Headers)
	}
	first, _ := deaths[0].(amqp.Table)
	if first["queue"] != queue || first["reason"] != "rejected" {
		return "", fmt.Errorf("x-death %v, want queue %s reason rejected", first, queue)
	}
	return fmt.Sprintf("x-death: queue=%v reason=%v count=%v", first["queue"], first["reason"], first["count"]), nil
}

// publishThenGet publishes body with a confirm and gets it back unacked.
func publishThenGet(ctx context.Context, ch *amqp.Channel, queue, body string) (amqp.Delivery, error) {
	if err := publishConfirmed(ctx, ch, queue, body); err != nil {
		return amqp.Delivery{}, err
	}
	d, err := getOne(ctx, ch, queue)
	if err != nil {
		return d, err
	}
	if string(d.Body) != body {
		return d, fmt.Errorf("got %q from %s, want %q", d.Body, queue, body)
	}
	return d, nil
}

func publishConfirmed(ctx context.Context, ch *amqp.Channel, queue, body string) error {
	if err := ch.Confirm(false); err != nil {
		return err
	}
	conf, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", queue, true, false, amqp.Publishing{
		DeliveryMode: amqp.Persistent, ContentType: "text/plain", Body: []byte(body),
	})
	if err != nil {
		return err
	}
	ok, err := conf.WaitContext(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("publish of %q was nacked", body)
	}
	return nil
}

// getOne polls basic.get: a quorum queue makes a confirmed message available
// at once, but a bounded retry keeps a slow replica from flaking the check.
func getOne(ctx context.Context, ch *amqp.Channel, queue string) (amqp.Delivery, error) {
	var d amqp.Delivery
	err := poll.Until(ctx, 10*time.Second, 100*time.Millisecond, func() error {
		got, ok, err := ch.Get(queue, false)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("queue %s is empty", queue)
		}
		d = got
		return nil
	})
	return d, err
}

// DialAMQP connects to addr as user. The credentials travel in the SASL
// config, never in the URL: amqp091 quotes the URL in its parse errors,
// and a password with a reserved character ('/', '@', '%') breaks the
// parse. The error is scrubbed of the password all the same.
func DialAMQP(addr, user, password string, timeout time.Duration) (*amqp.Connection, error) {
	u := url.URL{Scheme: "amqp", Host: addr, Path: "/"}
	conn, err := amqp.DialConfig(u.String(), amqp.Config{
		SASL: []amqp.Authentication{&amqp.PlainAuth{Username: user, Password: password}},
		Dial: amqp.DefaultDial(timeout),
	})
	return conn, kube.NewScrubber(password).Error(err)
}
