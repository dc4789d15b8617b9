// Package manifest loads the Statex manifest set: the environments file, the
// kustomize render of an environment, and plain YAML files, into objects that
// remember where they came from (file and line) so every later verb can point
// a user at the exact place to fix.
package manifest

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	yamlv3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/yaml"
)

// EnvironmentsFile is the conventional location of the environments file,
// relative to the repository root.
const EnvironmentsFile = "manifests/environments.yaml"

// Environments is the parsed environments file: every place the platform is
// deployed to, in promotion order, and the secrets created at deploy time.
type Environments struct {
	APIVersion        string            `json:"apiVersion"`
	Kind              string            `json:"kind"`
	Namespace         string            `json:"namespace"`
	KubernetesVersion string            `json:"kubernetesVersion"`
	Promotion         []string          `json:"promotion"`
	GeneratedSecrets  []GeneratedSecret `json:"generatedSecrets,omitempty"`
	Environments      []Environment     `json:"environments"`

	// Path is the file this was read from; overlays resolve relative to its directory.
	Path string `json:"-"`
}

// GeneratedSecret is a Secret that is never committed: the deploy step
// creates it (random values, stable across deploys) or, where the environment
// says so, an external store provides it. Validation treats it as present.
type GeneratedSecret struct {
	Name string   `json:"name"`
	Keys []string `json:"keys"`
}

// Environment is one deployment target.
type Environment struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Overlay     string   `json:"overlay"`
	Namespace   string   `json:"namespace,omitempty"`
	Target      Target   `json:"target"`
	Gates       []string `json:"gates,omitempty"`
	Secrets     string   `json:"secrets,omitempty"`
	TTL         string   `json:"ttl,omitempty"`
	// UnavailableImages are the image repositories (no tag or digest) this
	// environment may run without: a service whose pods cannot pull one is
	// reported unavailable and its check SKIPPED. Any other image that
	// cannot be pulled fails the check. Empty: every image must be pulled.
	UnavailableImages []string `json:"unavailableImages,omitempty"`
	// Backup is where the environment's backups go: another site that
	// survives the loss of the namespace and the cluster. nil: none.
	Backup *Backup `json:"backup,omitempty"`
}

// Backup is an environment's backup target: an S3 endpoint at another
// site, a bucket for backups (versioned, object-locked: a backup cannot
// be deleted or overwritten inside the retention window) and one the
// platform's MinIO replicates its buckets into.
type Backup struct {
	// Site is who runs the other site: "kind" (the pipeline starts and
	// keeps a MinIO of its own image beside a kind cluster; kind targets
	// only) or "external" (an S3 service that exists; endpoint required).
	Site string `json:"site"`
	// Endpoint is the S3 endpoint as the platform's pods reach it; for a
	// kind site, the pipeline's own (empty here).
	Endpoint string `json:"endpoint,omitempty"`
	Region   string `json:"region,omitempty"`
	// Bucket holds every backup job's backups, each under its job's
	// prefix; ReplicaBucket receives the platform's object storage.
	Bucket        string `json:"bucket"`
	ReplicaBucket string `json:"replicaBucket"`
	// CredentialsSecret is the Secret in the namespace with each backup
	// job's own S3 secret key (key = the job's name; the access key is the
	// job's user, backup-<job>). No job holds the site's root credentials.
	CredentialsSecret string `json:"credentialsSecret"`
	// Retention is how long every backup is locked (whole days, e.g.
	// "168h") and kept; RetentionMode is "governance" (the site's root may
	// lift the lock) or "compliance" (nobody can, not even root).
	Retention     string `json:"retention"`
	RetentionMode string `json:"retentionMode,omitempty"`
}

// Backup sites.
const (
	BackupSiteKind     = "kind"
	BackupSiteExternal = "external"
)

// KindSiteContainer is the container (and its name on the kind Docker
// network) of the backup site the pipeline runs beside kind cluster name.
func KindSiteContainer(cluster string) string { return cluster + "-offsite" }

// BackupCAConfigMap holds (key ca.crt) the CA a backup site the pipeline
// runs serves TLS with; the deploy writes it into the namespace. Backup
// clients mount it optionally: an external site with a public CA has none.
const BackupCAConfigMap = "backup-ca"

// KindSitePort is the S3 port of a kind backup site.
const KindSitePort = 9000

