// Package target resolves an environment once: from its name in
// manifests/environments.yaml and kubectl's flags to one typed value that
// every verb acts on (its namespace and overlay, how its cluster is
// reached, which images it may run without, where its secrets come from,
// its gates). Verbs take a *Target; none looks the environment up again.
package target

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"

	"github.com/statex/infrastructure/pipelines/cluster"
	"github.com/statex/infrastructure/pipelines/images"
	"github.com/statex/infrastructure/pipelines/kube"
	"github.com/statex/infrastructure/pipelines/manifest"
	"github.com/statex/infrastructure/pipelines/offsite"
)

// Repo is a checkout: its root and its environments file.
type Repo struct {
	Root         string
	Environments *manifest.Environments
}

// Open finds the repository (root when given, else $STATEX_ROOT, else
// upwards from the working directory) and reads its environments file.
func Open(root string) (*Repo, error) {
	if root == "" {
		root = os.Getenv("STATEX_ROOT")
	}
	if root == "" {
		var err error
		if root, err = manifest.FindRoot("."); err != nil {
			return nil, err
		}
	}
	envs, err := manifest.LoadEnvironments(filepath.Join(root, manifest.EnvironmentsFile))
	if err != nil {
		return nil, err
	}
	return &Repo{Root: root, Environments: envs}, nil
}

// Names are the environments' names in file order (completion, errors).
func (r *Repo) Names() []string {
	var names []string
	for _, e := range r.Environments.Environments {
		names = append(names, e.Name)
	}
	return names
}

// Kubectl is kubectl's flags that choose a cluster and a user, as given;
// "" where not given.
type Kubectl struct {
	Kubeconfig, Context, Cluster, User string
	// Warnings receives the API server's warnings from every client built
	// from the target's REST config (nil: client-go's default, to klog).
	Warnings rest.WarningHandlerWithContext
}

// Target is one environment, resolved.
type Target struct {
	Name, Description string
	Repo              *Repo
	// Namespace is where the platform is deployed; Overlay the kustomize
	// directory rendered for it.
	Namespace, Overlay string
	// Kind is the kind cluster the pipeline owns; nil when the environment
	// targets an existing context.
	Kind *Kind
	// Context is the kubeconfig context an existing-cluster environment
	// targets; "" for kind.
	Context string
	Images  ImagePolicy
	Secrets SecretPolicy
	// Gates are what must pass, in order, for the environment to count as
	// done (validate, deploy, check, drill, approval).
	Gates []string
	// KubernetesVersion is the minor the environment's clusters run and its
	// manifests are validated against ("1.34").
	KubernetesVersion string
	// Backup is where the environment's backups go; nil when it declares
	// none.
	Backup *Backup
	// TTL is how long the environment may live (0: forever).
	TTL time.Duration
	// Previous is the environment before this one in environments.yaml's
	// promotion chain: a release must pass its gates there first. "" for
	// the first, or for an environment outside the chain (preview).
	Previous string

	env     *manifest.Environment
	kubectl Kubectl

	once   sync.Once
	config *rest.Config
	err    error
}

// Kind is a kind cluster the pipeline creates and owns.
type Kind struct {
	Cluster string
	// Kubeconfig is the cluster's own kubeconfig, written by cluster up and
	// read by every later verb unless --kubeconfig or --context say
	// otherwise.
	Kubeconfig string
	// InternalAPI makes that kubeconfig reach the API server on the kind
	// Docker network, for a client in a container there
	// (STATEX_KIND_API=internal; the Dagger module's cluster functions).
	InternalAPI bool
	// ImagesDir holds the project's image recipes; NodeImage and Load are
	// read from it (images.ForKind).
	ImagesDir string
}

// Images is what a kind cluster is made of: the offline node image ("" if
// the recipes have none) and the service images loaded into its nodes.
func (k *Kind) Images() (nodeImage string, load []string, err error) {
	return images.ForKind(k.ImagesDir)
}

// Backup is an environment's backup target, resolved: for a kind site the
// endpoint is the site the pipeline runs (Offsite), which the platform's
// pods reach by its name on the kind Docker network.
type Backup struct {
	manifest.Backup
	// Offsite is the site the pipeline runs; nil for an external one.
	Offsite *offsite.Site
}

// offsiteImage is the image of a kind backup site: the project's MinIO.
const offsiteImage = "minio"

// ImagePolicy says which images an environment must have.
type ImagePolicy struct {
	// Unavailable are the image repositories the environment may run
	// without (environments.yaml unavailableImages): a service whose pods
	// cannot pull one is reported unavailable, its check SKIPPED, never
	// PASS. Any other image that cannot be pulled fails.
	Unavailable []string
}

// projectPrefix is the repository prefix of the images this project builds.
const projectPrefix = "statex/"

// Project reports whether image is built by this project: such an image
// must always be present, whatever the environment tolerates.
func (ImagePolicy) Project(image string) bool { return strings.HasPrefix(image, projectPrefix) }

// MayBeUnavailable reports whether the environment tolerates image (a
// full reference) not being pullable. A project image never is.
func (p ImagePolicy) MayBeUnavailable(image string) bool {
	if p.Project(image) {
		return false
	}
	return (&manifest.Environment{UnavailableImages: p.Unavailable}).MayBeUnavailable(image)
}

