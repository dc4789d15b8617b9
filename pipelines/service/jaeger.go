package service

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/statex/infrastructure/pipelines/poll"
)

// Jaeger: all-in-one, OTLP in, the query API out (manifests/base/jaeger).
const (
	JaegerService = "jaeger"
	OTLPHTTPPort  = 4318
	JaegerAPIPort = 16686
)

// SendSpan exports one span with the OpenTelemetry SDK's OTLP/HTTP exporter
// and returns its trace ID.
func SendSpan(ctx context.Context, endpoint, service, name string) (string, error) {
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(endpoint), otlptracehttp.WithInsecure())
	if err != nil {
		return "", err
	}
	res := resource.NewSchemaless(attribute.String("service.name", service))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithResource(res))
	_, span := tp.Tracer("statex/check").Start(ctx, name)
	span.SetAttributes(attribute.String("statex.check", name))
	id := span.SpanContext().TraceID().String()
	span.End()
	if err := tp.Shutdown(ctx); err != nil {
		return id, fmt.Errorf("export: %w", err)
	}
	return id, nil
}

// FindTrace polls Jaeger's query API for the trace (ingestion is
// asynchronous) and checks it holds the span.
func FindTrace(ctx context.Context, base, traceID, spanName string, timeout time.Duration) (string, error) {
	began := time.Now()
	var names []string
	err := poll.Until(ctx, timeout, 500*time.Millisecond, func() error {
		var r struct {
			Data []struct {
				Spans []struct {
					OperationName string `json:"operationName"`
				} `json:"spans"`
			} `json:"data"`
		}
		if err := RequestJSON(ctx, http.MethodGet, base+"/api/traces/"+traceID, "", "", "", &r); err != nil {
			return err
		}
		names = names[:0]
		for _, t := range r.Data {
			for _, sp := range t.Spans {
				names = append(names, sp.OperationName)
			}
		}
		if !slices.Contains(names, spanName) {
			return fmt.Errorf("trace %s has spans %v, want %s", traceID, names, spanName)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("span %s found after %s", spanName, time.Since(began).Round(time.Millisecond)), nil
}
