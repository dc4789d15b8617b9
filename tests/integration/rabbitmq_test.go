package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// The statex/rabbitmq image boots a node that serves AMQP with its
// Prometheus plugin on: a quorum queue takes a message with a publisher
// confirm, delivers it, and a rejected message is dead-lettered with x-death.
func TestRabbitMQImageQuorumQueueConfirmsAndDeadLetters(t *testing.T) {
	image := requireImage(t, "rabbitmq")
	conf := "default_user = statex\ndefault_pass = integration-secret\nloopback_users = none\n"
	c := start(t, image,
		testcontainers.WithFiles(testcontainers.ContainerFile{
			Reader: strings.NewReader(conf), ContainerFilePath: "/etc/rabbitmq/conf.d/10-test.conf", FileMode: 0o644,
		}),
		testcontainers.WithExposedPorts("5672/tcp", "15692/tcp"),
		testcontainers.WithWaitStrategy(
			wait.ForLog("Server startup complete").WithStartupTimeout(2*time.Minute),
			wait.ForListeningPort("5672/tcp"),
		),
	)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	conn, err := amqp.Dial("amqp://statex:integration-secret@" + endpoint(t, c, "5672/tcp") + "/")
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	queue, dlq := unique("probe"), unique("probe_dlq")
	if _, err := ch.QueueDeclare(dlq, true, false, false, false, amqp.Table{"x-queue-type": "quorum"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare(queue, true, false, false, false, amqp.Table{
		"x-queue-type": "quorum", "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq,
	}); err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	publish := func(body string) {
		t.Helper()
		conf, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", queue, true, false,
			amqp.Publishing{DeliveryMode: amqp.Persistent, Body: []byte(body), MessageId: body})
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := conf.WaitContext(ctx); err != nil || !ok {
			t.Fatalf("publisher confirm for %s: ack=%v err=%v", body, ok, err)
		}
	}
	get := func(q string) amqp.Delivery {
		t.Helper()
		for range 50 { // bounded: 50 × 100 ms
			d, ok, err := ch.Get(q, false)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				return d
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("no message on %s", q)
		return amqp.Delivery{}
	}

	good, bad := unique("good"), unique("bad")
	publish(good)
	d := get(queue)
	if string(d.Body) != good {
		t.Fatalf("consumed %q, want %q", d.Body, good)
	}
	if err := d.Ack(false); err != nil {
		t.Fatal(err)
	}
	publish(bad)
	d = get(queue)
	if err := d.Reject(false); err != nil {
		t.Fatal(err)
	}
	dead := get(dlq)
	deaths, _ := dead.Headers["x-death"].([]any)
	if string(dead.Body) != bad || len(deaths) == 0 {
		t.Fatalf("dead letter body %q, x-death %v; want %q with x-death", dead.Body, dead.Headers["x-death"], bad)
	}
	if first, _ := deaths[0].(amqp.Table); first["reason"] != "rejected" || first["queue"] != queue {
		t.Errorf("x-death[0] = %v, want reason rejected from %s", deaths[0], queue)
	}
	_ = dead.Ack(false)
	for _, q := range []string{queue, dlq} {
		if _, err := ch.QueueDelete(q, false, false, false); err != nil {
			t.Errorf("cleanup %s: %v", q, err)
		}
	}
}
