package check

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/statex/infrastructure/pipelines/service"
	"github.com/statex/infrastructure/pipelines/verdict"
)

// Prometheus: every scrape target the rendered manifests make it look for
// is there and up, no target down (targets of services whose image the
// environment may run without are excused, by name), every rule group
// loaded with no failing rule, and an instant query answering.

func checkPrometheus(ctx context.Context, e *Env) Result {
	start := time.Now()
	var s verdict.Steps
	var base string
	s.Do("connect to the HTTP API", func() (string, error) {
		pods, err := e.Cluster.ServicePods(ctx, service.PrometheusService)
		if err != nil {
			return "", err
		}
		addr, err := e.Cluster.Forward(ctx, pods[0], service.PrometheusPort)
		base = "http://" + addr
		return pods[0], err
	})
	var expected []service.ExpectedTarget
	s.Do("derive the expected scrape targets from the rendered manifests", func() (string, error) {
		if len(e.Manifests) == 0 {
			return "", fmt.Errorf("no rendered manifest set given: nothing to expect")
		}
		var err error
		if expected, err = service.ExpectedTargets(e.Manifests); err != nil {
			return "", err
		}
		var desc []string
		for _, t := range expected {
			desc = append(desc, t.String())
		}
		return strings.Join(desc, ", "), nil
	})
	s.Test("every expected scrape target is up", func() (string, error) {
		targets, err := service.SettledTargets(ctx, base)
		if err != nil {
			return "", err
		}
		return service.JudgeExpectedTargets(expected, targets, e.Unavailable)
	})
	s.Test("every rule group loaded, no rule failing", func() (string, error) {
		return service.PromRules(ctx, base)
	})
	s.Test("instant query `up` answers", func() (string, error) {
		return service.PromQueryUp(ctx, base)
	})
	return finish("prometheus", &s, start)
}
