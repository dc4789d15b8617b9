package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/statex/infrastructure/pipelines/images"
	"github.com/statex/infrastructure/pipelines/report"
)

const imagesHelp = `Build the project's container images with the local Docker engine, with
no registry: a Debian base image from debootstrap, then one image per
directory under images/ (Dockerfile on Debian packages, or Go binaries built
from a tools module). Dependencies (FROM) are built first; an image whose
inputs did not change (label statex.io/input-hash) is skipped.

Debian packages are pinned to an upstream series (roundcube=1.6.*) and
resolved against the archive on every run, in one container of the base
image (a few seconds; apt's lists are kept in the Docker volume statex-apt):
the exact versions are inputs of the image, so an image is rebuilt when a
point or security release moves the archive past what it holds, and the base
is rebuilt when any of its own packages has an update. Every image records
the versions it got (labels statex.io/packages, statex.io/apt-installed; the
"packages" list of --output json). See images/README.md.

Usage:
  statex images build [NAME…] [--force] [--no-cache] [--dry-run] [--refresh=false] [--output text|json]

Examples:
  statex images build                      # everything
  statex images build postgres redis       # these and what they are built FROM
  statex images build --dry-run            # what would be built, and why
  statex images build redis --force --no-cache   # a cold rebuild
  statex images build --refresh=false      # offline: trust the versions existing images recorded
  statex images build redis -o json        # results with every image's package versions

Progress (image, step, elapsed) goes to stderr; the summary to stdout.
Exit codes: 0 all built or up to date, 1 an image failed, 2 usage errors.
`

func (a *app) imagesCommand() *cobra.Command {
	group := a.group("images", "build the base, node and service images with no registry (images build)", imagesHelp)
	var (
		force, noCache, dryRun, refresh bool
		format, dir                     string
	)
	build := &cobra.Command{
		Use: "build [NAME…]", Short: "build images (and what they are built FROM); unchanged ones are skipped", Long: imagesHelp,
		ValidArgsFunction: a.completeImages(&dir),
	}
	fl := build.Flags()
	fl.BoolVar(&force, "force", false, "rebuild images whose inputs are unchanged")
	fl.BoolVar(&noCache, "no-cache", false, "pass --no-cache to docker build (with --force: a cold build)")
	addOutput(build, &format, formatText, []string{formatText, formatJSON}, "summary format")
	fl.StringVar(&dir, "dir", "", "images directory (default: images/ of this repository)")
	_ = build.MarkFlagDirname("dir")
	fl.BoolVar(&dryRun, "dry-run", false, "say what would be built and why; build nothing")
	fl.BoolVar(&refresh, "refresh", true, "resolve package specs against the archive (false: trust the versions existing images recorded)")
	build.RunE = a.verb(func(cmd *cobra.Command, args []string) (int, error) {
		if err := checkOutput(format, []string{formatText, formatJSON}); err != nil {
			return 0, err
		}
		if dir == "" && a.root != "" {
			dir = filepath.Join(a.root, "images")
		}
		return a.buildImages(cmd.Context(), images.Options{
			Dir: dir, Names: args, Force: force, NoCache: noCache,
			DryRun: dryRun, NoRefresh: !refresh,
			Progress: images.ProgressTo(a.stderr),
		}, format), nil
	})
	group.AddCommand(build)
	return group
}

// completeImages completes image names from the images directory.
func (a *app) completeImages(dir *string) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		d := *dir
		if d == "" {
			repo, err := a.repo()
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
			}
			d = filepath.Join(repo.Root, "images")
		}
		specs, err := images.Discover(d)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
		}
		var names []string
		for _, s := range specs {
			names = append(names, s.Name)
		}
		return completeNames(func() []string { return names })(nil, args, "")
	}
}

func (a *app) buildImages(ctx context.Context, opts images.Options, format string) int {
	stdout, stderr := a.stdout, a.stderr
	res, err := images.Build(ctx, opts)
	if format == formatJSON {
		_ = report.ImagesJSON(stdout, res)
	} else {
		_ = report.ImagesText(stdout, res)
	}
	if err != nil {
		fmt.Fprintln(stderr, "statex images build:", err)
		if len(res.Images) == 0 {
			return exitUsage // preflight: no daemon, no disk, unknown image name
		}
		return exitFindings
	}
	return exitOK
}
