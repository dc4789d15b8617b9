package validate

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"
)

// API lifecycles come from k8s.io/api itself: prerelease-lifecycle-gen
// writes, for every beta and alpha type (and for stable types added
// recently), the release that introduced, deprecated and removed it and
// what replaces it. Judging apiVersions from those methods keeps the rule
// in step with the library the schema comes from, with no table to
// maintain by hand.

type (
	introducedIn interface{ APILifecycleIntroduced() (major, minor int) }
	deprecatedIn interface{ APILifecycleDeprecated() (major, minor int) }
	removedIn    interface{ APILifecycleRemoved() (major, minor int) }
	replacedBy   interface {
		APILifecycleReplacement() schema.GroupVersionKind
	}
)

// lifecycle holds the minor versions of Kubernetes 1.x in which a type
// was introduced, deprecated and removed (0: the type does not say).
type lifecycle struct {
	introduced, deprecated, removed int
	replacement                     schema.GroupVersionKind
}

func minorOf(major, minor int) int {
	if major != 1 {
		return 0
	}
	return minor
}

func lifecycleOf(obj any) lifecycle {
	var l lifecycle
	if t, ok := obj.(introducedIn); ok {
		l.introduced = minorOf(t.APILifecycleIntroduced())
	}
	if t, ok := obj.(deprecatedIn); ok {
		l.deprecated = minorOf(t.APILifecycleDeprecated())
	}
	if t, ok := obj.(removedIn); ok {
		l.removed = minorOf(t.APILifecycleRemoved())
	}
	if t, ok := obj.(replacedBy); ok {
		l.replacement = t.APILifecycleReplacement()
	}
	return l
}

// servedAt reports whether a type with lifecycle l is served by default by
// Kubernetes 1.minor: introduced by then, not removed, and not alpha
// (alpha APIs need a feature gate and a runtime-config flag).
func (l lifecycle) servedAt(minor int, version string) bool {
	return l.introduced <= minor && (l.removed == 0 || l.removed > minor) && !strings.Contains(version, "alpha")
}

// groupsOutsideAPI are built-in API groups whose types live in other
// modules (apiextensions-apiserver, kube-aggregator), so k8s.io/api has no
// lifecycle for them: since 1.22 both serve only v1.
var groupsOutsideAPI = map[string]string{
	"apiextensions.k8s.io":   "v1",
	"apiregistration.k8s.io": "v1",
}

func gvkString(gvk schema.GroupVersionKind) string {
	return gvk.GroupVersion().String() + " " + gvk.Kind
}

// versionsOf are the versions of group the scheme knows, most preferred
// first (GA before beta before alpha, newer before older): client-go's
// scheme records no priorities of its own.
func versionsOf(scheme *runtime.Scheme, group string) []schema.GroupVersion {
	gvs := scheme.PrioritizedVersionsForGroup(group)
	slices.SortStableFunc(gvs, func(a, b schema.GroupVersion) int {
		return version.CompareKubeAwareVersionStrings(b.Version, a.Version)
	})
	return gvs
}

// servedAlternative is the version of group that serves kind at
// Kubernetes 1.minor, the most preferred first ("" when none).
func servedAlternative(scheme *runtime.Scheme, group, kind string, minor int) string {
	for _, gv := range versionsOf(scheme, group) {
		gvk := gv.WithKind(kind)
		obj, err := scheme.New(gvk)
		if err == nil && lifecycleOf(obj).servedAt(minor, gv.Version) {
			return gvkString(gvk)
		}
	}
	return ""
}

// judgeUnknownVersion handles an apiVersion/kind the scheme cannot create.
// It returns true when it added a finding: a built-in group whose version
// or kind k8s.io/api no longer (or never) had is not served.
func (v *run) judgeUnknownVersion(it *item, scheme *runtime.Scheme, gv schema.GroupVersion) bool {
	o := it.obj
	if served, ok := groupsOutsideAPI[gv.Group]; ok {
		if gv.Version == served {
			return false
		}
		it.add(RuleAPIVersionRemoved, "apiVersion", "%s %s is not served by Kubernetes 1.%d; use %s/%s",
			o.APIVersion, o.Kind, v.minor, gv.Group, served)
		return true
	}
	if gv.Group == "" || !scheme.IsGroupRegistered(gv.Group) {
		return false // not a built-in group: a custom resource
	}
	if alt := servedAlternative(scheme, gv.Group, o.Kind, v.minor); alt != "" {
		it.add(RuleAPIVersionRemoved, "apiVersion", "%s %s is not served by Kubernetes 1.%d (k8s.io/api has no such version any more); use %s",
			o.APIVersion, o.Kind, v.minor, alt)
		return true
	}
	var versions []string
	for _, g := range versionsOf(scheme, gv.Group) {
		versions = append(versions, g.String())
	}
	it.add(RuleAPIVersionRemoved, "kind", "%s %s is not served by Kubernetes 1.%d: no version of %s (%s) has kind %s; remove the object or use what replaced it",
		o.APIVersion, o.Kind, v.minor, gv.Group, strings.Join(versions, ", "), o.Kind)
	return true
}

// judgeLifecycle applies typed's lifecycle to the target version: not yet
// introduced, removed or alpha is an error (the apply fails), deprecated is
// a warning naming the replacement. It returns false when the object must
// not be decoded further (the API server would not take it).
func (v *run) judgeLifecycle(it *item, scheme *runtime.Scheme, gvk schema.GroupVersionKind, typed runtime.Object) bool {
	o := it.obj
	l := lifecycleOf(typed)
	replacement := func() string {
		if r := l.replacement; r.Kind != "" {
			return gvkString(r)
		}
		if alt := servedAlternative(scheme, gvk.Group, gvk.Kind, v.minor); alt != "" && alt != gvkString(gvk) {
			return alt
		}
		return "no replacement is named by k8s.io/api: remove the object"
	}
	switch {
	case l.introduced > v.minor:
		alt := servedAlternative(scheme, gvk.Group, gvk.Kind, v.minor)
		if alt == "" {
			alt = fmt.Sprintf("nothing older serves it: raise kubernetesVersion to 1.%d or remove the object", l.introduced)
		}
		it.add(RuleAPIVersionRemoved, "apiVersion", "%s %s is not served by Kubernetes 1.%d (introduced in 1.%d); use %s",
			o.APIVersion, o.Kind, v.minor, l.introduced, alt)
		return false
	case l.removed > 0 && l.removed <= v.minor:
		it.add(RuleAPIVersionRemoved, "apiVersion", "%s %s is not served by Kubernetes 1.%d (removed in 1.%d); use %s",
			o.APIVersion, o.Kind, v.minor, l.removed, replacement())
		return false
	case strings.Contains(gvk.Version, "alpha"):
		it.add(RuleAPIVersionRemoved, "apiVersion", "%s is an alpha API, not served by default in Kubernetes 1.%d", o.APIVersion, v.minor)
		return false
	case l.deprecated > 0 && l.deprecated <= v.minor:
		removal := "a later release"
		if l.removed > 0 {
			removal = fmt.Sprintf("1.%d", l.removed)
		}
		it.add(RuleAPIVersionDeprecated, "apiVersion", "%s %s is deprecated since Kubernetes 1.%d and goes away in %s; use %s",
			o.APIVersion, o.Kind, l.deprecated, removal, replacement())
	}
	return true
}
