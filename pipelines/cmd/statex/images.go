package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/statex/infrastructure/pipelines/images"
	"github.com/statex/infrastructure/pipelines/report"
)

const imagesHelp = `Build the project's container images with the local Docker engine, with
no registry: a Debian base image from debootstrap, then one image per
directory under images/ (Dockerfile on Debian packages, or Go binaries built
from a tools module). Dependencies (FROM) are built first; an image whose
inputs did not change (label statex.io/input-hash) is skipped.

Usage:
  statex images build [NAME…] [--force] [--no-cache] [--output text|json]

Examples:
  statex images build                      # everything
  statex images build postgres redis       # these and what they are built FROM
  statex images build redis --force --no-cache   # a cold rebuild

Progress (image, step, elapsed) goes to stderr; the summary to stdout.
Exit codes: 0 all built or up to date, 1 an image failed, 2 usage errors.
`

func runImages(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "build" && args[0] != "-h" && args[0] != "--help") {
		fmt.Fprint(stderr, imagesHelp)
		return exitUsage
	}
	if args[0] != "build" {
		fmt.Fprint(stdout, imagesHelp)
		return exitOK
	}
	fs := newFlags("images build", imagesHelp, stderr)
	force := fs.Bool("force", false, "rebuild images whose inputs are unchanged")
	noCache := fs.Bool("no-cache", false, "pass --no-cache to docker build (with --force: a cold build)")
	format := fs.String("output", "text", "summary format: text or json")
	dir := fs.String("dir", "", "images directory (default: images/ of this repository)")
	if code := parse(fs, args[1:]); code >= 0 {
		return code
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(stderr, "statex images build: --output %q: want text or json\n", *format)
		return exitUsage
	}
	res, err := images.Build(ctx, images.Options{
		Dir: *dir, Names: fs.Args(), Force: *force, NoCache: *noCache,
		Progress: images.ProgressTo(stderr),
	})
	if *format == "json" {
		type row struct {
			Name    string  `json:"name"`
			Tag     string  `json:"tag"`
			Status  string  `json:"status"`
			Reason  string  `json:"reason"`
			ID      string  `json:"id,omitempty"`
			Log     string  `json:"log,omitempty"`
			Error   string  `json:"error,omitempty"`
			Seconds float64 `json:"seconds"`
			Bytes   int64   `json:"bytes"`
		}
		out := struct {
			Images  []row   `json:"images"`
			Seconds float64 `json:"seconds"`
		}{Seconds: res.Duration.Seconds()}
		for _, r := range res.Images {
			e := ""
			if r.Err != nil {
				e = r.Err.Error()
			}
			out.Images = append(out.Images, row{r.Name, r.Tag, string(r.Status), r.Reason, r.ID, r.LogFile, e, r.Duration.Seconds(), r.Size})
		}
		_ = report.WriteJSON(stdout, out)
	} else {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "IMAGE\tTAG\tSTATUS\tTIME\tSIZE\tWHY")
		for _, r := range res.Images {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%.1fs\t%s\t%s\n", r.Name, r.Tag, r.Status, r.Duration.Seconds(), images.FormatSize(r.Size), r.Reason)
		}
		tw.Flush()
		fmt.Fprintf(stdout, "total %.1fs\n", res.Duration.Seconds())
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
