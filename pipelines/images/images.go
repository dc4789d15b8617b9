package images

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options configure Build. The zero value builds every image under the
// module's images/ directory with the `docker` found on PATH.
type Options struct {
	// Dir is the images directory. Default: images/ beside the go.mod found
	// by walking up from the working directory.
	Dir string
	// Names are the images to build; their dependencies are added. Empty: all.
	Names []string
	// BuildArgs are passed to every build: as --build-arg to docker build and
	// as environment to a base recipe. A key "name:ARG" applies to one image.
	BuildArgs map[string]string
	// Force rebuilds the images named in Names (all images when Names is
	// empty) even if their input hash is unchanged; dependencies pulled in
	// only as dependencies are still skipped when up to date.
	Force bool
	// NoCache passes --no-cache to docker build (a cold build). It does not
	// by itself rebuild an up-to-date image; combine with Force for that.
	NoCache bool
	// Docker is the docker CLI to run. Default "docker".
	Docker string
	// LogDir receives one full log per image build. Default: $TMPDIR/statex-images.
	LogDir string
	// MinFreeBytes is the free space required in Docker's data directory
	// before building (checked when that directory is local). Default 4 GiB;
	// negative disables the check.
	MinFreeBytes int64
	// Progress, when set, receives an event at each step of each image.
	Progress func(Event)
	// NoRefresh trusts the package versions recorded in existing images
	// instead of resolving the recipes against the archive (see apt.go): no
	// container is run and no mirror is asked, but an image whose archive
	// moved is not rebuilt. Images that must be built are resolved anyway.
	NoRefresh bool
	// DryRun decides what would be built, and why, without building: those
	// images are reported StatusPlanned (and so is every image built on one).
	DryRun bool
}

// Event reports progress.
type Event struct {
	Image   string        // image name, "" for whole-run steps
	Step    string        // e.g. "preflight", "go build", "[3/7] RUN install-packages ..."
	Elapsed time.Duration // since this image (or the run) started
	Status  Status        // set on the image's final event
}

// Status is the outcome for one image.
type Status string

const (
	StatusBuilt   Status = "built"
	StatusSkipped Status = "skipped"
	StatusFailed  Status = "failed"
	StatusPlanned Status = "would build" // DryRun
)

// ImageResult is the outcome for one image.
type ImageResult struct {
	Name      string
	Tag       string
	Status    Status
	Reason    string // why it was built or skipped ("up to date", "inputs changed", ...)
	Duration  time.Duration
	Size      int64  // bytes, as `docker image inspect` reports; 0 if unknown
	ID        string // image ID
	InputHash string
	LogFile   string    // full build log, when built
	Packages  []Package // Debian packages apt installed (over the base; the base: all), from the image's label
	Err       error     // names the image and the step
}

// Result is the outcome of a Build.
type Result struct {
	Images   []ImageResult // in build order
	Duration time.Duration
}

// Failed returns the images that failed.
func (r Result) Failed() []ImageResult {
	var out []ImageResult
	for _, i := range r.Images {
		if i.Status == StatusFailed {
			out = append(out, i)
		}
	}
	return out
}

// Summary counts the images by outcome, e.g. "3 built, 20 up to date, 3
// failed": the one-line account a caller prints, with failures never folded
// into "up to date".
func (r Result) Summary() string {
	count := map[Status]int{}
	for _, i := range r.Images {
		count[i.Status]++
	}
	parts := []string{}
	for _, s := range []struct {
		status Status
		label  string
	}{{StatusBuilt, "built"}, {StatusPlanned, "would build"}, {StatusSkipped, "up to date"}, {StatusFailed, "failed"}} {
		if n := count[s.status]; n > 0 || s.status == StatusBuilt || s.status == StatusSkipped {
			parts = append(parts, fmt.Sprintf("%d %s", n, s.label))
		}
	}
	return strings.Join(parts, ", ")
}

// StepError is a failure of one step of one image ("-" for whole-run steps
// such as discover and preflight).
type StepError struct {
	Image string
	Step  string
	Err   error
	Tail  string // last lines of the step's output
}

