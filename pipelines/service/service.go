// Package service is what the pipeline knows about each service of the
// platform, one file per service: how to reach it (Service and Secret
// names, ports, the pods to ask), its protocol clients (pgx, go-redis,
// amqp091, minio-go, SMTP/IMAP, OTLP, HTTP APIs) and its judgements (a
// Patroni cluster with a leader and a synchronous standby, Sentinels that
// agree, a RabbitMQ cluster and its quorum queues, MinIO's write quorum,
// the scrape targets Prometheus must have).
//
// check (does it work?), drill (does it survive?) and the deploy engine's
// readiness signals (is it whole?) hold their services to the same
// judgements by calling these; backup and restore reach the services the
// same way. It imports no verb: verbs import it.
package service

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// RequestJSON sends an optional JSON body (basic auth when user is set) to
// an HTTP API and decodes a JSON answer into into (when not nil). A status
// of 300 or more is an error naming the path.
func RequestJSON(ctx context.Context, method, u, user, password, body string, into any) error {
	req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
	if err != nil {
		return err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := (&http.Client{Timeout: 40 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s", method, req.URL.Path, resp.Status)
	}
	if into == nil {
		return nil
	}
	// Bounded: the services' APIs answer small JSON documents, never a
	// stream.
	return json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(into)
}
