package main

import (
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/statex/infrastructure/pipelines/report"
)

const versionHelp = `Print the version of this statex build: the version reports carry (SARIF's
driver version), the module's version and the VCS revision the binary was
built from, as the Go build recorded them (go build in a git checkout
stamps vcs.revision, vcs.modified and vcs.time; go run and go test do not).

Usage:
  statex version [--output text|json]

Examples:
  statex version
  statex version -o json
`

// buildInfo is what statex version prints.
type buildInfo struct {
	// Version is the name reports carry: set at link time, else the
	// module version, else the revision (+dirty), else "dev".
	Version string `json:"version"`
	Module  string `json:"module"`
	// ModuleVersion is the main module's version: "(devel)" for a build
	// from a checkout, v1.2.3 from go install …@v1.2.3.
	ModuleVersion string `json:"moduleVersion"`
	// Revision, Modified and Time are vcs.revision, vcs.modified and
	// vcs.time; empty when the build recorded none.
	Revision  string `json:"revision"`
	Modified  bool   `json:"modified"`
	Time      string `json:"time"`
	GoVersion string `json:"goVersion"`
}

func readBuildInfo(info *debug.BuildInfo, ok bool) buildInfo {
	b := buildInfo{Version: version}
	if b.Version == "dev" {
		b.Version = report.BuildVersion()
	}
	if !ok || info == nil {
		return b
	}
	b.Module, b.ModuleVersion, b.GoVersion = info.Main.Path, info.Main.Version, info.GoVersion
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		case "vcs.time":
			b.Time = s.Value
		}
	}
	return b
}

func (a *app) versionCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use: "version", Short: "print the version and the VCS revision it was built from", Long: versionHelp,
		Args: cobra.NoArgs,
	}
	addOutput(cmd, &format, formatText, []string{formatText, formatJSON}, "output format")
	cmd.RunE = a.verb(func(*cobra.Command, []string) (int, error) {
		if err := checkOutput(format, []string{formatText, formatJSON}); err != nil {
			return 0, err
		}
		b := readBuildInfo(debug.ReadBuildInfo())
		if format == formatJSON {
			if err := report.WriteJSON(a.stdout, b); err != nil {
				return exitUsage, nil
			}
			return exitOK, nil
		}
		writeVersion(a.stdout, b)
		return exitOK, nil
	})
	return cmd
}

func writeVersion(w io.Writer, b buildInfo) {
	fmt.Fprintln(w, "statex", b.Version)
	if b.Module != "" {
		fmt.Fprintf(w, "  module    %s %s\n", b.Module, b.ModuleVersion)
	}
	rev := b.Revision
	switch {
	case rev == "":
		rev = "(not recorded: go run or go test)"
	case b.Modified:
		rev += " (modified)"
	}
	fmt.Fprintf(w, "  revision  %s\n", rev)
	if b.Time != "" {
		fmt.Fprintf(w, "  time      %s\n", b.Time)
	}
	if b.GoVersion != "" {
		fmt.Fprintf(w, "  go        %s\n", b.GoVersion)
	}
}