func (e *StepError) Error() string {
	msg := fmt.Sprintf("image %s: %s: %v", e.Image, e.Step, e.Err)
	if e.Image == "" || e.Image == "-" {
		msg = fmt.Sprintf("images: %s: %v", e.Step, e.Err)
	}
	if e.Tail != "" {
		msg += "\n" + indent(e.Tail, "    ")
	}
	return msg
}

func (e *StepError) Unwrap() error { return e.Err }

// ProgressTo returns a Progress function that writes one line per event to w.
func ProgressTo(w io.Writer) func(Event) {
	var mu sync.Mutex
	return func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		name := e.Image
		if name == "" {
			name = "-"
		}
		if e.Status != "" {
			fmt.Fprintf(w, "images: %-12s %-7s %s (%.1fs)\n", name, e.Status, e.Step, e.Elapsed.Seconds())
			return
		}
		fmt.Fprintf(w, "images: %-12s %s (%.1fs)\n", name, e.Step, e.Elapsed.Seconds())
	}
}

// Build builds the images in dependency order, skipping those whose inputs
// are unchanged. It returns a result for every image considered, and an
// error joining the failures (nil when none failed). An image whose
// dependency failed is reported failed without being attempted.
func Build(ctx context.Context, opts Options) (Result, error) {
	start := time.Now()
	b := &builder{opts: opts, start: start}
	if b.opts.Docker == "" {
		b.opts.Docker = "docker"
	}
	if b.opts.MinFreeBytes == 0 {
		b.opts.MinFreeBytes = 4 << 30
	}
	if b.opts.LogDir == "" {
		b.opts.LogDir = filepath.Join(os.TempDir(), "statex-images")
	}
	if b.opts.Dir == "" {
		d, err := defaultDir()
		if err != nil {
			return Result{}, &StepError{Image: "-", Step: "discover", Err: err}
		}
		b.opts.Dir = d
	}
	specs, err := Discover(b.opts.Dir)
	if err != nil {
		return Result{}, &StepError{Image: "-", Step: "discover", Err: err}
	}
	order, err := Order(specs, b.opts.Names)
	if err != nil {
		return Result{}, &StepError{Image: "-", Step: "discover", Err: err}
	}
	b.event(Event{Step: "preflight"})
	if err := b.preflight(ctx, order); err != nil {
		res := Result{Duration: time.Since(start)}
		for _, s := range order {
			res.Images = append(res.Images, ImageResult{Name: s.Name, Tag: s.Tag, Status: StatusFailed, Err: err})
		}
		return res, err
	}

	b.aptSpecs, b.kinds, b.planned = map[string][]PackageSpec{}, map[string]Kind{}, map[string]bool{}
	for _, s := range specs {
		b.kinds[s.Name] = s.Kind
	}
	for _, s := range order {
		if len(s.Packages) > 0 {
			b.aptSpecs[s.Name] = ParsePackageSpecs(b.packagesFor(s))
		}
	}

	var res Result
	ids := map[string]string{} // name -> image ID of a good image
	var errs []error
	for _, s := range order {
		r := b.one(ctx, s, ids)
		if r.Status == StatusPlanned {
			b.planned[s.Name] = true
		}
		if r.Status != StatusFailed {
			ids[s.Name] = r.ID
		} else {
			errs = append(errs, r.Err)
		}
		b.event(Event{Image: s.Name, Step: r.Reason, Elapsed: r.Duration, Status: r.Status})
		res.Images = append(res.Images, r)
	}
	res.Duration = time.Since(start)
	return res, errors.Join(errs...)
}

type builder struct {
	opts     Options
	start    time.Time
	progress bool // docker build supports --progress=plain (BuildKit via buildx)

	aptSpecs map[string][]PackageSpec // recipe name -> its package specs, for the images in this run
	apt      *aptState                // the archive's answer, for aptBase
	aptBase  string                   // the base image ID apt was asked in
	kinds    map[string]Kind          // image name -> kind, for finding a recipe's base
	planned  map[string]bool          // DryRun: images that would be built
}

