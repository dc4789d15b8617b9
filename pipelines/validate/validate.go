// Package validate checks a manifest set in one offline pass over three
// layers: schema (what the API server of the target version would reject),
// policy (the platform's hardening and availability standards) and
// cross-references between objects. It returns findings as values; printing
// is the caller's job (see package report).
package validate

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/pod-security-admission/policy"

	"github.com/statex/infrastructure/pipelines/manifest"
)

// ObjectRef identifies the object a finding is about.
type ObjectRef struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name,omitempty"`
}

func (r ObjectRef) String() string {
	switch {
	case r.Kind == "":
		return ""
	case r.Namespace == "":
		return r.Kind + "/" + r.Name
	}
	return r.Kind + "/" + r.Namespace + "/" + r.Name
}

// Finding is one problem, located at a file and line.
type Finding struct {
	Rule     string    `json:"rule"`
	Severity Severity  `json:"severity"`
	Layer    Layer     `json:"layer"`
	Message  string    `json:"message"`
	Hint     string    `json:"hint,omitempty"`
	Object   ObjectRef `json:"object"`
	File     string    `json:"file"`
	Line     int       `json:"line,omitempty"`
	// Path is the field path inside the object, when there is one.
	Path string `json:"path,omitempty"`
}

// Suppressed is a finding silenced by an annotation, kept for the record.
type Suppressed struct {
	Finding
	Reason string `json:"reason"`
}

// Report is the result of a validation run.
type Report struct {
	// Target is the environment name, or the paths that were validated.
	Target            string       `json:"target"`
	KubernetesVersion string       `json:"kubernetesVersion"`
	Objects           int          `json:"objects"`
	Errors            int          `json:"errors"`
	Warnings          int          `json:"warnings"`
	Findings          []Finding    `json:"findings"`
	Suppressed        []Suppressed `json:"suppressed,omitempty"`
	// ExcludedRules were not checked (RuleSelection); ExcludedPaths were
	// not read (PATH mode's exclusions). Both are kept so a report never
	// passes for what it did not look at without saying so.
	ExcludedRules []string `json:"excludedRules,omitempty"`
	ExcludedPaths []string `json:"excludedPaths,omitempty"`
	// Kustomizations are the directories PATH mode rendered.
	Kustomizations []string `json:"kustomizations,omitempty"`
	ElapsedMS      float64  `json:"elapsedMs"`
}

// Failed reports whether any error-severity finding remains.
func (r *Report) Failed() bool { return r.Errors > 0 }

// Options tune a run.
type Options struct {
	// Target names what is validated in the report (env name or paths).
	Target string
	// KubernetesVersion is "major.minor" of the target cluster (default 1.34).
	KubernetesVersion string
	// DefaultNamespace is assumed for namespaced objects without one.
	DefaultNamespace string
	// GeneratedSecrets exist at deploy time; references to them are valid.
	GeneratedSecrets []manifest.GeneratedSecret
	// Backup is the environment's backup target as environments.yaml
	// declares it: the set's ConfigMap backup-target must say the same
	// (nil: not checked).
	Backup *BackupTarget
	// Workers bounds parallelism of the per-object pass (default GOMAXPROCS).
	Workers int
}

// BackupTarget is what the backup jobs must be told: where the site is
// and which bucket is theirs.
type BackupTarget struct{ Endpoint, Region, Bucket string }

// BackupTargetOf is env's backup target, nil when it declares none.
func BackupTargetOf(env *manifest.Environment) *BackupTarget {
	b := env.Backup
	if b == nil {
		return nil
	}
	return &BackupTarget{Endpoint: b.EndpointFor(env), Region: b.RegionOf(), Bucket: b.Bucket}
}

// DefaultKubernetesVersion is the version validated against when none is given.
const DefaultKubernetesVersion = "1.34"

