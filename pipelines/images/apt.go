package images

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"sort"
	"strings"
)

// The Debian package policy.
//
// The archive keeps only the newest version of each package in a suite: a
// point or security release removes the one before it, so an exact pin
// (roundcube=1.6.21+dfsg-0+deb13u1) stops resolving the day its successor is
// published, and a cached image built from it never gets the fix. Recipes
// therefore pin the upstream series they are written for (roundcube=1.6.*,
// or nothing for data packages such as ca-certificates) and the suite
// (trixie, trixie-updates, trixie-security) picks the newest version in it.
//
// Before deciding what to build, Build resolves every recipe's specs against
// the archive as it is now, in one container of the base image: the exact
// versions each spec resolves to and everything apt would install with them.
// That list is part of the image's input hash, so an image whose archive moved
// is rebuilt, and it is recorded on the image (labels statex.io/packages and
// statex.io/apt-installed) and in the result. The base image is rebuilt when
// any of its own packages has a newer version in the archive.

//go:embed resolve.sh
var resolveScript string

const (
	// LabelPackages holds the exact versions the recipe's specs resolved to.
	LabelPackages = "statex.io/packages"
	// LabelAptInstalled holds every package apt installed over the base
	// (base: every package of the image), as PKG=VERSION,...
	LabelAptInstalled = "statex.io/apt-installed"
	// aptVolume keeps apt's lists and the last resolution between runs.
	aptVolume = "statex-apt"
	// packagesArg is the Dockerfile ARG holding a recipe's package specs.
	packagesArg = "PACKAGES"
)

// PackageSpec is one entry of a recipe's PACKAGES: a Debian package and the
// version glob it accepts ("" = whatever the suite's candidate is).
type PackageSpec struct {
	Name    string
	Version string
}

func (p PackageSpec) String() string {
	if p.Version == "" {
		return p.Name
	}
	return p.Name + "=" + p.Version
}

// Package is a package at the exact version an image holds.
type Package struct {
	Name      string `json:"name"`
	Version   string `json:"version"`
	Requested string `json:"requested,omitempty"` // the spec's glob, for packages the recipe names
}

// ParsePackageSpecs splits a PACKAGES value (comma- or space-separated
// PKG[=GLOB] entries, as install-packages takes them).
func ParsePackageSpecs(value string) []PackageSpec {
	var out []PackageSpec
	for _, f := range strings.FieldsFunc(value, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		name, version, _ := strings.Cut(f, "=")
		out = append(out, PackageSpec{Name: name, Version: version})
	}
	return out
}

// ExactPin reports why a spec is a pin that a Debian point or security
// release can invalidate ("" when it is not): a version with no glob, or a
// glob that fixes the Debian revision.
func ExactPin(p PackageSpec) string {
	switch {
	case p.Version == "":
		return ""
	case !strings.Contains(p.Version, "*"):
		return "an exact version leaves the mirror when Debian publishes the next point or security release"
	case strings.ContainsAny(p.Version[:strings.Index(p.Version, "*")], "-~") || strings.Contains(p.Version, "deb"):
		return "the glob fixes the Debian revision, which a security release changes"
	}
	return ""
}

// dockerfileArg returns the default value of `ARG name=...` in a Dockerfile
// (quotes removed, backslash continuations joined), and whether it is there.
func dockerfileArg(dockerfile []byte, name string) (string, bool) {
	var logical []string
	var cur strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(dockerfile))
	for sc.Scan() {
		line := sc.Text()
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "#") && cur.Len() == 0 {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\"))
			cur.WriteByte(' ')
			continue
		}
		cur.WriteString(line)
		logical = append(logical, cur.String())
		cur.Reset()
	}
	for _, l := range logical {
		f := strings.Fields(l)
		if len(f) < 2 || !strings.EqualFold(f[0], "ARG") {
			continue
		}
		rest := strings.TrimSpace(l[strings.Index(l, f[0])+len(f[0]):])
		k, v, ok := strings.Cut(rest, "=")
		if !ok || strings.TrimSpace(k) != name {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		return strings.Join(strings.Fields(v), " "), true
	}
	return "", false
}

// aptImage is what the archive offers one recipe.
type aptImage struct {
	Resolved  []Package        // the recipe's specs at exact versions, in spec order
	Installed []Package        // everything apt would install over the base, sorted
	Missing   []missingPackage // specs nothing in the archive matches
	SimFail   []string         // apt's complaint when it cannot plan the install
}

// missingPackage is a spec no version in the archive matches.
type missingPackage struct {
	Name, Wanted string
	Offers       []string // versions the archive has ("none")
}

// seriesOf suggests the upstream-series pin for a version: 1:2.4.1+dfsg-6 → 2.4.*.
func seriesOf(version string) string {
	v := version
	if i := strings.IndexByte(v, ':'); i >= 0 {
		v = v[i+1:]
	}
	if i := strings.IndexAny(v, "-+~*"); i >= 0 {
		v = v[:i]
	}
	parts := strings.Split(v, ".")
	if len(parts) > 2 {
		parts = parts[:2]
	}
	return strings.Join(parts, ".") + ".*"
}

// aptState is one resolution against the archive.
type aptState struct {
	Suites       []string
	Upgrades     []string // base packages with newer versions: "pkg old → new"
	Images       map[string]*aptImage
	UpdateFailed string
}