// EndpointFor is the S3 endpoint the platform's pods reach env's backup
// site at: an external site's own, or the kind site's on the kind network.
func (b *Backup) EndpointFor(env *Environment) string {
	if b.Site == BackupSiteKind && env.Target.Kind != nil {
		return fmt.Sprintf("https://%s:%d", KindSiteContainer(env.Target.Kind.Cluster), KindSitePort)
	}
	return b.Endpoint
}

// RegionOf is the site's region (S3's default when not set).
func (b *Backup) RegionOf() string {
	if b.Region == "" {
		return "us-east-1"
	}
	return b.Region
}

// RetentionDays is Retention in whole days (S3 object lock counts days).
func (b *Backup) RetentionDays() int {
	d, _ := time.ParseDuration(b.Retention)
	return int(d / (24 * time.Hour))
}

// checkBackup names what is wrong with an environment's backup target.
func checkBackup(where string, env *Environment) []error {
	b := env.Backup
	if b == nil {
		return nil
	}
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: backup.%s", where, fmt.Sprintf(format, a...)))
	}
	switch b.Site {
	case BackupSiteKind:
		if env.Target.Kind == nil {
			bad("site: kind runs beside a kind cluster only, and this environment targets context %q: use site: external with its endpoint", env.Target.Context)
		}
		if b.Endpoint != "" {
			bad("endpoint: the pipeline runs a kind site itself: leave endpoint out")
		}
	case BackupSiteExternal:
		u, err := url.Parse(b.Endpoint)
		switch {
		case b.Endpoint == "":
			bad("endpoint: required for an external site (https://s3.example.net)")
		case err != nil || u.Host == "" || u.Path != "" && u.Path != "/":
			bad("endpoint %q: want a URL with a host and no path, e.g. https://s3.example.net", b.Endpoint)
		case u.Scheme != "https":
			bad("endpoint %q: an external site must be reached over https", b.Endpoint)
		}
	default:
		bad("site %q: want kind or external", b.Site)
	}
	for field, name := range map[string]string{"bucket": b.Bucket, "replicaBucket": b.ReplicaBucket} {
		if !bucketName.MatchString(name) || strings.Contains(name, "..") {
			bad("%s %q: want an S3 bucket name (3 to 63 characters: a-z, 0-9, '.', '-')", field, name)
		}
	}
	if b.Bucket != "" && b.Bucket == b.ReplicaBucket {
		bad("replicaBucket: must differ from bucket (replication must never write into the locked backups)")
	}
	if b.CredentialsSecret == "" {
		bad("credentialsSecret: required (the Secret with each backup job's own S3 key)")
	}
	d, err := time.ParseDuration(b.Retention)
	switch {
	case err != nil:
		bad("retention %q: want a duration in whole days, e.g. 168h", b.Retention)
	case d < 24*time.Hour || d%(24*time.Hour) != 0:
		bad("retention %q: want whole days of at least 24h (S3 object lock counts days)", b.Retention)
	}
	switch b.RetentionMode {
	case "", "governance", "compliance":
	default:
		bad("retentionMode %q: want governance or compliance", b.RetentionMode)
	}
	return errs
}

// bucketName is S3's rule for bucket names (without the IP-address case).
var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// MayBeUnavailable reports whether the environment tolerates image (a full
// reference) not being pullable: its repository is listed under
// unavailableImages. A tag bump keeps the allowance; another repository
// never inherits it.
func (env *Environment) MayBeUnavailable(image string) bool {
	repo := dockerHubShort(ImageRepository(image))
	for _, listed := range env.UnavailableImages {
		if dockerHubShort(listed) == repo {
			return true
		}
	}
	return false
}

// dockerHubShort writes a Docker Hub repository the short way: a runtime
// may report "docker.io/grafana/grafana" for the manifests' "grafana/grafana".
func dockerHubShort(repo string) string {
	if r, ok := strings.CutPrefix(repo, "docker.io/"); ok {
		return strings.TrimPrefix(r, "library/")
	}
	return repo
}

// ImageRepository is an image reference without its tag and digest
// ("registry:5000/a/b:1.2@sha256:…" → "registry:5000/a/b").
func ImageRepository(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	// A colon after the last slash starts the tag; one before it is a
	// registry's port.
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref = ref[:i]
	}
	return ref
}

// Target names the cluster an environment deploys to: a kind cluster the
// pipeline manages, or an existing kubeconfig context.
type Target struct {
	Kind    *KindTarget `json:"kind,omitempty"`
	Context string      `json:"context,omitempty"`
}

