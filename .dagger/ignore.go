package main

// sourceIgnore is THE list of paths the repository source leaves out. The
// source is the constructor's argument (New), stored on the module, so the
// `+ignore` pragma is written once, there; Dagger reads it only as a
// literal, so TestOneIgnoreList fails when it (or dagger.json's include)
// drifts from this list, or when a function takes a source of its own.
//
// The v0.19.11 engine matches these like .dockerignore, not .gitignore
// (host.directory exclude → internal/fsutil → github.com/moby/patternmatcher;
// git sources: util/patternmatcher, its fork): a pattern is matched against
// the whole path from the repository root, `*` stays within one path
// segment, `**` spans any number, and a matching directory takes everything
// under it. So `bin` is only the root bin/, while `**/bin` would also strip
// images/kind-base/files/kind/bin/ (the bug that broke `dagger call up`).
// A leading `/` never matches there: do not use one.
//
// Only build output and metadata go here (mirroring .gitignore): anything
// the CLI or an image recipe reads must reach the container, or image input
// hashes differ from the host's and Up rebuilds images.
var sourceIgnore = []string{
	".git",         // VCS metadata, large, not read by the CLI
	".dagger",      // this module's own source: not an input of any verb
	"bin",          // /bin/: go build -o bin/...
	"dist",         // /dist/: release archives
	"out",          // /out/: reports, exported cluster logs
	"images/*/bin", // Go binaries pipelines/images builds before docker build
	"**/*.test",    // go test -c binaries
	"**/*.out",     // coverage profiles
}