// SecretPolicy says where the Secrets the manifests reference but the
// repository never holds come from.
type SecretPolicy struct {
	// External: the cluster's secret store provides them, and deploy fails
	// if one or a key is missing. Otherwise deploy generates each once.
	External  bool
	Generated []manifest.GeneratedSecret
}

// Resolve resolves the named environment with kubectl's flags.
func (r *Repo) Resolve(name string, k Kubectl) (*Target, error) {
	env, err := r.Environments.Get(name)
	if err != nil {
		return nil, err
	}
	t := &Target{
		Name: env.Name, Description: env.Description, Repo: r,
		Namespace: r.Environments.NamespaceOf(env), Overlay: r.Environments.OverlayDir(env),
		Context:           env.Target.Context,
		Images:            ImagePolicy{Unavailable: env.UnavailableImages},
		Secrets:           SecretPolicy{External: env.Secrets == "external", Generated: r.Environments.GeneratedSecrets},
		Gates:             env.Gates,
		KubernetesVersion: r.Environments.KubernetesVersion,
		env:               env, kubectl: k,
	}
	if env.TTL != "" {
		// LoadEnvironments has checked it parses.
		t.TTL, _ = time.ParseDuration(env.TTL)
	}
	for i, n := range r.Environments.Promotion {
		if n == env.Name && i > 0 {
			t.Previous = r.Environments.Promotion[i-1]
		}
	}
	if env.Target.Kind != nil {
		t.Kind = &Kind{
			Cluster:     env.Target.Kind.Cluster,
			Kubeconfig:  cluster.DefaultKubeconfig(env.Target.Kind.Cluster),
			InternalAPI: os.Getenv("STATEX_KIND_API") == "internal",
			ImagesDir:   filepath.Join(r.Root, "images"),
		}
		// cluster up writes the kubeconfig where --kubeconfig says.
		if k.Kubeconfig != "" && k.Context == "" {
			t.Kind.Kubeconfig = k.Kubeconfig
		}
	}
	if env.Backup != nil {
		t.Backup = &Backup{Backup: *env.Backup}
		if env.Backup.Site == manifest.BackupSiteKind && t.Kind != nil {
			// LoadEnvironments has checked a kind site has a kind target.
			// Only starting the site needs its image: a checkout of the
			// manifests alone still resolves (Start names what is missing).
			tag, _ := os.ReadFile(filepath.Join(t.Kind.ImagesDir, offsiteImage, "TAG"))
			site := offsite.ForCluster(t.Kind.Cluster, strings.TrimSpace(string(tag)))
			t.Backup.Offsite = &site
			t.Backup.Endpoint = site.Endpoint()
		}
	}
	return t, nil
}

// ForConfig is a target on a cluster already reached (tests against a real
// API server, a client inside the cluster): the REST config is given, not
// resolved from a kubeconfig.
func ForConfig(name, namespace string, cfg *rest.Config) *Target {
	t := &Target{Name: name, Namespace: namespace, config: cfg, env: &manifest.Environment{Name: name}}
	t.once.Do(func() {})
	if cfg == nil {
		t.err = errors.New("no REST config")
	}
	return t
}

// Environment is the entry of environments.yaml this target was resolved
// from.
func (t *Target) Environment() *manifest.Environment { return t.env }

// Render renders the target's overlay (cached by content).
func (t *Target) Render(ctx context.Context) (*manifest.Rendered, error) {
	if t.Repo == nil {
		return nil, fmt.Errorf("environment %s: no repository to render from", t.Name)
	}
	return manifest.Render(ctx, t.Repo.Root, t.Repo.Environments, t.Name)
}

// Access is which kubeconfig and context reach the target's cluster.
func (t *Target) Access() kube.Access {
	a := kube.Access{Kubeconfig: t.kubectl.Kubeconfig, Context: t.kubectl.Context, TargetContext: t.Context}
	if t.Kind != nil {
		a.OwnKubeconfig = t.Kind.Kubeconfig
	}
	return a
}

// RESTConfig is the REST config of the target's cluster, loaded once:
// kube.Access decides which kubeconfig and context, cli-runtime loads them
// with --cluster and --user applied. Loading reads files only; whether the
// API server answers is kube.Reachable's question.
func (t *Target) RESTConfig() (*rest.Config, error) {
	t.once.Do(func() { t.config, t.err = t.loadConfig() })
	return t.config, t.err
}

func (t *Target) loadConfig() (*rest.Config, error) {
	access := t.Access()
	kubeconfig, context := access.Resolve()
	if t.Kind != nil && kubeconfig != "" && kubeconfig == access.OwnKubeconfig {
		if _, err := os.Stat(kubeconfig); err != nil {
			return nil, fmt.Errorf("environment %s: no kubeconfig at %s: run 'statex cluster up --env %s' (or 'statex up --env %s'), or name a context with --context", t.Name, kubeconfig, t.Name, t.Name)
		}
	}
	flags := &genericclioptions.ConfigFlags{KubeConfig: &kubeconfig, Context: &context, ClusterName: &t.kubectl.Cluster, AuthInfoName: &t.kubectl.User}
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("environment %s: kubeconfig: %w", t.Name, err)
	}
	if t.kubectl.Warnings != nil {
		cfg.WarningHandlerWithContext = t.kubectl.Warnings
	}
	return cfg, nil
}