// KindTarget is a local kind cluster created and owned by the pipeline.
type KindTarget struct {
	Cluster string `json:"cluster"`
}

// Known gate names; anything else in an environment's gates is a typo.
var knownGates = []string{"validate", "deploy", "check", "drill", "approval"}

// LoadEnvironments reads and checks the environments file. Errors name the
// file and the offending environment or field.
func LoadEnvironments(path string) (*Environments, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read environments file: %w", err)
	}
	if err := checkStrings(path, data, reflect.TypeFor[Environments]()); err != nil {
		return nil, err
	}
	var envs Environments
	if err := yaml.UnmarshalStrict(data, &envs); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	envs.Path = path
	if err := envs.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &envs, nil
}

func (e *Environments) check() error {
	var errs []error
	if e.Kind != "Environments" {
		errs = append(errs, fmt.Errorf("kind is %q, want Environments", e.Kind))
	}
	if e.Namespace == "" {
		errs = append(errs, errors.New("namespace: required (the default namespace of every environment)"))
	}
	if e.KubernetesVersion == "" {
		errs = append(errs, errors.New(`kubernetesVersion: required (validation target, e.g. "1.34")`))
	}
	if len(e.Environments) == 0 {
		errs = append(errs, errors.New("environments: at least one environment is required"))
	}
	seen := map[string]bool{}
	for i, env := range e.Environments {
		where := fmt.Sprintf("environments[%d]", i)
		if env.Name != "" {
			where = fmt.Sprintf("environment %q", env.Name)
		}
		switch {
		case env.Name == "":
			errs = append(errs, fmt.Errorf("%s: name is required", where))
		case seen[env.Name]:
			errs = append(errs, fmt.Errorf("%s: defined twice", where))
		}
		seen[env.Name] = true
		if env.Overlay == "" {
			errs = append(errs, fmt.Errorf("%s: overlay is required (a kustomize directory relative to %s)", where, filepath.Dir(e.Path)))
		}
		if (env.Target.Kind == nil) == (env.Target.Context == "") {
			errs = append(errs, fmt.Errorf("%s: target needs exactly one of kind.cluster or context", where))
		}
		if env.Target.Kind != nil && env.Target.Kind.Cluster == "" {
			errs = append(errs, fmt.Errorf("%s: target.kind.cluster is empty", where))
		}
		for _, g := range env.Gates {
			if !slices.Contains(knownGates, g) {
				errs = append(errs, fmt.Errorf("%s: unknown gate %q (known: %s)", where, g, strings.Join(knownGates, ", ")))
			}
		}
		switch env.Secrets {
		case "", "generate", "external":
		default:
			errs = append(errs, fmt.Errorf("%s: secrets is %q, want generate or external", where, env.Secrets))
		}
		if env.TTL != "" {
			if _, err := time.ParseDuration(env.TTL); err != nil {
				errs = append(errs, fmt.Errorf("%s: ttl %q: %v", where, env.TTL, err))
			}
		}
		errs = append(errs, checkBackup(where, &env)...)
		for j, img := range env.UnavailableImages {
			// A tagged entry would never match (entries are compared with
			// the repository only) and silently excuse nothing.
			switch {
			case img == "" || ImageRepository(img) != img:
				errs = append(errs, fmt.Errorf("%s: unavailableImages[%d] %q: want an image repository without tag or digest", where, j, img))
			case slices.Contains(env.UnavailableImages[:j], img):
				errs = append(errs, fmt.Errorf("%s: unavailableImages: %q listed twice", where, img))
			}
		}
	}
	for _, name := range e.Promotion {
		if !seen[name] {
			errs = append(errs, fmt.Errorf("promotion: %q is not a defined environment", name))
		}
	}
	for i, s := range e.GeneratedSecrets {
		if s.Name == "" || len(s.Keys) == 0 {
			errs = append(errs, fmt.Errorf("generatedSecrets[%d]: name and keys are required", i))
		}
	}
	return errors.Join(errs...)
}

// Get returns the named environment or an error listing the valid names.
func (e *Environments) Get(name string) (*Environment, error) {
	var names []string
	for i := range e.Environments {
		if e.Environments[i].Name == name {
			return &e.Environments[i], nil
		}
		names = append(names, e.Environments[i].Name)
	}
	return nil, fmt.Errorf("%s: no environment %q (defined: %s)", e.Path, name, strings.Join(names, ", "))
}

