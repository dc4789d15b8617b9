package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The join script runs against a fake `docker` on PATH that plays a daemon
// with a few containers. The container "running this call" answers
// `docker top` with the real `ps -ef`, so the test also proves the script's
// own argv (its marker) is what identifies it.
const fakeDocker = `#!/bin/sh
S=$FAKE_STATE
echo "$*" >>"$S/log"
if [ -e "$S/down" ]; then
	echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2
	exit 1
fi
case "$1" in
version) echo 28.0.0 ;;
ps)
	case "$*" in
	*name=dagger-engine*) for id in $(cat "$S/ps"); do case "$(cat "$S/name-$id")" in dagger-engine*) echo "$id" ;; esac; done ;;
	*) cat "$S/ps" ;;
	esac ;;
top)
	if [ "$2" = "$(cat "$S/engine" 2>/dev/null)" ]; then exec ps -ef; fi
	[ -e "$S/top-$2" ] || { echo "Error response from daemon: No such container: $2" >&2; exit 1; }
	cat "$S/top-$2" ;;
inspect)
	case "$3" in
	*.Name*) echo "/$(cat "$S/name-$4")" ;;
	*Networks*) cat "$S/nets-$4" 2>/dev/null || true ;;
	*) echo "fake docker: unknown template $3" >&2; exit 1 ;;
	esac ;;
network)
	case "$2" in
	inspect) [ -e "$S/network-$3" ] || { echo "Error response from daemon: network $3 not found" >&2; exit 1; } ;;
	create)
		if [ -e "$S/create-error" ]; then cat "$S/create-error" >&2; exit 1; fi
		touch "$S/network-$3"; echo 0123abcd ;;
	connect)
		if [ -e "$S/connect-error" ]; then cat "$S/connect-error" >&2; exit 1; fi
		echo "$3" >>"$S/nets-$4"
		echo "$4" >>"$S/connected" ;;
	*) exit 1 ;;
	esac ;;
*) echo "fake docker: unknown command $1" >&2; exit 1 ;;
esac
`

var (
	otherEngine = strings.Repeat("a", 64) // another Dagger engine on the same host
	thisEngine  = strings.Repeat("b", 64) // the one running the call
	kindNode    = strings.Repeat("c", 64) // statex-control-plane
)

type fakeDaemon struct {
	t     *testing.T
	state string
	bin   string
}

