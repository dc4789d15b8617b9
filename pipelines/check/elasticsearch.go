package check

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/statex/infrastructure/pipelines/service"
	"github.com/statex/infrastructure/pipelines/verdict"
)

// Elasticsearch runs an upstream image that cannot be built offline. The
// check is real and runs wherever the image can be pulled; on an offline
// cluster Run reports it SKIPPED before it starts (as for Grafana and Loki).

func checkElasticsearch(ctx context.Context, e *Env) Result {
	start := time.Now()
	var s verdict.Steps
	c := e.Cluster
	var base, password string
	s.Do("connect to the REST API", func() (string, error) {
		var err error
		if password, err = c.Secret(ctx, service.ElasticsearchSecret, service.ElasticsearchPasswordKey); err != nil {
			return "", err
		}
		pods, err := c.ServicePods(ctx, service.ElasticsearchService)
		if err != nil {
			return "", err
		}
		fwd, err := c.Forward(ctx, pods[0], service.ElasticsearchPort)
		base = "http://" + fwd
		return pods[0], err
	})
	es := func(method, path, body string, into any) error {
		return service.RequestJSON(ctx, method, base+path, service.ElasticsearchUser, password, body, into)
	}
	s.Do("cluster health green with 3 nodes", func() (string, error) {
		var h struct {
			Status string `json:"status"`
			Nodes  int    `json:"number_of_nodes"`
		}
		if err := es(http.MethodGet, "/_cluster/health?wait_for_status=green&timeout=30s", "", &h); err != nil {
			return "", err
		}
		if h.Status != "green" || h.Nodes != service.ElasticsearchNodes {
			return "", fmt.Errorf("health %s with %d nodes, want green with %d", h.Status, h.Nodes, service.ElasticsearchNodes)
		}
		return fmt.Sprintf("green, %d nodes", h.Nodes), nil
	})
	index := "statex-check-" + e.RunID
	s.Do("index a document and find it by search", func() (string, error) {
		if err := es(http.MethodPut, "/"+index+"/_doc/1?refresh=wait_for", `{"marker":"`+e.RunID+`"}`, nil); err != nil {
			return "", err
		}
		var r struct {
			Hits struct {
				Total struct {
					Value int `json:"value"`
				} `json:"total"`
			} `json:"hits"`
		}
		if err := es(http.MethodPost, "/"+index+"/_search", `{"query":{"match":{"marker":"`+e.RunID+`"}}}`, &r); err != nil {
			return "", err
		}
		if r.Hits.Total.Value != 1 {
			return "", fmt.Errorf("search found %d documents, want 1", r.Hits.Total.Value)
		}
		return "1 hit", nil
	})
	s.Always("delete the index", func() (string, error) {
		if base == "" {
			return "nothing created", nil
		}
		return "deleted " + index, es(http.MethodDelete, "/"+index, "", nil)
	})
	return finish("elasticsearch", &s, start)
}