// NamespaceOf returns the namespace an environment deploys into.
func (e *Environments) NamespaceOf(env *Environment) string {
	if env.Namespace != "" {
		return env.Namespace
	}
	return e.Namespace
}

// OverlayDir is the absolute-or-relative directory of an environment's overlay.
func (e *Environments) OverlayDir(env *Environment) string {
	return filepath.Join(filepath.Dir(e.Path), env.Overlay)
}

// FindRoot walks up from dir to the directory that holds the environments
// file, so the CLI works from any subdirectory of a checkout.
func FindRoot(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, EnvironmentsFile)); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no %s in %s or any parent (use --root)", EnvironmentsFile, abs)
		}
	}
}

// checkStrings refuses a YAML scalar that is not a string where t has a
// string field. sigs.k8s.io/yaml turns such a scalar into a string
// without a word: `kubernetesVersion: 1.30` becomes "1.3", `secrets: yes`
// "true", `name: 010` "8". Null (an empty value) is let through: it reads
// as "" and the required-field checks name it. Other mistakes are left to
// the strict decoder.
func checkStrings(file string, data []byte, t reflect.Type) error {
	var doc yamlv3.Node
	if yamlv3.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return nil // the strict decoder reports it
	}
	var errs []error
	walkStrings(doc.Content[0], t, "", func(n *yamlv3.Node, field, key string) {
		var kind string
		switch tag := n.ShortTag(); {
		case n.Kind == yamlv3.MappingNode || n.Kind == yamlv3.SequenceNode:
			kind = "a " + map[yamlv3.Kind]string{yamlv3.MappingNode: "mapping", yamlv3.SequenceNode: "list"}[n.Kind]
			errs = append(errs, fmt.Errorf("%s:%d: %s: want a string, found %s", file, n.Line, field, kind))
			return
		case tag == "!!null":
			return
		case tag == "!!str" && (n.Style != 0 || readAsString(n.Value) == n.Value):
			return
		case tag == "!!str":
			if _, ok := parseBool11(n.Value); ok {
				kind = "a boolean in YAML 1.1, which sigs.k8s.io/yaml reads"
			} else {
				kind = "not a plain string in YAML 1.1, which sigs.k8s.io/yaml reads"
			}
		default:
			kind = map[string]string{"!!int": "an integer", "!!float": "a number", "!!bool": "a boolean", "!!timestamp": "a timestamp"}[tag]
			if kind == "" {
				kind = "of type " + tag
			}
		}
		fix := fmt.Sprintf("%s: %q", key, n.Value)
		if key == "" {
			fix = fmt.Sprintf("%q", n.Value)
		}
		errs = append(errs, fmt.Errorf("%s:%d: %s: %s is %s, not a string (it would be read as %q); quote it: %s",
			file, n.Line, field, n.Value, kind, readAsString(n.Value), fix))
	})
	return errors.Join(errs...)
}

// walkStrings calls found for every node that t decodes into a string:
// field is its path ("environments[1].ttl"), key the mapping key it is the
// value of ("" in a list).
func walkStrings(n *yamlv3.Node, t reflect.Type, field string, found func(n *yamlv3.Node, field, key string)) {
	for n.Kind == yamlv3.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		key := field[strings.LastIndexByte(field, '.')+1:]
		if strings.HasSuffix(key, "]") {
			key = ""
		}
		found(n, field, key)
	case reflect.Slice:
		if n.Kind != yamlv3.SequenceNode {
			return
		}
		for i, el := range n.Content {
			walkStrings(el, t.Elem(), fmt.Sprintf("%s[%d]", field, i), found)
		}
	case reflect.Struct:
		if n.Kind != yamlv3.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			name := n.Content[i].Value
			for j := range t.NumField() {
				f := t.Field(j)
				if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag == name && tag != "-" {
					sub := name
					if field != "" {
						sub = field + "." + name
					}
					walkStrings(n.Content[i+1], f.Type, sub, found)
				}
			}
		}
	}
}

// readAsString is what sigs.k8s.io/yaml makes of a plain scalar decoded
// into a string: the surprise the error shows.
func readAsString(value string) string {
	var v struct {
		V string `json:"v"`
	}
	if yaml.Unmarshal([]byte("v: "+value), &v) != nil {
		return value
	}
	return v.V
}
