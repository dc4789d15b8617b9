// Package images builds the project's container images on a machine that
// reaches no container registry: a Debian base image made with debootstrap and
// `docker import`, and one image per service from a Dockerfile that installs
// pinned Debian packages (or copies in a binary built from a Go tools module).
//
// It shells out to the `docker` CLI (as kind's docker provider does) and uses
// only the standard library.
//
// # Layout
//
// Build reads the images directory (default: images/ at the module root):
//
//	images/<name>/TAG          the image reference to build, e.g. statex/redis:8.0
//	images/<name>/Dockerfile   a service image; a FROM naming another image's TAG
//	                           makes that image a dependency, built first
//	images/<name>/build.sh     the base image recipe (used when there is no
//	                           Dockerfile): run as `bash build.sh` with TAG,
//	                           SUITE, MIRROR and EXTRA_CHANGES in the environment
//	images/<name>/go.mod       optional tools module: each `tool` it names is
//	                           built with the host's Go into bin/<last path
//	                           element> before `docker build` (bin/ is not an input),
//	                           with CGO_ENABLED=0, -trimpath and -ldflags "-s -w"
//	                           plus the contents of go.ldflags if present
//
// # Skipping unchanged images
//
// Each image's input hash (see InputHash) covers the files of its directory
// (except bin/ and *.md), the IDs of the images it is built FROM, its build arguments,
// for Go-built images the Go version, and for recipes that install Debian
// packages the exact versions the archive resolves their specs to now (see
// apt.go: recipes pin upstream series, so an image is rebuilt when a point or
// security release moves the archive, and the base when it has updates). The hash is stored in the image as
// the label statex.io/input-hash; an image whose existing label equals the
// new hash is skipped unless Options.Force is set.
//
// # Use
//
//	res, err := images.Build(ctx, images.Options{
//		Names:    []string{"redis"},             // plus its dependencies; empty = all
//		Progress: images.ProgressTo(os.Stderr),
//	})
//	for _, r := range res.Images { fmt.Println(r.Name, r.Status, r.Duration, r.Size) }
//
// Build returns a Result for every image it considered, in build order, and
// an error joining the failures; each failure names the image and the step
// (preflight, go build, docker build and its Dockerfile step, base recipe).
package images
