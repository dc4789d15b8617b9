package images

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func write(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// imagesDir lays out a small images directory: base, and three images on it
// (one multi-stage, one on another image), plus a directory that is no image.
func imagesDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	write(t, filepath.Join(d, "base/TAG"), "statex/debian:trixie\n", 0o644)
	write(t, filepath.Join(d, "base/build.sh"), "#!/bin/sh\n", 0o755)
	write(t, filepath.Join(d, "redis/TAG"), "statex/redis:8.0", 0o644)
	write(t, filepath.Join(d, "redis/Dockerfile"), "FROM statex/debian:trixie\nRUN true\n", 0o644)
	write(t, filepath.Join(d, "app/TAG"), "statex/app:1", 0o644)
	write(t, filepath.Join(d, "app/Dockerfile"), "# a comment\nFROM --platform=linux/amd64 statex/redis:8.0 AS b\nfrom statex/debian:trixie\nCOPY --from=b /x /x\n", 0o644)
	write(t, filepath.Join(d, "jaeger/TAG"), "statex/jaeger:1.76.0", 0o644)
	write(t, filepath.Join(d, "jaeger/Dockerfile"), "FROM statex/debian:trixie\nCOPY bin/jaeger /usr/bin/\n", 0o644)
	write(t, filepath.Join(d, "jaeger/go.mod"), "module x\n\ngo 1.26.0\n\ntool github.com/jaegertracing/jaeger/cmd/jaeger // the all-in-one\n", 0o644)
	write(t, filepath.Join(d, "notes/README.md"), "not an image", 0o644)
	return d
}

func TestDiscover(t *testing.T) {
	specs, err := Discover(imagesDir(t))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Spec{}
	var names []string
	for _, s := range specs {
		got[s.Name] = s
		names = append(names, s.Name)
	}
	if want := []string{"app", "base", "jaeger", "redis"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("names = %v, want %v", names, want)
	}
	if got["base"].Kind != KindBase || got["redis"].Kind != KindDockerfile {
		t.Errorf("kinds: base %s, redis %s", got["base"].Kind, got["redis"].Kind)
	}
	if d := got["app"].DependsOn; !reflect.DeepEqual(d, []string{"base", "redis"}) {
		t.Errorf("app depends on %v", d)
	}
	if d := got["base"].DependsOn; len(d) != 0 {
		t.Errorf("base depends on %v", d)
	}
	if g := got["jaeger"].GoTools; !reflect.DeepEqual(g, []string{"github.com/jaegertracing/jaeger/cmd/jaeger"}) {
		t.Errorf("jaeger tools = %v", g)
	}
	if got["redis"].Tag != "statex/redis:8.0" {
		t.Errorf("redis tag = %q", got["redis"].Tag)
	}
}

