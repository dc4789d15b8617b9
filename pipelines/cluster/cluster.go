// Package cluster manages the local kind clusters the pipeline deploys to,
// through kind's Go library (not its CLI): create (idempotent), wait for
// real readiness, load the project's images into the nodes, report status,
// export logs, delete. It works with no registry: the node image is the one
// `statex images build kind-node` makes, unless an upstream kindest/node
// image is available.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	kind "sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"
	kindexec "sigs.k8s.io/kind/pkg/exec"
	kindlog "sigs.k8s.io/kind/pkg/log"
)

// DefaultReadyTimeout bounds the wait for a cluster's readiness unless
// Options say otherwise.
const DefaultReadyTimeout = 5 * time.Minute

// Options configure Up.
type Options struct {
	// Name of the kind cluster (an environment's target.kind.cluster).
	Name string
	// NodeImage forces a node image; empty detects one (see ResolveNodeImage).
	NodeImage string
	// OfflineNodeImage is the tag `statex images build kind-node` produces.
	OfflineNodeImage string
	// Kubeconfig is where the cluster's kubeconfig is written; empty means
	// DefaultKubeconfig(Name).
	Kubeconfig string
	// Images are loaded into every node (those not built locally are
	// reported as skipped, never silently ignored).
	Images []string
	// ReadyTimeout bounds the wait for nodes and system pods (default 5m).
	ReadyTimeout time.Duration
	// Retain keeps the nodes of a failed create for inspection (statex
	// cluster logs); by default kind deletes them.
	Retain bool
	// Progress receives one event per step; nil discards them.
	Progress func(Event)
	// InternalAPI writes a kubeconfig that reaches the API server at the
	// control-plane container's address on the "kind" Docker network instead
	// of the host's published port: for callers that run in another
	// container on that network (the Dagger module's Up).
	InternalAPI bool
}

// Event is a progress report: what is happening and since when.
type Event struct {
	Step    string
	Elapsed time.Duration
}

// Step is a finished step of Up with its duration.
type Step struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

// ImageLoad says what happened to one image.
type ImageLoad struct {
	Image  string `json:"image"`
	Status string `json:"status"` // loaded, present (already on the nodes), missing (not built locally)
}

// UpResult is what Up did.
type UpResult struct {
	Name            string `json:"name"`
	Created         bool   `json:"created"`
	NodeImage       string `json:"nodeImage"`
	NodeImageSource string `json:"nodeImageSource"`
	Kubeconfig      string `json:"kubeconfig"`
	// MergedInto is the user's kubeconfig that now has context
	// kind-<name> (see MergeKubeconfig).
	MergedInto string      `json:"mergedInto,omitempty"`
	Nodes      []Node      `json:"nodes"`
	Images     []ImageLoad `json:"images,omitempty"`
	Steps      []Step      `json:"steps"`
	Seconds    float64     `json:"seconds"`
}

// Node is one node's state.
type Node struct {
	Name              string `json:"name"`
	Role              string `json:"role"`
	Container         string `json:"container"` // running, exited, …
	Ready             bool   `json:"ready"`
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
}

// DefaultKubeconfig is where a cluster's kubeconfig goes unless told
// otherwise: outside the repository and the user's main kubeconfig.
func DefaultKubeconfig(name string) string {
	dir, err := os.UserConfigDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "statex", "kubeconfig-"+name)
}

type runner struct {
	opts  Options
	start time.Time
	res   *UpResult
	last  time.Time
}

func (r *runner) step(name string) {
	now := time.Now()
	if n := len(r.res.Steps); n > 0 {
		r.res.Steps[n-1].Seconds = now.Sub(r.last).Seconds()
	}
	r.res.Steps = append(r.res.Steps, Step{Name: name})
	r.last = now
	if r.opts.Progress != nil {
		r.opts.Progress(Event{Step: name, Elapsed: now.Sub(r.start)})
	}
}

func (r *runner) finish() {
	if n := len(r.res.Steps); n > 0 {
		r.res.Steps[n-1].Seconds = time.Since(r.last).Seconds()
	}
	r.res.Seconds = time.Since(r.start).Seconds()
}

func provider(progress func(Event), start time.Time) *kind.Provider {
	return kind.NewProvider(kind.ProviderWithDocker(), kind.ProviderWithLogger(&logger{progress: progress, start: start}))
}

