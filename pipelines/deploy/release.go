package deploy

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// The release history lives in the environment's namespace as one Secret per
// revision (like Helm's release storage): it survives the pipeline's host,
// needs no extra store, and is what rollback re-applies and prune diffs
// against. A Secret, not a ConfigMap, because rendered objects may one day
// carry sensitive config and Secrets get tighter RBAC.
const (
	releaseLabel   = "statex.io/release"
	revisionLabel  = "statex.io/revision"
	statusLabel    = "statex.io/status"
	releaseType    = "statex.io/release.v1"
	releaseDataKey = "release.json.gz"
)

// Release statuses. Pending is written before anything but the foundation is
// applied, so objects of an interrupted deploy are still in the inventory the
// next deploy prunes from.
const (
	ReleasePending   = "pending"
	ReleaseSucceeded = "succeeded"
	ReleaseFailed    = "failed"
)

// Release is one recorded deploy: the exact objects applied, in order.
type Release struct {
	Env      string         `json:"env"`
	Revision int            `json:"revision"`
	Hash     string         `json:"hash"`
	Status   string         `json:"status"`
	Created  time.Time      `json:"created"`
	Objects  []StoredObject `json:"objects"`
	Failure  *Failure       `json:"failure,omitempty"`

	secret *corev1.Secret
	byRef  map[string]int
}

// StoredObject is one applied object.
type StoredObject struct {
	Ref    string          `json:"ref"`
	Object json.RawMessage `json:"object"`
}

// Find returns the stored object with the given ref.
func (r *Release) Find(ref string) (json.RawMessage, bool) {
	if r == nil {
		return nil, false
	}
	if r.byRef == nil {
		r.byRef = make(map[string]int, len(r.Objects))
		for i, o := range r.Objects {
			r.byRef[o.Ref] = i
		}
	}
	i, ok := r.byRef[ref]
	if !ok {
		return nil, false
	}
	return r.Objects[i].Object, true
}

func releaseName(env string, revision int) string {
	return fmt.Sprintf("statex-release.%s.v%d", env, revision)
}

// History is an environment's releases, oldest first.
type History struct {
	Releases []*Release
}

// LastSucceeded is the release rollback returns to, or nil.
func (h *History) LastSucceeded() *Release {
	for i := len(h.Releases) - 1; i >= 0; i-- {
		if h.Releases[i].Status == ReleaseSucceeded {
			return h.Releases[i]
		}
	}
	return nil
}

// NextRevision is one past the highest recorded revision.
func (h *History) NextRevision() int {
	if len(h.Releases) == 0 {
		return 1
	}
	return h.Releases[len(h.Releases)-1].Revision + 1
}

// Inventory is every object the pipeline may have created and not yet
// removed: the last successful release plus any later failed or interrupted
// ones (their new objects may still exist).
func (h *History) Inventory() []StoredObject {
	last := h.LastSucceeded()
	seen := map[string]bool{}
	var out []StoredObject
	for _, r := range h.Releases {
		if last != nil && r.Revision < last.Revision {
			continue
		}
		for _, o := range r.Objects {
			if !seen[o.Ref] {
				seen[o.Ref] = true
				out = append(out, o)
			}
		}
	}
	return out
}

// LoadHistory reads an environment's releases. A missing namespace is an
// empty history (first deploy).
func LoadHistory(ctx context.Context, cs kubernetes.Interface, namespace, env string) (*History, error) {
	list, err := cs.CoreV1().Secrets(namespace).List(ctx, metav1.ListOptions{LabelSelector: releaseLabel + "=" + env})
	if apierrors.IsNotFound(err) {
		return &History{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read release history of %s in %s: %w", env, namespace, err)
	}
	h := &History{}
	for i := range list.Items {
		s := &list.Items[i]
		r, err := decodeRelease(s.Data[releaseDataKey])
		if err != nil {
			return nil, fmt.Errorf("release record %s/%s is unreadable: %w (delete it to start a fresh history)", namespace, s.Name, err)
		}
		r.Status = s.Labels[statusLabel]
		r.secret = s
		h.Releases = append(h.Releases, r)
	}
	slices.SortFunc(h.Releases, func(a, b *Release) int { return a.Revision - b.Revision })
	return h, nil
}

func decodeRelease(data []byte) (*Release, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(io.LimitReader(zr, 64<<20))
	if err != nil {
		return nil, err
	}
	var r Release
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// saveRelease creates or updates the release's record.
func saveRelease(ctx context.Context, cs kubernetes.Interface, namespace string, r *Release) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	labels := map[string]string{
		releaseLabel:   r.Env,
		revisionLabel:  strconv.Itoa(r.Revision),
		statusLabel:    r.Status,
		ManagedByLabel: "statex",
	}
	if r.secret == nil {
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: releaseName(r.Env, r.Revision), Namespace: namespace, Labels: labels},
			Type:       releaseType,
			Data:       map[string][]byte{releaseDataKey: buf.Bytes()},
		}
		created, err := cs.CoreV1().Secrets(namespace).Create(ctx, s, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("record release %d: %w", r.Revision, err)
		}
		r.secret = created
		return nil
	}
	s := r.secret.DeepCopy()
	s.Labels = labels
	s.Data = map[string][]byte{releaseDataKey: buf.Bytes()}
	updated, err := cs.CoreV1().Secrets(namespace).Update(ctx, s, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("record release %d: %w", r.Revision, err)
	}
	r.secret = updated
	return nil
}

// trimHistory deletes the oldest records beyond keep, never the last
// successful one (rollback needs it).
func trimHistory(ctx context.Context, cs kubernetes.Interface, namespace string, h *History, keep int) error {
	if keep < 1 || len(h.Releases) <= keep {
		return nil
	}
	last := h.LastSucceeded()
	drop := len(h.Releases) - keep
	var kept []*Release
	for _, r := range h.Releases {
		if drop > 0 && r != last {
			if err := cs.CoreV1().Secrets(namespace).Delete(ctx, releaseName(r.Env, r.Revision), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("trim release history: %w", err)
			}
			drop--
			continue
		}
		kept = append(kept, r)
	}
	h.Releases = kept
	return nil
}
