package check

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/statex/infrastructure/pipelines/service"
	"github.com/statex/infrastructure/pipelines/verdict"
)

// Grafana (upstream image): /api/health on every replica, then every
// provisioned datasource's own health check.

func checkGrafana(ctx context.Context, e *Env) Result {
	start := time.Now()
	var s verdict.Steps
	c := e.Cluster
	var pods []string
	var password string
	s.Do("find the replicas", func() (string, error) {
		var err error
		if password, err = c.Secret(ctx, service.GrafanaSecret, service.GrafanaPasswordKey); err != nil {
			return "", err
		}
		pods, err = c.ServicePods(ctx, service.GrafanaService)
		if err == nil && len(pods) < 2 {
			err = fmt.Errorf("%d ready Grafana pods, want 2", len(pods))
		}
		return strings.Join(pods, ", "), err
	})
	for _, pod := range pods {
		s.Test("/api/health on "+pod, func() (string, error) {
			fwd, err := c.Forward(ctx, pod, service.GrafanaPort)
			if err != nil {
				return "", err
			}
			var h struct {
				Database string `json:"database"`
				Version  string `json:"version"`
			}
			if err := service.RequestJSON(ctx, http.MethodGet, "http://"+fwd+"/api/health", "", "", "", &h); err != nil {
				return "", err
			}
			if h.Database != "ok" {
				return "", fmt.Errorf("database %q", h.Database)
			}
			return "database ok, version " + h.Version, nil
		})
	}
	s.Test("every datasource answers its health check", func() (string, error) {
		fwd, err := c.Forward(ctx, pods[0], service.GrafanaPort)
		if err != nil {
			return "", err
		}
		var ds []struct {
			UID  string `json:"uid"`
			Name string `json:"name"`
		}
		if err := service.RequestJSON(ctx, http.MethodGet, "http://"+fwd+"/api/datasources", service.GrafanaUser, password, "", &ds); err != nil {
			return "", err
		}
		var ok []string
		for _, d := range ds {
			var h struct {
				Status  string `json:"status"`
				Message string `json:"message"`
			}
			if err := service.RequestJSON(ctx, http.MethodGet, "http://"+fwd+"/api/datasources/uid/"+d.UID+"/health", service.GrafanaUser, password, "", &h); err != nil {
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
	return finish("grafana", &s, start)
}