// Up makes sure the named cluster exists, runs, is ready and has the images
// loaded. On a healthy cluster with the images present it changes nothing
// and returns in seconds.
func Up(ctx context.Context, opts Options) (*UpResult, error) {
	if opts.Name == "" {
		return nil, errors.New("cluster name is required")
	}
	if opts.Kubeconfig == "" {
		opts.Kubeconfig = DefaultKubeconfig(opts.Name)
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = DefaultReadyTimeout
	}
	r := &runner{opts: opts, start: time.Now(), res: &UpResult{Name: opts.Name, Kubeconfig: opts.Kubeconfig}}
	defer r.finish()
	p := provider(opts.Progress, r.start)

	r.step("preflight")
	if checks := Remediate(Preflight(ctx)); Failed(checks) {
		var msgs []string
		for _, c := range checks {
			if c.Status == CheckFail {
				msgs = append(msgs, fmt.Sprintf("%s: %s (fix: %s)", c.Name, c.Detail, c.Fix))
			}
		}
		return r.res, fmt.Errorf("preflight: %s", strings.Join(msgs, "; "))
	}

	existing, err := p.List()
	if err != nil {
		return r.res, fmt.Errorf("list kind clusters: %w", err)
	}
	if slices.Contains(existing, opts.Name) {
		r.step("start stopped nodes")
		if err := startStopped(ctx, p, opts.Name); err != nil {
			return r.res, err
		}
		r.res.NodeImage, r.res.NodeImageSource = nodeImageOf(ctx, p, opts.Name), "existing"
	} else {
		r.step("resolve node image")
		image, source, err := ResolveNodeImage(ctx, opts.NodeImage, opts.OfflineNodeImage)
		if err != nil {
			return r.res, err
		}
		r.res.NodeImage, r.res.NodeImageSource = image, source
		r.step("create cluster " + opts.Name + " from " + image)
		if err := os.MkdirAll(filepath.Dir(opts.Kubeconfig), 0o700); err != nil {
			return r.res, err
		}
		cfg := &v1alpha4.Cluster{
			TypeMeta: v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"},
			Nodes:    []v1alpha4.Node{{Role: v1alpha4.ControlPlaneRole, Image: image}},
		}
		err = p.Create(opts.Name,
			kind.CreateWithV1Alpha4Config(cfg),
			kind.CreateWithNodeImage(image),
			kind.CreateWithKubeconfigPath(opts.Kubeconfig),
			kind.CreateWithWaitForReady(opts.ReadyTimeout),
			kind.CreateWithDisplayUsage(false),
			kind.CreateWithDisplaySalutation(false),
			kind.CreateWithRetain(opts.Retain),
		)
		if err != nil {
			return r.res, fmt.Errorf("create kind cluster %s from %s: %w%s", opts.Name, image, err, commandOutput(err))
		}
		r.res.Created = true
	}

	r.step("write kubeconfig " + opts.Kubeconfig)
	if err := os.MkdirAll(filepath.Dir(opts.Kubeconfig), 0o700); err != nil {
		return r.res, err
	}
	if err := exportKubeconfig(ctx, p, opts.Name, opts.Kubeconfig, opts.InternalAPI); err != nil {
		return r.res, fmt.Errorf("export kubeconfig: %w", err)
	}

	// As kind create cluster does: kubectl (and --context kind-<name>)
	// reach the cluster with no --kubeconfig.
	user := UserKubeconfig()
	r.step("merge context " + ContextName(opts.Name) + " into " + user.GetDefaultFilename())
	if err := MergeKubeconfig(opts.Kubeconfig, user); err != nil {
		return r.res, err
	}
	r.res.MergedInto = user.GetDefaultFilename()

	r.step("wait for nodes, system pods and storage")
	if err := waitReady(ctx, opts.Kubeconfig, opts.ReadyTimeout); err != nil {
		return r.res, err
	}

	if len(opts.Images) > 0 {
		r.step(fmt.Sprintf("load %d images", len(opts.Images)))
		loads, err := loadImages(ctx, p, opts.Name, opts.Images, opts.Progress, r.start)
		r.res.Images = loads
		if err != nil {
			return r.res, err
		}
	}
	r.res.Nodes, err = nodeStates(ctx, p, opts.Name, opts.Kubeconfig)
	return r.res, err
}

// exportKubeconfig writes the cluster's kubeconfig to its own file.
func exportKubeconfig(ctx context.Context, p *kind.Provider, name, path string, internal bool) error {
	if !internal {
		return p.ExportKubeConfig(name, path, false)
	}
	cfg, err := kubeconfigOf(ctx, p, name, true)
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(cfg), 0o600)
}

// Down deletes the cluster, its kubeconfig and its entries in the user's
// kubeconfig (those go even when the cluster is already gone: a stale
// context would point kubectl at nothing). Deleting a cluster that does
// not exist is not an error.
func Down(ctx context.Context, name, kubeconfig string) (bool, error) {
	if kubeconfig == "" {
		kubeconfig = DefaultKubeconfig(name)
	}
	p := provider(nil, time.Now())
	existing, err := p.List()
	if err != nil {
		return false, fmt.Errorf("list kind clusters: %w", err)
	}
	if err := RemoveKubeconfig(name, UserKubeconfig()); err != nil {
		return false, err
	}
	if !slices.Contains(existing, name) {
		return false, nil
	}
	if err := p.Delete(name, kubeconfig); err != nil {
		return false, fmt.Errorf("delete kind cluster %s: %w", name, err)
	}
	if err := os.Remove(kubeconfig); err != nil && !errors.Is(err, os.ErrNotExist) {
		return true, err
	}
	return true, nil
}

// Status describes a cluster.
type Status struct {
	Name       string `json:"name"`
	Exists     bool   `json:"exists"`
	NodeImage  string `json:"nodeImage,omitempty"`
	Kubeconfig string `json:"kubeconfig,omitempty"`
	Nodes      []Node `json:"nodes,omitempty"`
	// Healthy: every node's container runs and the node reports Ready.
	Healthy bool `json:"healthy"`
}