func TestDiscoverRejectsDuplicateTags(t *testing.T) {
	d := imagesDir(t)
	write(t, filepath.Join(d, "redis2/TAG"), "statex/redis:8.0", 0o644)
	write(t, filepath.Join(d, "redis2/Dockerfile"), "FROM scratch\n", 0o644)
	if _, err := Discover(d); err == nil || !strings.Contains(err.Error(), "both have tag") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseGoToolsBlock(t *testing.T) {
	got := parseGoTools([]byte("module m\ntool (\n\ta/b/c\n\t// skip\n\td/e\n)\nrequire x v1\n"))
	if want := []string{"a/b/c", "d/e"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func names(specs []Spec) []string {
	var out []string
	for _, s := range specs {
		out = append(out, s.Name)
	}
	return out
}

func TestOrder(t *testing.T) {
	specs, err := Discover(imagesDir(t))
	if err != nil {
		t.Fatal(err)
	}
	all, err := Order(specs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(all), []string{"base", "redis", "app", "jaeger"}; !reflect.DeepEqual(got, want) {
		t.Errorf("all: %v, want %v", got, want)
	}
	some, err := Order(specs, []string{"app"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(some), []string{"base", "redis", "app"}; !reflect.DeepEqual(got, want) {
		t.Errorf("app: %v, want %v", got, want)
	}
	// Stable whatever the order of the input.
	rev := append([]Spec(nil), specs...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	again, _ := Order(rev, nil)
	if !reflect.DeepEqual(names(again), names(all)) {
		t.Errorf("order depends on input order: %v vs %v", names(again), names(all))
	}
	if _, err := Order(specs, []string{"nope"}); err == nil || !strings.Contains(err.Error(), `unknown image "nope"`) {
		t.Errorf("unknown: %v", err)
	}
}

func TestOrderCycle(t *testing.T) {
	specs := []Spec{{Name: "a", DependsOn: []string{"b"}}, {Name: "b", DependsOn: []string{"a"}}}
	if _, err := Order(specs, nil); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("err = %v", err)
	}
}

func TestInputHashStable(t *testing.T) {
	d := imagesDir(t)
	dir := filepath.Join(d, "jaeger")
	in := Inputs{Parents: map[string]string{"base": "sha256:1"}, BuildArgs: map[string]string{"A": "1", "B": "2"}, Extra: map[string]string{"go": "go1.26.8"}}
	h1, err := InputHash(dir, in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h1, "sha256:") || len(h1) != len("sha256:")+64 {
		t.Fatalf("hash %q", h1)
	}
	// Same inputs built in another order, a build output and editor debris: same hash.
	in2 := Inputs{Extra: map[string]string{"go": "go1.26.8"}, BuildArgs: map[string]string{"B": "2", "A": "1"}, Parents: map[string]string{"base": "sha256:1"}}
	write(t, filepath.Join(dir, "bin/jaeger"), "ELF...", 0o755)
	write(t, filepath.Join(dir, "Dockerfile~"), "old", 0o644)
	write(t, filepath.Join(dir, "README.md"), "docs", 0o644)
	if h2, _ := InputHash(dir, in2); h2 != h1 {
		t.Errorf("hash changed with map order or ignored files: %s vs %s", h2, h1)
	}
	// A copy of the directory elsewhere hashes the same (paths are relative).
	cp := filepath.Join(t.TempDir(), "elsewhere")
	for _, f := range []string{"TAG", "Dockerfile", "go.mod"} {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		write(t, filepath.Join(cp, f), string(b), 0o644)
	}
	if h3, _ := InputHash(cp, in); h3 != h1 {
		t.Errorf("hash depends on location: %s vs %s", h3, h1)
	}

	changes := map[string]func(){
		"file content": func() { write(t, filepath.Join(dir, "Dockerfile"), "FROM statex/debian:trixie\nRUN false\n", 0o644) },
		"new file":     func() { write(t, filepath.Join(dir, "conf/x.conf"), "x", 0o644) },
		"exec bit":     func() { write(t, filepath.Join(dir, "conf/x.conf"), "x", 0o755) },
	}
	prev := h1
	for _, name := range []string{"file content", "new file", "exec bit"} {
		changes[name]()
		h, err := InputHash(dir, in)
		if err != nil {
			t.Fatal(err)
		}
		if h == prev {
			t.Errorf("%s: hash unchanged", name)
		}
		prev = h
	}
	for name, in3 := range map[string]Inputs{
		"parent id": {Parents: map[string]string{"base": "sha256:2"}, BuildArgs: in.BuildArgs, Extra: in.Extra},
		"build arg": {Parents: in.Parents, BuildArgs: map[string]string{"A": "1", "B": "3"}, Extra: in.Extra},
		"go":        {Parents: in.Parents, BuildArgs: in.BuildArgs, Extra: map[string]string{"go": "go1.27"}},
	} {
		if h, _ := InputHash(dir, in3); h == prev {
			t.Errorf("%s: hash unchanged", name)
		}
	}
}

func TestDecide(t *testing.T) {
	const h = "sha256:abc"
	cases := []struct {
		name   string
		labels map[string]string
		exists bool
		force  bool
		want   Action
	}{
		{"missing", nil, false, false, ActionBuild},
		{"no label", map[string]string{"x": "y"}, true, false, ActionBuild},
		{"other hash", map[string]string{LabelInputHash: "sha256:def"}, true, false, ActionBuild},
		{"same hash", map[string]string{LabelInputHash: h}, true, false, ActionSkip},
		{"same hash forced", map[string]string{LabelInputHash: h}, true, true, ActionBuild},
	}
	for _, c := range cases {
		if got, why := Decide(c.labels, c.exists, h, c.force); got != c.want || why == "" {
			t.Errorf("%s: %s (%q), want %s", c.name, got, why, c.want)
		}
	}
}

func TestParseStep(t *testing.T) {
	cases := map[string]string{
		"#7 [2/5] RUN install-packages   redis-server": "[2/5] RUN install-packages redis-server",
		"#5 [internal] load metadata":                  "",
		"#7 DONE 3.1s":                                 "",
		"Step 3/6 : COPY a b":                          "3/6 : COPY a b",
		"base: debootstrap --variant=minbase trixie":   "debootstrap --variant=minbase trixie",
		"#9 [stage-1 3/4] COPY --from=b /x /x":         "[stage-1 3/4] COPY --from=b /x /x",
	}
	for line, want := range cases {
		got, ok := parseStep(line)
		if ok != (want != "") || got != want {
			t.Errorf("parseStep(%q) = %q, %v; want %q", line, got, ok, want)
		}
	}
}

func TestArgsFor(t *testing.T) {
	b := &builder{opts: Options{BuildArgs: map[string]string{"A": "all", "redis:A": "mine", "postgres:B": "theirs"}}}
	if got := b.argsFor(Spec{Name: "redis"}); !reflect.DeepEqual(got, map[string]string{"A": "mine"}) {
		t.Errorf("redis: %v", got)
	}
	if got := b.argsFor(Spec{Name: "x"}); !reflect.DeepEqual(got, map[string]string{"A": "all"}) {
		t.Errorf("x: %v", got)
	}
}

func TestTailBuffer(t *testing.T) {
	var tb tailBuffer
	for i := 0; i < 40; i++ {
		tb.WriteString(strings.Repeat("x", i%3) + "\n")
	}
	tb.WriteString("partial")
	lines := strings.Split(tb.String(), "\n")
	if len(lines) != tailLines+1 || lines[len(lines)-1] != "partial" {
		t.Errorf("%d lines, last %q", len(lines), lines[len(lines)-1])
	}
}

// With no daemon the error names the step and says how to fix it, before
// anything is built.
func TestBuildNoDaemon(t *testing.T) {
	d := imagesDir(t)
	res, err := Build(context.Background(), Options{Dir: d, Names: []string{"redis"}, Docker: filepath.Join(t.TempDir(), "no-docker")})
	var se *StepError
	if !errors.As(err, &se) || se.Step != "preflight" || !strings.Contains(err.Error(), "docker-engine.sh") {
		t.Fatalf("err = %v", err)
	}
	if len(res.Images) != 2 || res.Images[1].Name != "redis" || res.Images[1].Status != StatusFailed {
		t.Fatalf("results = %+v", res.Images)
	}
}

// A fake docker CLI: the base is up to date, redis is built.
func TestBuildWithFakeDocker(t *testing.T) {
	d := imagesDir(t)
	bin := t.TempDir()
	state := t.TempDir()
	baseHash, err := InputHash(filepath.Join(d, "base"), Inputs{Parents: map[string]string{}, BuildArgs: map[string]string{}, Extra: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	fake := `#!/bin/sh
state=` + state + `
case "$1" in
  version) echo 26.1.5; exit 0 ;;
  buildx) exit 0 ;;
  info) echo /nonexistent; exit 0 ;;
  image)
    ref="$5"
    case "$ref" in
      statex/debian:trixie) echo '{"Id":"sha256:base","Size":110000000,"Config":{"Labels":{"` + LabelInputHash + `":"` + baseHash + `"}}}' ;;
      *) [ -f "$state/built" ] || { echo "No such image: $ref" >&2; exit 1; }
         echo '{"Id":"sha256:redis","Size":119000000,"Config":{"Labels":{"` + LabelInputHash + `":"'"$(cat $state/built)"'"}}}' ;;
    esac ;;
  build)
    echo "#1 [internal] load build definition"
    echo "#5 [1/2] FROM statex/debian:trixie"
    echo "#6 [2/2] RUN true"
    # record the label value passed
    while [ $# -gt 0 ]; do [ "$1" = --label ] && echo "${2#*=}" > "$state/built"; shift; done ;;
esac
`
	write(t, filepath.Join(bin, "docker"), fake, 0o755)
	var events []Event
	res, err := Build(context.Background(), Options{Dir: d, Names: []string{"redis"}, Docker: filepath.Join(bin, "docker"),
		LogDir: t.TempDir(), Progress: func(e Event) { events = append(events, e) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Images) != 2 || res.Images[0].Status != StatusSkipped || res.Images[1].Status != StatusBuilt {
		t.Fatalf("results = %+v", res.Images)
	}
	if res.Images[1].Size != 119000000 || res.Images[1].ID != "sha256:redis" {
		t.Errorf("redis result = %+v", res.Images[1])
	}
	var steps []string
	for _, e := range events {
		if e.Image == "redis" {
			steps = append(steps, e.Step)
		}
	}
	if want := "[2/2] RUN true"; !contains(steps, want) {
		t.Errorf("steps %q lack %q", steps, want)
	}
	// Second run: both skipped.
	res, err = Build(context.Background(), Options{Dir: d, Names: []string{"redis"}, Docker: filepath.Join(bin, "docker"), LogDir: t.TempDir()})
	if err != nil || res.Images[1].Status != StatusSkipped {
		t.Fatalf("rebuild: %v %+v", err, res.Images)
	}
}

// A failing Dockerfile step is named in the error, with the output's tail;
// images depending on the failed one are not attempted.
func TestBuildFailureNamesImageAndStep(t *testing.T) {
	d := imagesDir(t)
	bin := t.TempDir()
	fake := `#!/bin/sh
case "$1" in
  version) echo 26.1.5 ;;
  buildx) exit 0 ;;
  info) echo /nonexistent ;;
  image) echo "No such image" >&2; exit 1 ;;
  build)
    case "$*" in
      *statex/debian:trixie*) echo "#6 [2/2] RUN install-packages redis-server"; echo "E: Unable to locate package redis-server"; exit 1 ;;
    esac ;;
esac
`
	write(t, filepath.Join(bin, "docker"), fake, 0o755)
	write(t, filepath.Join(d, "base/build.sh"), "#!/bin/sh\necho 'base: debootstrap'\necho 'E: no space left on device'\nexit 1\n", 0o755)
	res, err := Build(context.Background(), Options{Dir: d, Names: []string{"app"}, Docker: filepath.Join(bin, "docker"), LogDir: t.TempDir()})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{"image base: base recipe step debootstrap", "no space left on device", "image redis: dependencies: dependency base was not built"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if n := len(res.Failed()); n != 3 {
		t.Errorf("%d failed, want 3: %+v", n, res.Images)
	}
	// The one-line account never folds failures into "up to date" (it said
	// "0 built, 26 up to date" with 3 failed).
	if got, want := res.Summary(), "0 built, 0 up to date, 3 failed"; got != want {
		t.Errorf("Summary() = %q, want %q", got, want)
	}
}

func TestResultSummary(t *testing.T) {
	r := Result{Images: []ImageResult{{Status: StatusBuilt}, {Status: StatusSkipped}, {Status: StatusSkipped}, {Status: StatusFailed}}}
	if got, want := r.Summary(), "1 built, 2 up to date, 1 failed"; got != want {
		t.Errorf("Summary() = %q, want %q", got, want)
	}
	r = Result{Images: []ImageResult{{Status: StatusPlanned}, {Status: StatusSkipped}}}
	if got, want := r.Summary(), "0 built, 1 would build, 1 up to date"; got != want {
		t.Errorf("dry run: Summary() = %q, want %q", got, want)
	}
}

// Cancelling the context stops the whole recipe, grandchildren included.
func TestBuildCancelStopsRecipe(t *testing.T) {
	d := imagesDir(t)
	bin := t.TempDir()
	write(t, filepath.Join(bin, "docker"), "#!/bin/sh\ncase \"$1\" in version) echo 26;; buildx) ;; info) echo /nonexistent;; *) exit 1;; esac\n", 0o755)
	pidFile := filepath.Join(t.TempDir(), "pid")
	write(t, filepath.Join(d, "base/build.sh"), "#!/bin/sh\necho 'base: debootstrap'\nsh -c 'echo $$ > "+pidFile+"; exec sleep 60'\n", 0o755)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for i := 0; i < 100; i++ {
			if _, err := os.Stat(pidFile); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		cancel()
	}()
	t0 := time.Now()
	_, err := Build(ctx, Options{Dir: d, Names: []string{"base"}, Docker: filepath.Join(bin, "docker"), LogDir: t.TempDir()})
	if err == nil {
		t.Fatal("no error after cancel")
	}
	if el := time.Since(t0); el > 15*time.Second {
		t.Errorf("Build returned after %s", el)
	}
	b, _ := os.ReadFile(pidFile)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid > 0 && !gone(pid, 3*time.Second) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("grandchild %d still running after cancel", pid)
	}
}

// gone reports whether process pid has exited (or is a zombie) within d.
func gone(pid int, d time.Duration) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
		if err != nil {
			return true
		}
		// pid (comm) STATE ...
		if i := strings.LastIndexByte(string(b), ')'); i > 0 && i+2 < len(b) && b[i+2] == 'Z' {
			return true
		}
	}
	return false
}