// resolveArgs turns the recipes' specs into resolve.sh's arguments.
func resolveArgs(specs map[string][]PackageSpec) []string {
	var args []string
	for _, name := range sortedKeys(specs) {
		words := []string{name}
		for _, p := range specs[name] {
			words = append(words, p.String())
		}
		args = append(args, strings.Join(words, " "))
	}
	return args
}

// parseResolution reads resolve.sh's output.
func parseResolution(out []byte, specs map[string][]PackageSpec) aptState {
	st := aptState{Images: map[string]*aptImage{}}
	img := func(name string) *aptImage {
		if st.Images[name] == nil {
			st.Images[name] = &aptImage{}
		}
		return st.Images[name]
	}
	for name := range specs {
		img(name)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		kind, rest, _ := strings.Cut(sc.Text(), " ")
		f := strings.Fields(rest)
		switch {
		case kind == "SUITES":
			st.Suites = f
		case kind == "UPDATE-FAILED":
			st.UpdateFailed = strings.TrimSpace(rest)
		case kind == "UPGRADE-FAILED":
			st.Upgrades = append(st.Upgrades, "apt cannot plan an upgrade: "+strings.TrimSpace(rest))
		case kind == "UPGRADE" && len(f) == 3:
			st.Upgrades = append(st.Upgrades, f[0]+" "+f[1]+" → "+f[2])
		case kind == "RESOLVED" && len(f) == 3:
			p := Package{Name: f[1], Version: f[2]}
			for _, s := range specs[f[0]] {
				if s.Name == p.Name {
					p.Requested = s.Version
					if p.Requested == "" {
						p.Requested = "*"
					}
				}
			}
			img(f[0]).Resolved = append(img(f[0]).Resolved, p)
		case kind == "MISSING" && len(f) == 4:
			img(f[0]).Missing = append(img(f[0]).Missing, missingPackage{Name: f[1], Wanted: f[2], Offers: strings.Split(f[3], ",")})
		case kind == "INSTALL" && len(f) == 3:
			img(f[0]).Installed = append(img(f[0]).Installed, Package{Name: f[1], Version: f[2]})
		case kind == "SIMFAIL" && len(f) >= 1:
			img(f[0]).SimFail = append(img(f[0]).SimFail, strings.TrimSpace(strings.TrimPrefix(rest, f[0])))
		}
	}
	for _, im := range st.Images {
		sort.Slice(im.Installed, func(i, j int) bool { return im.Installed[i].Name < im.Installed[j].Name })
	}
	return st
}

// resolve runs resolve.sh in a container of baseRef for the given recipes.
func (b *builder) resolve(ctx context.Context, baseRef string, specs map[string][]PackageSpec) (aptState, error) {
	args := append([]string{"run", "--rm", "--volume", aptVolume + ":/var/lib/statex-apt", "--env", "STATEX_BASE=" + baseRef,
		"--entrypoint", "sh", baseRef, "-c", resolveScript, "resolve"}, resolveArgs(specs)...)
	out, err := b.docker(ctx, args...)
	if err != nil {
		return aptState{}, fmt.Errorf("resolving packages in %s: %v: %s", baseRef, err, lastLines(out, 5))
	}
	st := parseResolution(out, specs)
	if st.UpdateFailed != "" {
		return st, fmt.Errorf("apt-get update failed in %s: %s. Fix: check that the Debian mirror is reachable from containers, or pass --refresh=false to keep the package versions recorded in existing images", baseRef, st.UpdateFailed)
	}
	return st, nil
}

// err explains why an image's specs cannot be built, naming the recipe file.
func (im *aptImage) err(s Spec, suites []string) error {
	where := "the archive"
	if len(suites) > 0 {
		where += " (" + strings.Join(suites, ", ") + ")"
	}
	switch {
	case len(im.Missing) > 0:
		var lines, fixes []string
		for _, m := range im.Missing {
			lines = append(lines, fmt.Sprintf("package %s wants version %s, which is not in %s; it offers %s", m.Name, m.Wanted, where, strings.Join(m.Offers, ", ")))
			fixes = append(fixes, m.Name+"="+seriesOf(m.Wanted))
		}
		return fmt.Errorf("%s. Fix: pin the upstream series in %s/Dockerfile (ARG %s): %s — see images/README.md",
			strings.Join(lines, "; "), s.Name, packagesArg, strings.Join(fixes, ","))
	case len(im.SimFail) > 0:
		return fmt.Errorf("apt cannot install %s from %s: %s", joinPackages(im.Resolved, " "), where, strings.Join(im.SimFail, " | "))
	case len(im.Resolved) == 0:
		return fmt.Errorf("no resolution came back for its %s", packagesArg)
	}
	return nil
}

// joinPackages renders packages as PKG=VERSION joined by sep.
func joinPackages(ps []Package, sep string) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.Name + "=" + p.Version
	}
	return strings.Join(parts, sep)
}

// parsePackageList reads a LabelAptInstalled value.
func parsePackageList(v string) []Package {
	var out []Package
	for _, f := range strings.Split(v, ",") {
		if name, version, ok := strings.Cut(strings.TrimSpace(f), "="); ok {
			out = append(out, Package{Name: name, Version: version})
		}
	}
	return out
}