// GetStatus reports a cluster's nodes without changing anything.
func GetStatus(ctx context.Context, name, kubeconfig string) (*Status, error) {
	if kubeconfig == "" {
		kubeconfig = DefaultKubeconfig(name)
	}
	p := provider(nil, time.Now())
	existing, err := p.List()
	if err != nil {
		return nil, fmt.Errorf("list kind clusters: %w", err)
	}
	st := &Status{Name: name, Exists: slices.Contains(existing, name)}
	if !st.Exists {
		return st, nil
	}
	st.NodeImage = nodeImageOf(ctx, p, name)
	if _, err := os.Stat(kubeconfig); err == nil {
		st.Kubeconfig = kubeconfig
	}
	st.Nodes, err = nodeStates(ctx, p, name, st.Kubeconfig)
	if err != nil {
		return st, err
	}
	st.Healthy = len(st.Nodes) > 0
	for _, n := range st.Nodes {
		st.Healthy = st.Healthy && n.Container == "running" && n.Ready
	}
	return st, nil
}

// ExportLogs writes kind's node logs (journal, containerd, kubelet, pods)
// into dir, for CI artifacts.
func ExportLogs(ctx context.Context, name, dir string) error {
	p := provider(nil, time.Now())
	existing, err := p.List()
	if err != nil {
		return err
	}
	if !slices.Contains(existing, name) {
		return fmt.Errorf("no kind cluster %q (existing: %s)", name, strings.Join(existing, ", "))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return p.CollectLogs(name, dir)
}

// commandOutput is the tail of the output of the command kind ran that
// failed (kubeadm init, …): the error alone says only "exit status 1".
func commandOutput(err error) string {
	re := kindexec.RunErrorForError(err)
	if re == nil || len(re.Output) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(re.Output)), "\n")
	if len(lines) > 25 {
		lines = lines[len(lines)-25:]
	}
	return "\n    " + strings.Join(lines, "\n    ")
}

func containerState(ctx context.Context, container string) string {
	out, err := exec.CommandContext(ctx, "docker", "inspect", "--format", "{{.State.Status}}", container).Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

// startStopped starts node containers of an existing cluster that stopped
// (a host reboot): kind nodes resume where they were.
func startStopped(ctx context.Context, p *kind.Provider, name string) error {
	ns, err := p.ListNodes(name)
	if err != nil {
		return fmt.Errorf("list nodes of %s: %w", name, err)
	}
	for _, n := range ns {
		if containerState(ctx, n.String()) == "running" {
			continue
		}
		if out, err := exec.CommandContext(ctx, "docker", "start", n.String()).CombinedOutput(); err != nil {
			return fmt.Errorf("start node %s: %v: %s", n, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

func nodeImageOf(ctx context.Context, p *kind.Provider, name string) string {
	ns, err := p.ListNodes(name)
	if err != nil || len(ns) == 0 {
		return ""
	}
	out, err := exec.CommandContext(ctx, "docker", "inspect", "--format", "{{.Config.Image}}", ns[0].String()).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func nodeStates(ctx context.Context, p *kind.Provider, name, kubeconfig string) ([]Node, error) {
	ns, err := p.ListNodes(name)
	if err != nil {
		return nil, fmt.Errorf("list nodes of %s: %w", name, err)
	}
	ready := map[string]bool{}
	if kubeconfig != "" {
		ready, _ = nodesReady(ctx, kubeconfig) // unreachable API: nodes are reported not ready
	}
	var out []Node
	for _, n := range ns {
		role, _ := n.Role()
		node := Node{Name: n.String(), Role: role, Container: containerState(ctx, n.String()), Ready: ready[n.String()]}
		if node.Container == "running" {
			node.KubernetesVersion, _ = nodeutils.KubeVersion(n)
		}
		out = append(out, node)
	}
	slices.SortFunc(out, func(a, b Node) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// logger forwards kind's user-facing messages to the progress callback.
type logger struct {
	progress func(Event)
	start    time.Time
}

func (l *logger) emit(msg string) {
	if l.progress != nil {
		l.progress(Event{Step: "kind: " + strings.TrimSpace(msg), Elapsed: time.Since(l.start)})
	}
}
func (l *logger) Warn(m string)                    { l.emit(m) }
func (l *logger) Warnf(f string, a ...interface{}) { l.emit(fmt.Sprintf(f, a...)) }
func (l *logger) Error(m string)                   { l.emit(m) }
func (l *logger) Errorf(f string, a ...interface{}) {
	l.emit(fmt.Sprintf(f, a...))
}
func (l *logger) V(level kindlog.Level) kindlog.InfoLogger { return infoLogger{l, level == 0} }

type infoLogger struct {
	l  *logger
	on bool
}

func (i infoLogger) Info(m string) {
	if i.on {
		i.l.emit(m)
	}
}
func (i infoLogger) Infof(f string, a ...interface{}) {
	if i.on {
		i.l.emit(fmt.Sprintf(f, a...))
	}
}
func (i infoLogger) Enabled() bool { return i.on }
