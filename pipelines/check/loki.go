package check

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/statex/infrastructure/pipelines/poll"
	"github.com/statex/infrastructure/pipelines/service"
	"github.com/statex/infrastructure/pipelines/verdict"
)

// Loki (upstream image): a pushed log line is found by a LogQL query.

func checkLoki(ctx context.Context, e *Env) Result {
	start := time.Now()
	var s verdict.Steps
	var base string
	s.Do("connect to the HTTP API", func() (string, error) {
		pods, err := e.Cluster.ServicePods(ctx, service.LokiService)
		if err != nil {
			return "", err
		}
		fwd, err := e.Cluster.Forward(ctx, pods[0], service.LokiPort)
		base = "http://" + fwd
		return pods[0], err
	})
	line := "statex check " + e.RunID
	s.Do("push a log line", func() (string, error) {
		ts := strconv.FormatInt(time.Now().UnixNano(), 10)
		body := `{"streams":[{"stream":{"job":"statex-check"},"values":[["` + ts + `","` + line + `"]]}]}`
		return "pushed", service.RequestJSON(ctx, http.MethodPost, base+"/loki/api/v1/push", "", "", body, nil)
	})
	s.Do("query it back", func() (string, error) {
		q := url.Values{"query": {`{job="statex-check"} |= "` + e.RunID + `"`}, "limit": {"10"},
			"start": {strconv.FormatInt(time.Now().Add(-10*time.Minute).UnixNano(), 10)}}
		var found int
		err := poll.Until(ctx, 30*time.Second, time.Second, func() error {
			var r struct {
				Data struct {
					Result []struct {
						Values [][]string `json:"values"`
					} `json:"result"`
				} `json:"data"`
			}
			if err := service.RequestJSON(ctx, http.MethodGet, base+"/loki/api/v1/query_range?"+q.Encode(), "", "", "", &r); err != nil {
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
	return finish("loki", &s, start)
}
