package service

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/statex/infrastructure/pipelines/poll"
)

// Prometheus: one server with Kubernetes service discovery and the alert
// rules (manifests/base/prometheus).
const (
	PrometheusService = "prometheus"
	PrometheusPort    = 9090
)

// SettledTargets lists the active targets once none is waiting for its
// first scrape (right after a pod started its target is "unknown" for up
// to one interval), or after a bound; what is seen then is judged, an
// unscraped target counting as not up.
func SettledTargets(ctx context.Context, base string) ([]PromTarget, error) {
	var targets []PromTarget
	err := poll.Until(ctx, 45*time.Second, 2*time.Second, func() error {
		var err error
		if targets, err = PromTargets(ctx, base); err != nil {
			return err
		}
		for _, t := range targets {
			if t.Health == "unknown" {
				return fmt.Errorf("target %s not scraped yet", t.ScrapeURL)
			}
		}
		return nil
	})
	if targets == nil && err != nil {
		return nil, err
	}
	return targets, nil
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
	// DiscoveredLabels are the labels before relabelling (the pod role's
	// __meta_kubernetes_* among them).
	DiscoveredLabels map[string]string `json:"discoveredLabels"`
	Labels           map[string]string `json:"labels"`
	ScrapePool       string            `json:"scrapePool"`
	Health           string            `json:"health"`
	LastError        string            `json:"lastError"`
	ScrapeURL        string            `json:"scrapeUrl"`
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
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
		Error  string          `json:"error"`
	}
	if err := RequestJSON(ctx, http.MethodGet, base+path, "", "", "", &env); err != nil {
		return err
	}
	if env.Status != "success" {
		return fmt.Errorf("%s: %s", path, env.Error)
	}
	return json.Unmarshal(env.Data, into)
}
