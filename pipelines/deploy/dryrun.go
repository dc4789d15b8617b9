package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/fluxcd/pkg/ssa"
	"github.com/wI2L/jsondiff"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// plan is the dry run: every object is server-side applied with dryRun=All
// (the API server validates and defaults it, admission included) and
// compared with the live object. Nothing is written.
func (e *engine) plan(ctx context.Context, res *Result, staged []stagedObjects, hist *History) error {
	nsExists, err := e.namespaceExists(ctx)
	if err != nil {
		res.Status = ReleaseFailed
		return err
	}
	res.Status = "planned"
	res.Secrets, err = PlanSecrets(ctx, e.cs, e.ns, e.opts.Target.Secrets.Generated, e.opts.Target.Secrets.External, nsExists)
	if err != nil {
		res.Status = ReleaseFailed
		return err
	}
	prev := hist.LastSucceeded()
	set := map[string]bool{}
	for _, s := range staged {
		sr := StageResult{Name: s.stage.Name, Status: "planned"}
		for _, u := range s.objects {
			ref := refOf(u)
			set[ref] = true
			ch := Change{Object: ref}
			if !nsExists && u.GetNamespace() != "" {
				// Without the namespace the API server cannot dry-run
				// namespaced objects; they are all new.
				ch.Action = string(ssa.CreatedAction)
				sr.Changes = append(sr.Changes, ch)
				continue
			}
			entry, live, merged, err := e.rm.Diff(ctx, u, ssa.DiffOptions{Force: e.opts.Force})
			if err != nil {
				res.Status = ReleaseFailed
				return fmt.Errorf("dry-run %s: %w", ref, err)
			}
			ch.Action = string(entry.Action)
			if entry.Action == ssa.ConfiguredAction && live != nil && merged != nil {
				ch.Diff = diffText(live, merged)
				if old, ok := prev.Find(ref); ok && desiredEqual(old, u) {
					res.Drift = append(res.Drift, ref)
				}
			}
			sr.Changes = append(sr.Changes, ch)
		}
		res.Stages = append(res.Stages, sr)
	}
	for _, old := range hist.Inventory() {
		if set[old.Ref] {
			continue
		}
		kind, _, _ := strings.Cut(old.Ref, "/")
		if slices.Contains(keepKinds, kind) {
			res.Kept = append(res.Kept, Change{Object: old.Ref, Action: "kept"})
		} else {
			res.Pruned = append(res.Pruned, Change{Object: old.Ref, Action: "prune"})
		}
	}
	return nil
}

// namespaceExists says whether the namespace is there; an error that is not
// "not found" is returned, never taken for "absent" (a dry run would then
// plan every object as new).
func (e *engine) namespaceExists(ctx context.Context) (bool, error) {
	ns := &corev1.Namespace{}
	err := e.c.Get(ctx, client.ObjectKey{Name: e.ns}, ns)
	switch {
	case err == nil:
		return true, nil
	case isNotFound(err):
		return false, nil
	}
	return false, fmt.Errorf("read namespace %s: %w", e.ns, err)
}

// desiredEqual says whether a stored object equals the one about to be
// applied.
func desiredEqual(old json.RawMessage, u *unstructured.Unstructured) bool {
	cur, err := u.MarshalJSON()
	if err != nil {
		return false
	}
	return jsonEqual(old, cur)
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	p, err := jsondiff.Compare(x, y)
	return err == nil && len(p) == 0
}

// Fields the API server owns: never part of a diff users read.
var serverFields = [][]string{
	{"metadata", "managedFields"}, {"metadata", "resourceVersion"}, {"metadata", "uid"},
	{"metadata", "generation"}, {"metadata", "creationTimestamp"}, {"status"},
}

// diffText renders the live → desired change as one line per JSON patch
// operation: short, stable, and readable in a PR summary.
// A Secret's values are masked (*** where equal, *** (before) and
// *** (after) where changed): the diff is printed and uploaded.
func diffText(live, merged *unstructured.Unstructured) string {
	a, b := live.DeepCopy(), merged.DeepCopy()
	for _, f := range serverFields {
		unstructured.RemoveNestedField(a.Object, f...)
		unstructured.RemoveNestedField(b.Object, f...)
	}
	if a.GetKind() == "Secret" || b.GetKind() == "Secret" {
		if err := maskSecret(a, b); err != nil {
			return "diff unavailable: " + err.Error()
		}
	}
	patch, err := jsondiff.Compare(a.Object, b.Object, jsondiff.Invertible())
	if err != nil {
		return "diff unavailable: " + err.Error()
	}
	var lines []string
	for _, op := range patch {
		switch op.Type {
		case jsondiff.OperationAdd:
			lines = append(lines, fmt.Sprintf("+ %s: %s", op.Path, short(op.Value)))
		case jsondiff.OperationRemove:
			lines = append(lines, fmt.Sprintf("- %s", op.Path))
		case jsondiff.OperationReplace:
			lines = append(lines, fmt.Sprintf("~ %s: %s", op.Path, short(op.Value)))
		case jsondiff.OperationTest:
			// Invertible patches carry the old value as a test op.
			lines = append(lines, fmt.Sprintf("  %s was %s", op.Path, short(op.Value)))
		default:
			lines = append(lines, fmt.Sprintf("%s %s %s", op.Type, op.From, op.Path))
		}
	}
	return strings.Join(lines, "\n")
}

func short(v any) string {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	s := string(raw)
	if len(s) > 200 {
		s = s[:197] + "..."
	}
	return s
}

// maskSecret masks a Secret's data with ssa's sanitizer, and what the
// sanitizer does not cover: stringData (write-only, but a merged object may
// carry it) and kubectl's last-applied annotation, which holds the data of
// a Secret once applied with kubectl apply.
func maskSecret(live, merged *unstructured.Unstructured) error {
	if err := ssa.SanitizeUnstructuredData(live, merged); err != nil {
		return fmt.Errorf("mask secret: %w", err)
	}
	for _, u := range []*unstructured.Unstructured{live, merged} {
		if sd, ok, _ := unstructured.NestedMap(u.Object, "stringData"); ok {
			for k := range sd {
				sd[k] = maskValue
			}
			_ = unstructured.SetNestedMap(u.Object, sd, "stringData")
		}
		if ann := u.GetAnnotations(); ann[lastApplied] != "" {
			ann[lastApplied] = maskValue
			u.SetAnnotations(ann)
		}
	}
	return nil
}

const (
	maskValue   = "***"
	lastApplied = "kubectl.kubernetes.io/last-applied-configuration"
)