func (b *builder) event(e Event) {
	if b.opts.Progress == nil {
		return
	}
	if e.Image == "" {
		e.Elapsed = time.Since(b.start)
	}
	b.opts.Progress(e)
}

// preflight checks the daemon, BuildKit, disk space and, if needed, Go.
func (b *builder) preflight(ctx context.Context, order []Spec) error {
	fail := func(err error, fix string) error {
		if fix != "" {
			err = fmt.Errorf("%w. Fix: %s", err, fix)
		}
		return &StepError{Image: "-", Step: "preflight", Err: err}
	}
	out, err := b.docker(ctx, "version", "--format", "{{.Server.Version}}")
	if err != nil {
		return fail(fmt.Errorf("no Docker daemon answers: %v: %s", err, lastLines(out, 3)),
			"run `bash .ci/docker-engine.sh` (as root), or start Docker and check `docker info`")
	}
	if _, err := b.docker(ctx, "buildx", "version"); err == nil {
		b.progress = true
	}
	if b.opts.MinFreeBytes > 0 {
		root, err := b.docker(ctx, "info", "--format", "{{.DockerRootDir}}")
		if err == nil {
			var st syscall.Statfs_t
			if syscall.Statfs(strings.TrimSpace(string(root)), &st) == nil {
				free := int64(st.Bavail) * int64(st.Bsize)
				if free < b.opts.MinFreeBytes {
					return fail(fmt.Errorf("only %d MiB free in %s, need %d MiB", free>>20, strings.TrimSpace(string(root)), b.opts.MinFreeBytes>>20),
						"free disk space (e.g. `docker system prune`), or lower Options.MinFreeBytes")
				}
			}
		}
	}
	for _, s := range order {
		if len(s.GoTools) > 0 {
			if _, err := exec.LookPath("go"); err != nil {
				return &StepError{Image: s.Name, Step: "preflight", Err: fmt.Errorf("needs the go command to build %s: %v", strings.Join(s.GoTools, ", "), err)}
			}
		}
	}
	return nil
}

