package check

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Prometheus: every scrape target up (targets of services whose image is
// unavailable offline are excused, by name), every rule group loaded with no
// failing rule, and an instant query answering.
// Jaeger: a span sent over OTLP/HTTP is found by its trace ID through the
// query API.

func checkPrometheus(ctx context.Context, e *Env) Result {
	start := time.Now()
	var s steps
	var base string
	s.do("connect to the HTTP API", func() (string, error) {
		pods, err := e.Cluster.ServicePods(ctx, "prometheus")
		if err != nil {
			return "", err
		}
		addr, err := e.Cluster.Forward(ctx, pods[0], 9090)
		base = "http://" + addr
		return pods[0], err
	})
	s.test("every expected scrape target is up", func() (string, error) {
		targets, err := PromTargets(ctx, base)
		if err != nil {
			return "", err
		}
		return JudgeTargets(targets, e.Unavailable)
	})
	s.test("every rule group loaded, no rule failing", func() (string, error) {
		return PromRules(ctx, base)
	})
	s.test("instant query `up` answers", func() (string, error) {
		return PromQueryUp(ctx, base)
	})
	return s.result("prometheus", start)
}

// PromTargets lists the active scrape targets.
func PromTargets(ctx context.Context, base string) ([]PromTarget, error) {
	var targets struct {
		ActiveTargets []PromTarget `json:"activeTargets"`
	}
	err := promGet(ctx, base, "/api/v1/targets?state=active", &targets)
	return targets.ActiveTargets, err
}

// PromRules wants at least one rule group and no rule whose last
// evaluation failed.
func PromRules(ctx context.Context, base string) (string, error) {
	var rules struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Name      string `json:"name"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := promGet(ctx, base, "/api/v1/rules", &rules); err != nil {
		return "", err
	}
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			if r.Health == "err" {
				return "", fmt.Errorf("rule %s/%s: %s", g.Name, r.Name, r.LastError)
			}
		}
	}
	if len(rules.Groups) == 0 {
		return "", fmt.Errorf("no rule groups loaded")
	}
	return fmt.Sprintf("%d groups, %d rules, none failing", len(rules.Groups), n), nil
}

// PromQueryUp runs the instant query `up` and wants a non-empty vector.
func PromQueryUp(ctx context.Context, base string) (string, error) {
	var q struct {
		ResultType string `json:"resultType"`
		Result     []any  `json:"result"`
	}
	if err := promGet(ctx, base, "/api/v1/query?query="+url.QueryEscape("up"), &q); err != nil {
		return "", err
	}
	if q.ResultType != "vector" || len(q.Result) == 0 {
		return "", fmt.Errorf("query up: %s with %d series", q.ResultType, len(q.Result))
	}
	return fmt.Sprintf("%d series", len(q.Result)), nil
}

// PromTarget is one active target of GET /api/v1/targets.
type PromTarget struct {
	Labels    map[string]string `json:"labels"`
	Health    string            `json:"health"`
	LastError string            `json:"lastError"`
	ScrapeURL string            `json:"scrapeUrl"`
}

// JudgeTargets fails on any down target, except targets of services that
// are unavailable (named in the evidence, so they are never silently lost).
func JudgeTargets(targets []PromTarget, unavailable map[string]string) (string, error) {
	up := 0
	var down, excused []string
	for _, t := range targets {
		if t.Health == "up" {
			up++
			continue
		}
		name := t.Labels["job"] + "/" + t.Labels["instance"]
		svc := serviceOfTarget(t, unavailable)
		if svc != "" {
			excused = append(excused, name)
			continue
		}
		down = append(down, fmt.Sprintf("%s (%s): %s", name, t.Health, t.LastError))
	}
	sort.Strings(down)
	ev := fmt.Sprintf("%d up", up)
	if len(excused) > 0 {
		ev += fmt.Sprintf("; %d down but excused (image unavailable offline): %s", len(excused), strings.Join(excused, ", "))
	}
	if up == 0 {
		return ev, fmt.Errorf("no target is up")
	}
	if len(down) > 0 {
		return ev, fmt.Errorf("%d targets down: %s", len(down), strings.Join(down, "; "))
	}
	return ev, nil
}

func serviceOfTarget(t PromTarget, unavailable map[string]string) string {
	for svc := range unavailable {
		if t.Labels["job"] == svc || strings.HasPrefix(t.Labels["pod"], svc+"-") {
			return svc
		}
	}
	return ""
}

func promGet(ctx context.Context, base, path string, into any) error {
	body, err := httpGet(ctx, base+path)
	if err != nil {
		return err
	}
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
		Error  string          `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	if env.Status != "success" {
		return fmt.Errorf("%s: %s", path, env.Error)
	}
	return json.Unmarshal(env.Data, into)
}

func httpGet(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return body, nil
}

func checkJaeger(ctx context.Context, e *Env) Result {
	start := time.Now()
	var s steps
	var otlp, query string
	s.do("connect to OTLP/HTTP and the query API", func() (string, error) {
		pods, err := e.Cluster.ServicePods(ctx, "jaeger")
		if err != nil {
			return "", err
		}
		if otlp, err = e.Cluster.Forward(ctx, pods[0], 4318); err != nil {
			return "", err
		}
		query, err = e.Cluster.Forward(ctx, pods[0], 16686)
		return pods[0], err
	})
	var traceID string
	s.do("send a span over OTLP/HTTP", func() (string, error) {
		var err error
		traceID, err = SendSpan(ctx, otlp, "statex-check", "check-"+e.RunID)
		return "trace " + traceID, err
	})
	s.do("find the trace by ID through the query API", func() (string, error) {
		return FindTrace(ctx, "http://"+query, traceID, "check-"+e.RunID, 30*time.Second)
	})
	return s.result("jaeger", start)
}

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
	err := poll(ctx, timeout, 500*time.Millisecond, func() error {
		body, err := httpGet(ctx, base+"/api/traces/"+traceID)
		if err != nil {
			return err
		}
		var r struct {
			Data []struct {
				Spans []struct {
					OperationName string `json:"operationName"`
				} `json:"spans"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &r); err != nil {
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
