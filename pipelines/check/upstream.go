package check

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Elasticsearch, Grafana and Loki run upstream images that cannot be built
// offline. Their checks are real and run wherever the images can be pulled;
// on an offline cluster Run reports them SKIPPED before they start.

func checkElasticsearch(ctx context.Context, e *Env) Result {
	start := time.Now()
	var s steps
	c := e.Cluster
	var base, password string
	s.do("connect to the REST API", func() (string, error) {
		var err error
		if password, err = c.Secret(ctx, "elasticsearch-credentials", "elastic-password"); err != nil {
			return "", err
		}
		pods, err := c.ServicePods(ctx, "elasticsearch")
		if err != nil {
			return "", err
		}
		fwd, err := c.Forward(ctx, pods[0], 9200)
		base = "http://" + fwd
		return pods[0], err
	})
	es := func(method, path, body string, into any) error {
		return jsonRequest(ctx, method, base+path, "elastic", password, body, into)
	}
	s.do("cluster health green with 3 nodes", func() (string, error) {
		var h struct {
			Status string `json:"status"`
			Nodes  int    `json:"number_of_nodes"`
		}
		if err := es(http.MethodGet, "/_cluster/health?wait_for_status=green&timeout=30s", "", &h); err != nil {
			return "", err
		}
		if h.Status != "green" || h.Nodes != 3 {
			return "", fmt.Errorf("health %s with %d nodes, want green with 3", h.Status, h.Nodes)
		}
		return "green, 3 nodes", nil
	})
	index := "statex-check-" + e.RunID
	s.do("index a document and find it by search", func() (string, error) {
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
	s.always("delete the index", func() (string, error) {
		if base == "" {
			return "nothing created", nil
		}
		return "deleted " + index, es(http.MethodDelete, "/"+index, "", nil)
	})
	return s.result("elasticsearch", start)
}

func checkGrafana(ctx context.Context, e *Env) Result {
	start := time.Now()
	var s steps
	c := e.Cluster
	var pods []string
	var password string
	s.do("find the replicas", func() (string, error) {
		var err error
		if password, err = c.Secret(ctx, "grafana-credentials", "admin-password"); err != nil {
			return "", err
		}
		pods, err = c.ServicePods(ctx, "grafana")
		if err == nil && len(pods) < 2 {
			err = fmt.Errorf("%d ready Grafana pods, want 2", len(pods))
		}
		return strings.Join(pods, ", "), err
	})
	for _, pod := range pods {
		s.test("/api/health on "+pod, func() (string, error) {
			fwd, err := c.Forward(ctx, pod, 3000)
			if err != nil {
				return "", err
			}
			var h struct {
				Database string `json:"database"`
				Version  string `json:"version"`
			}
			if err := jsonRequest(ctx, http.MethodGet, "http://"+fwd+"/api/health", "", "", "", &h); err != nil {
				return "", err
			}
			if h.Database != "ok" {
				return "", fmt.Errorf("database %q", h.Database)
			}
			return "database ok, version " + h.Version, nil
		})
	}
	s.test("every datasource answers its health check", func() (string, error) {
		fwd, err := c.Forward(ctx, pods[0], 3000)
		if err != nil {
			return "", err
		}
		var ds []struct {
			UID  string `json:"uid"`
			Name string `json:"name"`
		}
		if err := jsonRequest(ctx, http.MethodGet, "http://"+fwd+"/api/datasources", "admin", password, "", &ds); err != nil {
			return "", err
		}
		var ok []string
		for _, d := range ds {
			var h struct {
				Status  string `json:"status"`
				Message string `json:"message"`
			}
			if err := jsonRequest(ctx, http.MethodGet, "http://"+fwd+"/api/datasources/uid/"+d.UID+"/health", "admin", password, "", &h); err != nil {
				return "", fmt.Errorf("datasource %s: %w", d.Name, err)
			}
			if h.Status != "OK" {
				return "", fmt.Errorf("datasource %s: %s %s", d.Name, h.Status, h.Message)
			}
			ok = append(ok, d.Name)
		}
		if len(ok) == 0 {
			return "", fmt.Errorf("no datasources provisioned")
		}
		return strings.Join(ok, ", ") + " OK", nil
	})
	return s.result("grafana", start)
}

func checkLoki(ctx context.Context, e *Env) Result {
	start := time.Now()
	var s steps
	var base string
	s.do("connect to the HTTP API", func() (string, error) {
		pods, err := e.Cluster.ServicePods(ctx, "loki")
		if err != nil {
			return "", err
		}
		fwd, err := e.Cluster.Forward(ctx, pods[0], 3100)
		base = "http://" + fwd
		return pods[0], err
	})
	line := "statex check " + e.RunID
	s.do("push a log line", func() (string, error) {
		ts := strconv.FormatInt(time.Now().UnixNano(), 10)
		body := `{"streams":[{"stream":{"job":"statex-check"},"values":[["` + ts + `","` + line + `"]]}]}`
		return "pushed", jsonRequest(ctx, http.MethodPost, base+"/loki/api/v1/push", "", "", body, nil)
	})
	s.do("query it back", func() (string, error) {
		q := url.Values{"query": {`{job="statex-check"} |= "` + e.RunID + `"`}, "limit": {"10"},
			"start": {strconv.FormatInt(time.Now().Add(-10*time.Minute).UnixNano(), 10)}}
		var found int
		err := poll(ctx, 30*time.Second, time.Second, func() error {
			var r struct {
				Data struct {
					Result []struct {
						Values [][]string `json:"values"`
					} `json:"result"`
				} `json:"data"`
			}
			if err := jsonRequest(ctx, http.MethodGet, base+"/loki/api/v1/query_range?"+q.Encode(), "", "", "", &r); err != nil {
				return err
			}
			found = 0
			for _, st := range r.Data.Result {
				found += len(st.Values)
			}
			if found == 0 {
				return fmt.Errorf("line not found yet")
			}
			return nil
		})
		return fmt.Sprintf("%d line found", found), err
	})
	return s.result("loki", start)
}

// jsonRequest sends an optional JSON body (basic auth when user is set) and
// decodes a JSON answer into into (when not nil).
func jsonRequest(ctx context.Context, method, u, user, password, body string, into any) error {
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
	return json.NewDecoder(resp.Body).Decode(into)
}
