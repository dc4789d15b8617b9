package deploy

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/statex/infrastructure/pipelines/kube"
	"github.com/statex/infrastructure/pipelines/manifest"
)

// A failure report carries what the cluster said (events, the last log
// lines of failing pods) and is printed, uploaded as a CI artifact and
// stored in the release record. Containers do log their own configuration,
// so every value the namespace's Secrets hold is scrubbed from it first.

// logsWithheld replaces a log tail that could not be scrubbed: without the
// namespace's Secret values nothing says the tail is clean.
const logsWithheld = "log withheld: the namespace's Secrets could not be read to scrub it"

// failureScrubber knows the values of the namespace's Secrets (generated
// ones included) and of any Secret in the rendered set. ok is false when
// the namespace's Secrets could not be read.
func (e *engine) failureScrubber(ctx context.Context) (s kube.Scrubber, ok bool) {
	values := renderedSecretValues(e.opts.Rendered.Objects)
	live, err := kube.SecretValues(ctx, e.cs, e.ns)
	values = append(values, live...)
	return kube.NewScrubber(values...), err == nil
}

// scrubFailure removes secret values from every text of f, in place.
func scrubFailure(f *Failure, s kube.Scrubber, logsOK bool) *Failure {
	if f == nil {
		return nil
	}
	f.Reason = s.String(f.Reason)
	for i, ev := range f.Events {
		f.Events[i] = s.String(ev)
	}
	for k := range f.Logs {
		if logsOK {
			f.Logs[k] = s.String(f.Logs[k])
		} else {
			f.Logs[k] = logsWithheld
		}
	}
	return f
}

// renderedSecretValues are the data and stringData values of the Secrets
// in the set (validation keeps credentials out of it, but a value that got
// in must not come back out through a log).
func renderedSecretValues(objs []*manifest.Object) []string {
	var out []string
	for _, o := range objs {
		if o.Kind != "Secret" {
			continue
		}
		var sec struct {
			Data       map[string]string `json:"data"`
			StringData map[string]string `json:"stringData"`
		}
		if json.Unmarshal(o.JSON, &sec) != nil {
			continue
		}
		for _, v := range sec.Data {
			if raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v)); err == nil {
				out = append(out, string(raw))
			}
		}
		for _, v := range sec.StringData {
			out = append(out, v)
		}
	}
	return out
}