func (b *builder) one(ctx context.Context, s Spec, ids map[string]string) (r ImageResult) {
	t0 := time.Now()
	r = ImageResult{Name: s.Name, Tag: s.Tag}
	defer func() { r.Duration = time.Since(t0) }()
	failed := func(step string, err error, tail string) ImageResult {
		r.Status = StatusFailed
		r.Reason = step
		r.Err = &StepError{Image: s.Name, Step: step, Err: err, Tail: tail}
		return r
	}
	if err := ctx.Err(); err != nil {
		return failed("start", err, "")
	}

	in := Inputs{Parents: map[string]string{}, BuildArgs: b.argsFor(s), Extra: map[string]string{}}
	for _, d := range s.DependsOn {
		id, ok := ids[d]
		if !ok {
			return failed("dependencies", fmt.Errorf("dependency %s was not built", d), "")
		}
		if b.planned[d] {
			r.Status, r.Reason = StatusPlanned, "its dependency "+d+" would be rebuilt"
			return r
		}
		in.Parents[d] = id
	}
	if len(s.GoTools) > 0 {
		v, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output()
		if err != nil {
			return failed("go env", err, "")
		}
		in.Extra["go"] = strings.TrimSpace(string(v))
	}
	info, exists := b.inspect(ctx, s.Tag)
	force := b.opts.Force && (len(b.opts.Names) == 0 || contains(b.opts.Names, s.Name))
	// A recipe's packages, resolved against the archive (or, with NoRefresh,
	// as the existing image recorded them), are inputs like its files.
	var aptLabels map[string]string
	decide := func(recorded bool) (string, Action, string, error) {
		if len(s.Packages) > 0 {
			resolved, installed, err := b.packagesOf(ctx, s, ids, info, recorded)
			if err != nil {
				return "", "", "", err
			}
			in.BuildArgs[packagesArg] = joinPackages(resolved, ",")
			in.Extra["apt"] = joinPackages(installed, ",")
			aptLabels = map[string]string{LabelPackages: in.BuildArgs[packagesArg], LabelAptInstalled: in.Extra["apt"]}
		}
		hash, err := InputHash(s.Dir, in)
		if err != nil {
			return "", "", "", err
		}
		action, why := Decide(info.Config.Labels, exists, hash, force)
		return hash, action, why, nil
	}
	recorded := b.opts.NoRefresh && exists && info.Config.Labels[LabelAptInstalled] != ""
	hash, action, why, err := decide(recorded)
	if err == nil && recorded && action == ActionBuild {
		// The recorded versions are only trusted for an image that is kept.
		hash, action, why, err = decide(false)
	}
	if err != nil {
		return failed("apt resolve", err, "")
	}
	r.InputHash = hash
	if action == ActionSkip && s.Kind == KindBase && !b.opts.NoRefresh {
		st, err := b.aptState(ctx, info.ID)
		if err != nil {
			return failed("apt resolve", err, "")
		}
		if len(st.Upgrades) > 0 {
			action, why = ActionBuild, "the archive has newer packages: "+summarize(st.Upgrades, 3)
		}
	}
	r.Reason = why
	if action == ActionSkip {
		r.Status, r.ID, r.Size = StatusSkipped, info.ID, info.Size
		r.Packages = packagesFromLabels(info.Config.Labels, b.aptSpecs[s.Name])
		return r
	}
	if b.opts.DryRun {
		r.Status, r.ID = StatusPlanned, info.ID
		return r
	}
	b.event(Event{Image: s.Name, Step: "build: " + why, Elapsed: time.Since(t0)})

	if err := os.MkdirAll(b.opts.LogDir, 0o755); err != nil {
		return failed("log", err, "")
	}
	r.LogFile = filepath.Join(b.opts.LogDir, s.Name+".log")
	logf, err := os.Create(r.LogFile)
	if err != nil {
		return failed("log", err, "")
	}
	defer logf.Close()
	step := func(name string) { b.event(Event{Image: s.Name, Step: name, Elapsed: time.Since(t0)}) }

	ldflags := "-s -w"
	if extra, err := os.ReadFile(filepath.Join(s.Dir, "go.ldflags")); err == nil {
		ldflags += " " + strings.Join(strings.Fields(string(extra)), " ")
	}
	for _, tool := range s.GoTools {
		name := "go build " + tool
		step(name)
		out := filepath.Join(s.Dir, "bin", tool[strings.LastIndex(tool, "/")+1:])
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return failed(name, err, "")
		}
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags="+ldflags, "-o", out, tool)
		cmd.Dir = s.Dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false -mod=readonly")
		killGroupOnCancel(cmd)
		var tail tailBuffer
		cmd.Stdout = io.MultiWriter(logf, &tail)
		cmd.Stderr = cmd.Stdout
		if err := cmd.Run(); err != nil {
			return failed(name, err, tail.String())
		}
	}

	var cmd *exec.Cmd
	switch s.Kind {
	case KindBase:
		step("base recipe")
		cmd = exec.CommandContext(ctx, "bash", filepath.Join(s.Dir, "build.sh"))
		cmd.Dir = s.Dir
		cmd.Env = append(os.Environ(), "TAG="+s.Tag, "EXTRA_CHANGES=LABEL "+LabelInputHash+"="+hash)
		killGroupOnCancel(cmd)
		for _, k := range sortedKeys(in.BuildArgs) {
			cmd.Env = append(cmd.Env, k+"="+in.BuildArgs[k])
		}
	default:
		args := []string{"build", "--label", LabelInputHash + "=" + hash, "--tag", s.Tag}
		for _, k := range sortedKeys(aptLabels) {
			args = append(args, "--label", k+"="+aptLabels[k])
		}
		if b.progress {
			args = append(args, "--progress=plain")
		}
		if b.opts.NoCache {
			args = append(args, "--no-cache")
		}
		for _, k := range sortedKeys(in.BuildArgs) {
			args = append(args, "--build-arg", k+"="+in.BuildArgs[k])
		}
		args = append(args, s.Dir)
		cmd = exec.CommandContext(ctx, b.opts.Docker, args...)
		step("docker build")
	}
	// Follow the output: report each Dockerfile step (or recipe line) once,
	// keep the tail for errors.
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	var tail tailBuffer
	last := "docker build"
	if s.Kind == KindBase {
		last = "base recipe"
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		seen := map[string]bool{}
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			tail.WriteString(line + "\n")
			if st, ok := parseStep(line); ok && !seen[st] {
				seen[st] = true
				last = st
				step(st)
			}
		}
		io.Copy(io.Discard, pr)
	}()
	err = cmd.Run()
	pw.Close()
	<-done
	if err != nil {
		what := "docker build"
		if s.Kind == KindBase {
			what = "base recipe"
		}
		if last != what {
			what += " step " + last
		}
		return failed(what, err, tail.String())
	}

	info, ok := b.inspect(ctx, s.Tag)
	if !ok {
		return failed("inspect", fmt.Errorf("built, but %s is not in the image store", s.Tag), "")
	}
	if info.Config.Labels[LabelInputHash] != hash {
		return failed("inspect", fmt.Errorf("built %s lacks label %s=%s", s.Tag, LabelInputHash, hash), "")
	}
	r.Status, r.ID, r.Size = StatusBuilt, info.ID, info.Size
	r.Packages = packagesFromLabels(info.Config.Labels, b.aptSpecs[s.Name])
	return r
}