func newFakeDaemon(t *testing.T) *fakeDaemon {
	t.Helper()
	for _, tool := range []string{"sh", "ps", "grep", "sort", "cut", "wc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	d := &fakeDaemon{t: t, state: t.TempDir(), bin: t.TempDir()}
	if err := os.WriteFile(filepath.Join(d.bin, "docker"), []byte(fakeDocker), 0o755); err != nil {
		t.Fatal(err)
	}
	d.write("ps", otherEngine+"\n"+thisEngine+"\n"+kindNode+"\n")
	d.write("name-"+otherEngine, "dagger-engine-v0.19.10")
	d.write("name-"+thisEngine, "dagger-engine-v0.19.11")
	d.write("name-"+kindNode, "statex-control-plane")
	d.write("top-"+otherEngine, "UID PID PPID C STIME TTY TIME CMD\nroot 10 1 0 10:00 ? 00:00:00 sh -c x statex-join statex-call-1-someoneelse require kind /proc/self/cgroup\n")
	d.write("top-"+kindNode, "UID PID PPID C STIME TTY TIME CMD\nroot 20 1 0 10:00 ? 00:00:01 /sbin/init\n")
	d.write("nets-"+otherEngine, "bridge\nkind\n")
	d.write("nets-"+thisEngine, "bridge\n")
	d.write("nets-"+kindNode, "kind\n")
	d.write("network-kind", "")
	d.write("engine", thisEngine)
	d.write("cgroup", "0::/\n")
	return d
}

func (d *fakeDaemon) write(name, content string) {
	d.t.Helper()
	if err := os.WriteFile(filepath.Join(d.state, name), []byte(content), 0o644); err != nil {
		d.t.Fatal(err)
	}
}

func (d *fakeDaemon) remove(name string) {
	d.t.Helper()
	if err := os.Remove(filepath.Join(d.state, name)); err != nil {
		d.t.Fatal(err)
	}
}

func (d *fakeDaemon) read(name string) string {
	b, _ := os.ReadFile(filepath.Join(d.state, name))
	return string(b)
}

// run runs argv (the script's, from joinArgs) with the fake docker and our
// cgroup file in place of /proc/self/cgroup.
func (d *fakeDaemon) run(argv []string) (stderr string, err error) {
	argv = append([]string(nil), argv...)
	if argv[len(argv)-1] == selfCgroupPath {
		argv[len(argv)-1] = filepath.Join(d.state, "cgroup")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "PATH="+d.bin+string(os.PathListSeparator)+os.Getenv("PATH"), "FAKE_STATE="+d.state)
	var eb bytes.Buffer
	cmd.Stderr = &eb
	err = cmd.Run()
	return eb.String(), err
}

// connected lists the containers successfully connected to kind, in order.
func (d *fakeDaemon) connected() []string {
	return strings.Fields(d.read("connected"))
}

func TestJoinKindNetwork(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mode    joinMode
		setup   func(d *fakeDaemon, marker string)
		wantErr []string // substrings of stderr when the script must fail
		want    []string // containers connected
		note    string   // substring of stderr on success
	}{
		{
			name: "joins this engine only, not another engine on the host",
			mode: joinRequire, want: []string{thisEngine}, note: "dagger-engine-v0.19.11 (bbbbbbbbbbbb) joined network kind",
		},
		{
			name:  "already on the network: nothing to connect",
			mode:  joinRequire,
			setup: func(d *fakeDaemon, _ string) { d.write("nets-"+thisEngine, "bridge\nkind\n") },
			note:  "already on network kind",
		},
		{
			name: "a failed connect fails the join with docker's error",
			mode: joinRequire,
			setup: func(d *fakeDaemon, _ string) {
				d.write("connect-error", "Error response from daemon: network kind is full")
			},
			wantErr: []string{"docker network connect kind dagger-engine-v0.19.11", "network kind is full"},
		},
		{
			name:    "no container holds the call (engine on another daemon)",
			mode:    joinRequire,
			setup:   func(d *fakeDaemon, _ string) { d.remove("engine") },
			wantErr: []string{"no running container on this Docker daemon holds this call", "checked 3 containers"},
		},
		{
			name: "two containers claim the call: refuse to guess",
			mode: joinRequire,
			setup: func(d *fakeDaemon, marker string) {
				d.write("top-"+otherEngine, "root 10 1 0 10:00 ? 00:00:00 sh -c x statex-join "+marker+"\n")
				d.remove("engine")
				d.write("top-"+thisEngine, "root 11 1 0 10:00 ? 00:00:00 sh -c x statex-join "+marker+"\n")
			},
			wantErr: []string{"more than one container", otherEngine, thisEngine},
		},
		{
			name:    "require: no kind network means no cluster",
			mode:    joinRequire,
			setup:   func(d *fakeDaemon, _ string) { d.remove("network-kind") },
			wantErr: []string{"no Docker network kind", "run Up first", "network kind not found"},
		},
		{
			name:  "create: makes the network, then joins",
			mode:  joinCreate,
			setup: func(d *fakeDaemon, _ string) { d.remove("network-kind") },
			want:  []string{thisEngine}, note: "created network kind",
		},
		{
			name: "create: a failed create fails with docker's error",
			mode: joinCreate,
			setup: func(d *fakeDaemon, _ string) {
				d.remove("network-kind")
				d.write("create-error", "Error response from daemon: could not find an available, non-overlapping IPv4 address pool")
			},
			wantErr: []string{"docker network create kind", "non-overlapping"},
		},
		{
			name: "found through our cgroup when docker top cannot see nested processes",
			mode: joinRequire,
			setup: func(d *fakeDaemon, _ string) {
				d.remove("engine")
				d.write("top-"+thisEngine, "root 1 0 0 10:00 ? 00:00:00 /usr/local/bin/dagger-engine\n")
				d.write("cgroup", "0::/system.slice/docker-"+thisEngine+".scope/dagger/abc\n")
			},
			want: []string{thisEngine},
		},
		{
			name:    "cgroup and docker top disagree: refuse to guess",
			mode:    joinRequire,
			setup:   func(d *fakeDaemon, _ string) { d.write("cgroup", "12:pids:/docker/"+otherEngine+"/buildkit/x\n") },
			wantErr: []string{"more than one container"},
		},
		{
			name:    "daemon unreachable",
			mode:    joinRequire,
			setup:   func(d *fakeDaemon, _ string) { d.write("down", "") },
			wantErr: []string{"cannot reach the Docker daemon", "Is the docker daemon running?"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newFakeDaemon(t)
			id := newCallID()
			if tc.setup != nil {
				tc.setup(d, joinMarker(id))
			}
			stderr, err := d.run(joinArgs(id, tc.mode))
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("join succeeded, want a failure; stderr:\n%s", stderr)
				}
				for _, s := range tc.wantErr {
					if !strings.Contains(stderr, s) {
						t.Errorf("stderr does not say %q:\n%s", s, stderr)
					}
				}
				if c := d.connected(); len(c) > 0 {
					t.Errorf("connected %q although the join failed", c)
				}
				return
			}
			if err != nil {
				t.Fatalf("join failed: %v\n%s", err, stderr)
			}
			if got := d.connected(); strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("connected %q, want %q\nstderr:\n%s", got, tc.want, stderr)
			}
			if !strings.Contains(stderr, tc.note) {
				t.Errorf("stderr does not say %q:\n%s", tc.note, stderr)
			}
		})
	}
}

// The judge must be seen failing: the join this replaced connected every
// container named dagger-engine* and hid docker's errors.
func TestJoinCheckCatchesTheOldScript(t *testing.T) {
	const old = `docker network inspect kind >/dev/null 2>&1 || docker network create kind >/dev/null
for c in $(docker ps -q --filter name=dagger-engine); do docker network connect kind "$c" 2>/dev/null || true; done`
	d := newFakeDaemon(t)
	if _, err := d.run([]string{"sh", "-c", old}); err != nil {
		t.Fatal(err)
	}
	if c := d.connected(); !slices.Contains(c, otherEngine) {
		t.Errorf("old join connected %q: the fake daemon does not reproduce joining another engine", c)
	}
	d = newFakeDaemon(t)
	d.write("connect-error", "Error response from daemon: boom")
	if _, err := d.run([]string{"sh", "-c", old}); err != nil {
		t.Errorf("old join failed loudly (%v); the fake cannot show it hid errors", err)
	}
}
