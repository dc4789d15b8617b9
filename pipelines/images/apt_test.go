package images

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestExactPin(t *testing.T) {
	for spec, exact := range map[string]bool{
		"roundcube":                        false,
		"roundcube=1.6.*":                  false,
		"libapache2-mod-php=8.4*":          false,
		"roundcube=1.6.21+dfsg-0+deb13u1":  true, // the pin the archive dropped
		"postfixadmin=3.3.15+ds-2":         true,
		"redis-server=5:8.0.2-3+deb13u3*":  true,
		"postgresql-17=17.12-0+deb13u1*":   true,
		"busybox-static=1:1.37.0-6+b9":     true,
		"roundcube=1.6.22+dfsg-0+deb13u1*": true,
	} {
		p := ParsePackageSpecs(spec)[0]
		if got := ExactPin(p) != ""; got != exact {
			t.Errorf("ExactPin(%s) = %q, want exact=%v", spec, ExactPin(p), exact)
		}
	}
}

// TestRecipesPinOnlyUpstreamSeries holds every recipe in images/ to the
// policy of apt.go: a pin that the next Debian point or security release
// invalidates is refused here, before it breaks a fresh build.
func TestRecipesPinOnlyUpstreamSeries(t *testing.T) {
	specs, err := Discover(filepath.Join("..", "..", "images"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range specs {
		for _, p := range s.Packages {
			n++
			if why := ExactPin(p); why != "" {
				t.Errorf("images/%s/Dockerfile: %s: %s; pin the upstream series (NAME=MAJOR.MINOR.*) or nothing", s.Name, p, why)
			}
		}
	}
	if n < 30 {
		t.Errorf("found only %d package specs in images/: is PACKAGES still parsed?", n)
	}
}

func TestDockerfileArg(t *testing.T) {
	df := []byte(`FROM statex/debian:trixie
# ARG PACKAGES=commented-out
ARG PACKAGES="systemd=257.* systemd-sysv=257.* \
 containerd=1.7.* \
 bash"
ARG OTHER=x
RUN install-packages "${PACKAGES}"
`)
	v, ok := dockerfileArg(df, "PACKAGES")
	if !ok || v != "systemd=257.* systemd-sysv=257.* containerd=1.7.* bash" {
		t.Fatalf("got %q %v", v, ok)
	}
	want := []PackageSpec{{"systemd", "257.*"}, {"systemd-sysv", "257.*"}, {"containerd", "1.7.*"}, {"bash", ""}}
	if got := ParsePackageSpecs(v); !reflect.DeepEqual(got, want) {
		t.Errorf("specs %v, want %v", got, want)
	}
	if _, ok := dockerfileArg(df, "MISSING"); ok {
		t.Error("found an ARG that is not there")
	}
}

func TestParseInstallPackagesRefusesPackagesOutsideTheArg(t *testing.T) {
	for name, df := range map[string]string{
		"literal package": "ARG PACKAGES=a=1.*\nRUN install-packages \"${PACKAGES}\" extra\n",
		"exact literal":   "RUN groupadd x \\\n && install-packages ca-certificates=20250419+deb13u1 \\\n && true\n",
		"no ARG":          "RUN install-packages \"${PACKAGES}\"\n",
	} {
		if _, err := parseInstallPackages([]byte(df)); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.Contains(err.Error(), "PACKAGES") {
			t.Errorf("%s: error does not say what to do: %v", name, err)
		}
	}
	got, err := parseInstallPackages([]byte("ARG PACKAGES=a=1.*,b\n# install-packages in a comment\nRUN install-packages \"${PACKAGES}\" \\\n && rm -rf /x\n"))
	if err != nil || len(got) != 2 {
		t.Fatalf("got %v, %v", got, err)
	}
}

// The parser against resolve.sh's protocol; the script itself runs against
// the real archive in TestIntegrationPackagePolicy.
func TestParseResolution(t *testing.T) {
	specs := map[string][]PackageSpec{
		"roundcube": ParsePackageSpecs("roundcube=1.6.*,apache2"),
		"gone":      ParsePackageSpecs("roundcube=1.6.21+dfsg-0+deb13u1"),
	}
	out := `SUITES trixie trixie-security trixie-updates 
UPGRADE libc6 2.41-11 2.41-12
RESOLVED roundcube roundcube 1.6.22+dfsg-0+deb13u1
RESOLVED roundcube apache2 2.4.71-1~deb13u1
INSTALL roundcube roundcube 1.6.22+dfsg-0+deb13u1
INSTALL roundcube apache2 2.4.71-1~deb13u1
INSTALL roundcube apache2-bin 2.4.71-1~deb13u1
MISSING gone roundcube 1.6.21+dfsg-0+deb13u1 1.6.22+dfsg-0+deb13u1,1.6.20+dfsg-1
`
	st := parseResolution([]byte(out), specs)
	if !reflect.DeepEqual(st.Suites, []string{"trixie", "trixie-security", "trixie-updates"}) {
		t.Errorf("suites %v", st.Suites)
	}
	if len(st.Upgrades) != 1 || st.Upgrades[0] != "libc6 2.41-11 → 2.41-12" {
		t.Errorf("upgrades %v", st.Upgrades)
	}
	rc := st.Images["roundcube"]
	if rc.err(Spec{Name: "roundcube"}, st.Suites) != nil || len(rc.Installed) != 3 || rc.Resolved[0].Requested != "1.6.*" || rc.Resolved[1].Requested != "*" {
		t.Errorf("roundcube %+v", rc)
	}
	if got := joinPackages(rc.Resolved, ","); got != "roundcube=1.6.22+dfsg-0+deb13u1,apache2=2.4.71-1~deb13u1" {
		t.Errorf("build arg %q", got)
	}
	err := st.Images["gone"].err(Spec{Name: "gone"}, st.Suites)
	if err == nil {
		t.Fatal("a spec nothing matches resolved")
	}
	for _, want := range []string{"package roundcube wants version 1.6.21+dfsg-0+deb13u1", "offers 1.6.22+dfsg-0+deb13u1, 1.6.20+dfsg-1", "trixie-security", "gone/Dockerfile", "roundcube=1.6.*"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestSeriesOf(t *testing.T) {
	for v, want := range map[string]string{"1.6.21+dfsg-0+deb13u1": "1.6.*", "1:2.4.1+dfsg1-6+deb13u7": "2.4.*", "20250419+deb13u1": "20250419.*", "2:8.4+96": "8.4.*"} {
		if got := seriesOf(v); got != want {
			t.Errorf("seriesOf(%s) = %s, want %s", v, got, want)
		}
	}
}

func TestPackagesFromLabels(t *testing.T) {
	got := packagesFromLabels(map[string]string{LabelAptInstalled: "redis-server=5:8.0.2-3+deb13u3,libc6=2.41-12"}, ParsePackageSpecs("redis-server=8.0.*"))
	want := []Package{{Name: "redis-server", Version: "5:8.0.2-3+deb13u3", Requested: "8.0.*"}, {Name: "libc6", Version: "2.41-12"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v", got)
	}
}
