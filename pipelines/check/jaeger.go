package check

import (
	"context"
	"time"

	"github.com/statex/infrastructure/pipelines/service"
	"github.com/statex/infrastructure/pipelines/verdict"
)

// Jaeger: a span sent over OTLP/HTTP is found by its trace ID through the
// query API.

func checkJaeger(ctx context.Context, e *Env) Result {
	start := time.Now()
	var s verdict.Steps
	var otlp, query string
	s.Do("connect to OTLP/HTTP and the query API", func() (string, error) {
		pods, err := e.Cluster.ServicePods(ctx, service.JaegerService)
		if err != nil {
			return "", err
		}
		if otlp, err = e.Cluster.Forward(ctx, pods[0], service.OTLPHTTPPort); err != nil {
			return "", err
		}
		query, err = e.Cluster.Forward(ctx, pods[0], service.JaegerAPIPort)
		return pods[0], err
	})
	var traceID string
	s.Do("send a span over OTLP/HTTP", func() (string, error) {
		var err error
		traceID, err = service.SendSpan(ctx, otlp, "statex-check", "check-"+e.RunID)
		return "trace " + traceID, err
	})
	s.Do("find the trace by ID through the query API", func() (string, error) {
		return service.FindTrace(ctx, "http://"+query, traceID, "check-"+e.RunID, 30*time.Second)
	})
	return finish("jaeger", &s, start)
}