// packagesFor returns image s's PACKAGES value: a build argument given for it
// (Options.BuildArgs) or the Dockerfile's default.
func (b *builder) packagesFor(s Spec) string {
	if v, ok := b.argsFor(s)[packagesArg]; ok {
		return v
	}
	return strings.Join(specStrings(s.Packages), " ")
}

// packagesOf returns the exact versions image s's specs resolve to and
// everything apt installs with them: as the existing image recorded them
// (recorded), or resolved now in the base image s is built FROM.
func (b *builder) packagesOf(ctx context.Context, s Spec, ids map[string]string, info imageInfo, recorded bool) ([]Package, []Package, error) {
	if recorded {
		return parsePackageList(info.Config.Labels[LabelPackages]), parsePackageList(info.Config.Labels[LabelAptInstalled]), nil
	}
	baseID := ""
	for _, d := range s.DependsOn {
		if b.kinds[d] == KindBase {
			baseID = ids[d]
		}
	}
	if baseID == "" {
		return nil, nil, fmt.Errorf("its Dockerfile runs install-packages, which needs an image built FROM the base image (images/base)")
	}
	st, err := b.aptState(ctx, baseID)
	if err != nil {
		return nil, nil, err
	}
	im := st.Images[s.Name]
	if im == nil {
		return nil, nil, fmt.Errorf("no resolution came back for its %s", packagesArg)
	}
	if err := im.err(s, st.Suites); err != nil {
		return nil, nil, err
	}
	return im.Resolved, im.Installed, nil
}

// aptState asks the archive once per base image about every recipe of the run.
func (b *builder) aptState(ctx context.Context, baseID string) (*aptState, error) {
	if b.apt != nil && b.aptBase == baseID {
		return b.apt, nil
	}
	b.event(Event{Step: "apt: resolving package specs against the archive"})
	st, err := b.resolve(ctx, baseID, b.aptSpecs)
	if err != nil {
		return nil, err
	}
	b.apt, b.aptBase = &st, baseID
	return b.apt, nil
}

// packagesFromLabels lists what an image recorded it holds, marking the
// packages its recipe asked for.
func packagesFromLabels(labels map[string]string, specs []PackageSpec) []Package {
	pkgs := parsePackageList(labels[LabelAptInstalled])
	for i := range pkgs {
		for _, sp := range specs {
			if sp.Name == pkgs[i].Name {
				pkgs[i].Requested = sp.Version
				if pkgs[i].Requested == "" {
					pkgs[i].Requested = "*"
				}
			}
		}
	}
	return pkgs
}

// summarize shows the first n items and how many more there are.
func summarize(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s (+%d more)", strings.Join(items[:n], ", "), len(items)-n)
}

