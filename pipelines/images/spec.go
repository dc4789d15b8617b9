package images

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Kind says how an image is made.
type Kind string

const (
	// KindBase is a root file system from a recipe (build.sh), imported with docker import.
	KindBase Kind = "base"
	// KindDockerfile is a docker build of the image's directory.
	KindDockerfile Kind = "dockerfile"
)

// Spec describes one image found in the images directory.
type Spec struct {
	Name      string   // directory name, e.g. "redis"
	Tag       string   // image reference from the TAG file, e.g. "statex/redis:8.0"
	Dir       string   // absolute directory
	Kind      Kind     // base or dockerfile
	DependsOn []string // names of the images this one is built FROM or lists in DEPENDS
	GoTools   []string // Go packages named by `tool` lines of the directory's go.mod
	// Packages are the Debian package specs of a Dockerfile that runs
	// install-packages: the default of its ARG PACKAGES (see apt.go).
	Packages []PackageSpec
}

// Discover reads the image specs in dir (one per subdirectory holding a TAG
// file), sorted by name, with DependsOn filled from the Dockerfiles' FROM lines.
func Discover(dir string) ([]Spec, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(abs)
	if err != nil {
		return nil, fmt.Errorf("images: reading %s: %w", dir, err)
	}
	var specs []Spec
	byTag := map[string]string{}
	froms := map[string][]string{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		d := filepath.Join(abs, e.Name())
		tagb, err := os.ReadFile(filepath.Join(d, "TAG"))
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("images: %s: %w", e.Name(), err)
		}
		s := Spec{Name: e.Name(), Tag: strings.TrimSpace(string(tagb)), Dir: d}
		if s.Tag == "" || strings.ContainsAny(s.Tag, " \t\n") {
			return nil, fmt.Errorf("images: %s: TAG must hold one image reference, got %q", s.Name, string(tagb))
		}
		if other, dup := byTag[s.Tag]; dup {
			return nil, fmt.Errorf("images: %s and %s both have tag %s", other, s.Name, s.Tag)
		}
		byTag[s.Tag] = s.Name
		df, err := os.ReadFile(filepath.Join(d, "Dockerfile"))
		switch {
		case err == nil:
			s.Kind = KindDockerfile
			froms[s.Name] = parseFroms(df)
			if s.Packages, err = parseInstallPackages(df); err != nil {
				return nil, fmt.Errorf("images: %s/Dockerfile: %w", s.Name, err)
			}
		case errors.Is(err, os.ErrNotExist):
			if _, err := os.Stat(filepath.Join(d, "build.sh")); err != nil {
				return nil, fmt.Errorf("images: %s: neither Dockerfile nor build.sh", s.Name)
			}
			s.Kind = KindBase
		default:
			return nil, fmt.Errorf("images: %s: %w", s.Name, err)
		}
		if gm, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil {
			s.GoTools = parseGoTools(gm)
		}
		// DEPENDS names images a recipe uses without a FROM line (the kind
		// node image imports a dozen component images into its containerd).
		if deps, err := os.ReadFile(filepath.Join(d, "DEPENDS")); err == nil {
			s.DependsOn = parseDepends(deps)
		}
		specs = append(specs, s)
	}
	names := map[string]bool{}
	for _, s := range specs {
		names[s.Name] = true
	}
	for _, s := range specs {
		for _, dep := range s.DependsOn {
			if !names[dep] {
				return nil, fmt.Errorf("images: %s/DEPENDS names %q, which is no image directory under %s", s.Name, dep, dir)
			}
		}
	}
	for i := range specs {
		for _, f := range froms[specs[i].Name] {
			if dep, ok := byTag[f]; ok && dep != specs[i].Name && !contains(specs[i].DependsOn, dep) {
				specs[i].DependsOn = append(specs[i].DependsOn, dep)
			}
		}
		sort.Strings(specs[i].DependsOn)
	}
	return specs, nil
}

// installPackagesCall is a call of the base image's install-packages helper
// and what follows it up to the end of its shell command.
var installPackagesCall = regexp.MustCompile(`install-packages([^&;\\\n]*)`)

// parseInstallPackages returns the package specs a Dockerfile installs. Every
// install-packages call must take exactly the PACKAGES argument: packages
// named anywhere else would escape resolution, labels and the input hash.
func parseInstallPackages(dockerfile []byte) ([]PackageSpec, error) {
	var code bytes.Buffer
	for _, line := range strings.Split(string(dockerfile), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			code.WriteString(line + "\n")
		}
	}
	calls := installPackagesCall.FindAllSubmatch(code.Bytes(), -1)
	if len(calls) == 0 {
		return nil, nil
	}
	for _, c := range calls {
		if a := strings.TrimSpace(string(c[1])); a != `"${PACKAGES}"` && a != "${PACKAGES}" {
			return nil, fmt.Errorf("install-packages %s: install only \"${PACKAGES}\" and list every package in ARG PACKAGES, so it is resolved, recorded and hashed", a)
		}
	}
	v, ok := dockerfileArg(dockerfile, packagesArg)
	if !ok || strings.TrimSpace(v) == "" {
		return nil, fmt.Errorf("runs install-packages but has no ARG %s=... with the package specs", packagesArg)
	}
	return ParsePackageSpecs(v), nil
}

// parseFroms returns the image references of a Dockerfile's FROM lines
// (stage names and --platform flags dropped; references to earlier stages kept,
// they simply match no image).
func parseFroms(dockerfile []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(dockerfile))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || !strings.EqualFold(f[0], "FROM") {
			continue
		}
		for _, w := range f[1:] {
			if strings.HasPrefix(w, "--") {
				continue
			}
			out = append(out, w)
			break
		}
	}
	return out
}

// parseDepends returns the image names of a DEPENDS file: one a line,
// '#' comments and blank lines ignored.
func parseDepends(data []byte) []string {
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		if name := strings.TrimSpace(line); name != "" && !contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// parseGoTools returns the packages named by `tool` directives in a go.mod.
func parseGoTools(gomod []byte) []string {
	var out []string
	inBlock := false
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case inBlock && f[0] == ")":
			inBlock = false
		case inBlock:
			out = append(out, f[0])
		case f[0] == "tool" && len(f) >= 2 && f[1] == "(":
			inBlock = true
		case f[0] == "tool" && len(f) == 2:
			out = append(out, f[1])
		}
	}
	return out
}

// Order returns the specs named (all when names is empty) plus everything they
// depend on, dependencies first; ties are broken by name so the order is stable.
func Order(specs []Spec, names []string) ([]Spec, error) {
	byName := map[string]Spec{}
	for _, s := range specs {
		byName[s.Name] = s
	}
	want := names
	if len(want) == 0 {
		for _, s := range specs {
			want = append(want, s.Name)
		}
	}
	sort.Strings(want)
	const (
		visiting = 1
		done     = 2
	)
	state := map[string]int{}
	var out []Spec
	var visit func(name string, path []string) error
	visit = func(name string, path []string) error {
		s, ok := byName[name]
		if !ok {
			if len(path) == 0 {
				return fmt.Errorf("images: unknown image %q (known: %s)", name, strings.Join(sortedKeys(byName), ", "))
			}
			return fmt.Errorf("images: %s depends on unknown image %q", path[len(path)-1], name)
		}
		switch state[name] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("images: dependency cycle: %s -> %s", strings.Join(path, " -> "), name)
		}
		state[name] = visiting
		for _, d := range s.DependsOn {
			if err := visit(d, append(path, name)); err != nil {
				return err
			}
		}
		state[name] = done
		out = append(out, s)
		return nil
	}
	for _, n := range want {
		if err := visit(n, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