// Validate runs all three layers over the set. It never fails: problems
// with the input are findings. ctx cancels a long run between objects.
func Validate(ctx context.Context, set *manifest.Set, opts Options) (*Report, error) {
	start := time.Now()
	if opts.KubernetesVersion == "" {
		opts.KubernetesVersion = DefaultKubernetesVersion
	}
	target, err := parseMinor(opts.KubernetesVersion)
	if err != nil {
		return nil, err
	}
	if opts.DefaultNamespace == "" {
		opts.DefaultNamespace = "default"
	}
	v := &run{opts: opts, minor: target}
	v.items = make([]*item, len(set.Objects))
	for i, o := range set.Objects {
		v.items[i] = &item{obj: o}
	}
	v.crds = v.crdKinds()
	if v.psa, err = newPodSecurityEvaluator(target); err != nil {
		return nil, err
	}
	v.podSecurity = v.podSecurityNamespaces()

	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(v.items); i += workers {
				if i%256 == 0 && ctx.Err() != nil {
					return
				}
				v.checkObject(v.items[i])
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	v.crossReference()

	rep := &Report{Target: opts.Target, KubernetesVersion: opts.KubernetesVersion, Objects: len(set.Objects)}
	for _, e := range set.Errors {
		hint := e.Hint
		if hint == "" {
			hint = RuleByID(RuleYAMLSyntax).Hint
		}
		rep.Findings = append(rep.Findings, Finding{
			Rule: RuleYAMLSyntax, Severity: SeverityError, Layer: LayerSchema,
			Message: e.Msg, Hint: hint, File: e.File, Line: e.Line,
		})
	}
	for _, it := range v.items {
		v.applySuppressions(it, rep)
	}
	sortFindings(rep.Findings)
	rep.count()
	rep.ElapsedMS = float64(time.Since(start).Microseconds()) / 1000
	return rep, nil
}

// count sets Errors and Warnings from Findings.
func (r *Report) count() {
	r.Errors, r.Warnings = 0, 0
	for _, f := range r.Findings {
		switch f.Severity {
		case SeverityError:
			r.Errors++
		case SeverityWarning:
			r.Warnings++
		}
	}
}

func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Object.String() != b.Object.String() {
			return a.Object.String() < b.Object.String()
		}
		return a.Rule < b.Rule
	})
}

// run is the state of one validation.
type run struct {
	opts  Options
	minor int
	items []*item
	crds  map[string]bool // group/kind defined by CRDs in the set
	// psa judges pods at the Pod Security levels in podSecurity, which
	// holds the set's Namespaces by name. Both are read-only in the
	// parallel pass.
	psa         policy.Evaluator
	podSecurity map[string]*podSecurity
}

// item is one object and what the passes learned about it.
type item struct {
	obj      *manifest.Object
	ns       string // effective namespace ("" when cluster-scoped)
	typed    any    // decoded Kubernetes type, nil when it did not decode
	pod      *podTemplate
	refs     []reference
	findings []Finding
}

func (it *item) add(rule, path, format string, args ...any) {
	r := RuleByID(rule)
	if r == nil {
		panic("validate: unknown rule " + rule) // programming error, caught by tests
	}
	it.findings = append(it.findings, Finding{
		Rule:     rule,
		Severity: r.Severity,
		Layer:    r.Layer,
		Message:  fmt.Sprintf(format, args...),
		Hint:     r.Hint,
		Object: ObjectRef{
			APIVersion: it.obj.APIVersion, Kind: it.obj.Kind, Namespace: it.ns, Name: it.obj.Name,
		},
		File: it.obj.File,
		Line: it.obj.LineOf(path),
		Path: path,
	})
}

// applySuppressions moves findings silenced by a valid annotation to the
// report's suppressed list; malformed suppressions are findings themselves.
func (v *run) applySuppressions(it *item, rep *Report) {
	reasons := map[string]string{}
	for k, reason := range it.obj.Annotations {
		id, ok := strings.CutPrefix(k, SuppressionPrefix)
		if !ok {
			continue
		}
		path := fieldPath("metadata.annotations", k)
		switch {
		case RuleByID(id) == nil:
			it.add(RuleSuppressionInvalid, path, "annotation %s names no rule (known: statex validate --list-rules)", k)
		case strings.TrimSpace(reason) == "":
			it.add(RuleSuppressionInvalid, path, "annotation %s has no reason; say why this object is an exception", k)
		case id == RuleYAMLSyntax || id == RuleSuppressionInvalid:
			it.add(RuleSuppressionInvalid, path, "rule %s cannot be suppressed", id)
		default:
			reasons[id] = reason
		}
	}
	for _, f := range it.findings {
		if reason, ok := reasons[f.Rule]; ok {
			rep.Suppressed = append(rep.Suppressed, Suppressed{Finding: f, Reason: reason})
			continue
		}
		rep.Findings = append(rep.Findings, f)
	}
}

// fieldPath appends a map key that may contain dots (annotation keys, file
// names) in the bracket form LineOf understands.
func fieldPath(parent, key string) string {
	if strings.ContainsAny(key, "./[]") {
		return parent + `["` + key + `"]`
	}
	return parent + "." + key
}

func parseMinor(v string) (int, error) {
	var major, minor int
	if _, err := fmt.Sscanf(strings.TrimPrefix(v, "v"), "%d.%d", &major, &minor); err != nil || major != 1 {
		return 0, fmt.Errorf("kubernetes version %q: want 1.<minor>, e.g. 1.34", v)
	}
	return minor, nil
}
