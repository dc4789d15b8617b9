package check

import (
	"context"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/statex/infrastructure/pipelines/service"
	"github.com/statex/infrastructure/pipelines/verdict"
)

// RabbitMQ: 3 running nodes; a quorum queue with 3 members and a
// dead-letter queue; publish with confirms, consume and ack; a rejected
// message lands in the dead-letter queue carrying x-death.

func checkRabbitMQ(ctx context.Context, e *Env) Result {
	start := time.Now()
	var s verdict.Steps
	c := e.Cluster
	var password, pod string
	s.Do("read the credentials", func() (string, error) {
		var err error
		password, err = service.RabbitPassword(ctx, c)
		return "secret " + service.RabbitSecret + " (user " + service.RabbitUser + ")", err
	})
	s.Do("3 running cluster nodes, no partition, no alarm", func() (string, error) {
		pods, err := c.ServicePods(ctx, service.RabbitService)
		if err != nil {
			return "", err
		}
		pod = pods[0]
		return service.RabbitCluster(ctx, c, pod, service.RabbitMembers)
	})
	queue := "statex-check-" + e.RunID
	var conn *amqp.Connection
	s.Do("connect with AMQP 0-9-1 through the client Service", func() (string, error) {
		var err error
		if conn, err = service.DialAMQPPod(ctx, c, pod, password, 10*time.Second); err != nil {
			return "", err
		}
		return "connected to " + pod, nil
	})
	s.Do("declare a quorum queue with a dead-letter queue", func() (string, error) {
		return service.DeclareWithDLQ(conn, queue)
	})
	s.Do("the quorum queue has 3 members", func() (string, error) {
		out, err := service.QuorumStatus(ctx, c, pod, queue)
		if err != nil {
			return "", err
		}
		return service.JudgeQuorumMembers(out, service.RabbitMembers)
	})
	s.Do("publish with confirms, consume and ack", func() (string, error) {
		return service.PublishConsume(ctx, conn, queue, "hello-"+e.RunID)
	})
	s.Do("a rejected message lands in the dead-letter queue with x-death", func() (string, error) {
		return service.RejectToDLQ(ctx, conn, queue, "reject-"+e.RunID)
	})
	s.Always("delete the queues", func() (string, error) {
		if conn == nil {
			return "nothing declared", nil
		}
		defer conn.Close()
		return service.OnChannel(conn, func(ch *amqp.Channel) (string, error) {
			for _, q := range []string{queue, queue + ".dlq"} {
				if _, err := ch.QueueDelete(q, false, false, false); err != nil {
					return "", err
				}
			}
			return "deleted " + queue + " and " + queue + ".dlq", nil
		})
	})
	return finish("rabbitmq", &s, start)
}
