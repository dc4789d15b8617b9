package report

import "runtime/debug"

// BuildVersion names the statex build that writes a report, for tools
// that key on it (SARIF's driver version): the module version when built as
// a module (go install …@v1.2.3), else the VCS revision the binary was
// built from ("+dirty" with uncommitted changes), else "dev" (go run, go
// test). Never empty.
func BuildVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	return versionOf(info)
}

func versionOf(info *debug.BuildInfo) string {
	// A pseudo-version stamped from VCS (v0.0.0-2025…-abcdef) carries the
	// revision too; a tagged version is the most useful name.
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev string
	var dirty bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "dev"
	}
	if dirty {
		rev += "+dirty"
	}
	return rev
}