func specStrings(specs []PackageSpec) []string {
	out := make([]string, len(specs))
	for i, p := range specs {
		out[i] = p.String()
	}
	return out
}

// killGroupOnCancel makes cancelling the context stop the command's whole
// process group (debootstrap, the compiler, ...), not just its first process.
func killGroupOnCancel(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
}

// argsFor returns the build arguments that apply to image s.
func (b *builder) argsFor(s Spec) map[string]string {
	out := map[string]string{}
	for k, v := range b.opts.BuildArgs {
		if img, arg, ok := strings.Cut(k, ":"); ok {
			if img == s.Name {
				out[arg] = v
			}
			continue
		}
		if _, set := out[k]; !set {
			out[k] = v
		}
	}
	// A per-image value wins over a global one whatever the map order.
	for k, v := range b.opts.BuildArgs {
		if img, arg, ok := strings.Cut(k, ":"); ok && img == s.Name {
			out[arg] = v
		}
	}
	return out
}

type imageInfo struct {
	ID     string `json:"Id"`
	Size   int64  `json:"Size"`
	Config struct {
		Labels map[string]string `json:"Labels"`
	} `json:"Config"`
}

func (b *builder) inspect(ctx context.Context, ref string) (imageInfo, bool) {
	out, err := b.docker(ctx, "image", "inspect", "--format", "{{json .}}", ref)
	if err != nil {
		return imageInfo{}, false
	}
	var info imageInfo
	if json.Unmarshal(out, &info) != nil || info.ID == "" {
		return imageInfo{}, false
	}
	return info, true
}

func (b *builder) docker(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, b.opts.Docker, args...)
	var buf bytes.Buffer
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	err := cmd.Run()
	return buf.Bytes(), err
}

var (
	// BuildKit plain progress: "#7 [3/6] RUN install-packages ..."
	buildkitStep = regexp.MustCompile(`^#\d+ (\[[^\]]*\d+/\d+\] .*)$`)
	// Classic builder: "Step 3/6 : RUN install-packages ..."
	classicStep = regexp.MustCompile(`^Step (\d+/\d+ : .*)$`)
	// The base recipe: "base: debootstrap ..."
	recipeStep = regexp.MustCompile(`^base: (.*)$`)
)

// parseStep recognises the line that starts a build step and returns a short
// description of it.
func parseStep(line string) (string, bool) {
	for _, re := range []*regexp.Regexp{buildkitStep, classicStep, recipeStep} {
		if m := re.FindStringSubmatch(line); m != nil {
			st := strings.Join(strings.Fields(m[1]), " ")
			if len(st) > 100 {
				st = st[:97] + "..."
			}
			return st, true
		}
	}
	return "", false
}

// defaultDir finds images/ beside the nearest go.mod above the working directory.
func defaultDir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			if fi, err := os.Stat(filepath.Join(d, "images")); err == nil && fi.IsDir() {
				return filepath.Join(d, "images"), nil
			}
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no images/ directory beside a go.mod above %s; set Options.Dir", wd)
		}
		d = parent
	}
}

// tailBuffer keeps the last lines written to it.
type tailBuffer struct {
	mu    sync.Mutex
	lines []string
	part  string
}

const tailLines = 25

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.WriteString(string(p))
	return len(p), nil
}

func (t *tailBuffer) WriteString(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s = t.part + s
	parts := strings.Split(s, "\n")
	t.part = parts[len(parts)-1]
	for _, l := range parts[:len(parts)-1] {
		t.lines = append(t.lines, l)
	}
	if n := len(t.lines); n > tailLines {
		t.lines = append(t.lines[:0], t.lines[n-tailLines:]...)
	}
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := t.lines
	if t.part != "" {
		lines = append(append([]string(nil), lines...), t.part)
	}
	return strings.Join(lines, "\n")
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = prefix + lines[i]
	}
	return strings.Join(lines, "\n")
}

// FormatSize renders a byte count as MB (10^6), as docker does.
func FormatSize(n int64) string {
	return strconv.FormatFloat(float64(n)/1e6, 'f', 0, 64) + " MB"
}
