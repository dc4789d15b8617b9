package cluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// CheckStatus is the verdict of one preflight check.
type CheckStatus string

const (
	CheckOK   CheckStatus = "ok"
	CheckWarn CheckStatus = "warn" // works, but something will hurt later
	CheckFail CheckStatus = "fail" // the cluster cannot be created
)

// Check is one preflight finding, with the command that fixes it.
type Check struct {
	Name   string      `json:"name"`
	Status CheckStatus `json:"status"`
	Detail string      `json:"detail"`
	Fix    string      `json:"fix,omitempty"`
}

// Preflight inspects the host before creating a cluster: Docker, cgroups,
// inotify limits (kind nodes run many watchers), vm.max_map_count
// (Elasticsearch refuses to start below 262144) and free disk for images.
func Preflight(ctx context.Context) []Check {
	var checks []Check
	out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}} {{.DockerRootDir}} {{.CgroupVersion}}").CombinedOutput()
	fields := strings.Fields(string(out))
	if err != nil || len(fields) < 3 {
		checks = append(checks, Check{Name: "docker", Status: CheckFail,
			Detail: "no Docker daemon answers: " + strings.TrimSpace(string(out)),
			Fix:    "bash .ci/docker-engine.sh   # installs Debian trixie's docker.io and starts dockerd"})
		return append(checks, hostChecks("/")...)
	}
	version, root, cgroup := fields[0], fields[1], fields[2]
	status, detail := CheckOK, "Docker "+version
	if major, _ := strconv.Atoi(strings.SplitN(version, ".", 2)[0]); major > 0 && major < 23 {
		status = CheckFail
		detail += ": before 23, privileged containers fail on hosts without CAP_SYS_RESOURCE (moby#42933)"
	}
	checks = append(checks, Check{Name: "docker", Status: status, Detail: detail,
		Fix: fixIf(status != CheckOK, "bash .ci/docker-engine.sh")})
	checks = append(checks, Check{Name: "cgroups", Status: CheckOK, Detail: "cgroup v" + cgroup +
		" (Kubernetes 1.34 still runs on v1; 1.35+ kubelets refuse it)"})
	return append(checks, hostChecks(root)...)
}

func hostChecks(dockerRoot string) []Check {
	var checks []Check
	for _, s := range []struct {
		name, file string
		min        int
		status     CheckStatus
		why        string
	}{
		{"inotify watches", "/proc/sys/fs/inotify/max_user_watches", 524288, CheckWarn, "kubelet and containerd in kind nodes exhaust the default"},
		{"inotify instances", "/proc/sys/fs/inotify/max_user_instances", 512, CheckWarn, "too few make pods fail with 'too many open files'"},
		{"vm.max_map_count", "/proc/sys/vm/max_map_count", 262144, CheckWarn, "Elasticsearch refuses to start below it"},
	} {
		key := strings.ReplaceAll(strings.TrimPrefix(s.file, "/proc/sys/"), "/", ".")
		v, err := readInt(s.file)
		switch {
		case err != nil:
			checks = append(checks, Check{Name: s.name, Status: CheckWarn, Detail: err.Error()})
		case v < s.min:
			checks = append(checks, Check{Name: s.name, Status: s.status,
				Detail: fmt.Sprintf("%s = %d, want ≥ %d: %s", key, v, s.min, s.why),
				Fix:    fmt.Sprintf("sysctl -w %s=%d", key, s.min)})
		default:
			checks = append(checks, Check{Name: s.name, Status: CheckOK, Detail: fmt.Sprintf("%s = %d", key, v)})
		}
	}
	var st syscall.Statfs_t
	dir := dockerRoot
	if _, err := os.Stat(dir); err != nil {
		dir = "/"
	}
	if err := syscall.Statfs(dir, &st); err == nil {
		free := st.Bavail * uint64(st.Bsize)
		status := CheckOK
		switch {
		case free < 5<<30:
			status = CheckFail
		case free < 15<<30:
			status = CheckWarn
		}
		checks = append(checks, Check{Name: "disk", Status: status,
			Detail: fmt.Sprintf("%.1f GiB free under %s (node image ≈1.5 GB, service images ≈2 GB, volumes)", float64(free)/(1<<30), dir),
			Fix:    fixIf(status != CheckOK, "docker system prune   # or free space under "+dir)})
	}
	return checks
}

func fixIf(cond bool, fix string) string {
	if cond {
		return fix
	}
	return ""
}

func readInt(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(data)))
}

// Failed reports whether any check blocks cluster creation.
func Failed(checks []Check) bool {
	for _, c := range checks {
		if c.Status == CheckFail {
			return true
		}
	}
	return false
}

// Remediate applies the fixes that are safe to automate (kernel limits via
// /proc/sys, as root) and returns the checks re-evaluated: zero manual
// intervention where the host allows it, an exact command where it does not.
func Remediate(checks []Check) []Check {
	if os.Geteuid() != 0 {
		return checks
	}
	out := make([]Check, len(checks))
	for i, c := range checks {
		out[i] = c
		key, value, ok := strings.Cut(strings.TrimPrefix(c.Fix, "sysctl -w "), "=")
		if c.Status == CheckOK || !strings.HasPrefix(c.Fix, "sysctl -w ") || !ok {
			continue
		}
		path := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
		if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
			out[i].Detail += " (automatic fix failed: " + err.Error() + ")"
			continue
		}
		out[i] = Check{Name: c.Name, Status: CheckOK, Detail: fmt.Sprintf("%s raised to %s", key, value)}
	}
	return out
}
