package main

// Joining this Dagger engine's container to kind's Docker network, so the
// containers the engine runs reach the kind nodes (the kubeconfig names the
// control plane's address on that network).
//
// Which container is "this engine": the engine runs as a container on the
// daemon whose socket was passed, and every container it starts (this join
// script included) is a process inside it. So the engine is the container
// whose process list, as the daemon sees it (`docker top`, which walks the
// container's whole cgroup tree), holds this script, recognised by a marker
// in its argv that is unique to the call. When the engine shares the host's
// cgroup namespace, its container ID is also in our /proc/self/cgroup; that
// is used as a second observation. Exactly one container must result, or the
// join fails: matching by name (`dagger-engine*`) would connect every engine
// on the host, and guessing silently surfaces later as API timeouts.

// dockerCLIImage runs the join: a small image with the Docker CLI and a
// POSIX shell (busybox). A current CLI negotiates the API version down to
// older daemons.
const dockerCLIImage = "docker:28-cli"

// kindNetwork is the Docker network kind puts its nodes on (pipelines/cluster
// reads the control plane's address on it).
const kindNetwork = "kind"

// selfCgroupPath is read by the join script for the second observation.
const selfCgroupPath = "/proc/self/cgroup"

type joinMode string

const (
	// joinCreate creates kind's network if missing (Up: the cluster is
	// about to be created; kind reuses an existing network).
	joinCreate joinMode = "create"
	// joinRequire fails if the network is missing: no kind cluster runs on
	// that daemon (Deploy, Test, Drill).
	joinRequire joinMode = "require"
)

// joinMarker is the argv word that identifies the join's own process.
func joinMarker(callID string) string { return "statex-call-" + callID }

// joinArgs is the join script's argv: sh -c SCRIPT NAME MARKER MODE NETWORK CGROUPFILE.
func joinArgs(callID string, mode joinMode) []string {
	return []string{"sh", "-c", joinKindNetworkScript, "statex-join", joinMarker(callID), string(mode), kindNetwork, selfCgroupPath}
}

// joinKindNetworkScript: POSIX sh (busybox in dockerCLIImage, dash in the
// tests). Every failure exits non-zero with docker's own error message.
const joinKindNetworkScript = `set -eu
marker=$1 mode=$2 net=$3 cgroups=$4
fail() { echo "kind network join: $*" >&2; exit 1; }
note() { echo "kind network join: $*" >&2; }

out=$(docker version --format '{{.Server.Version}}' 2>&1) || fail "cannot reach the Docker daemon: $out"

if ! out=$(docker network inspect "$net" 2>&1 >/dev/null); then
	[ "$mode" = create ] || fail "no Docker network $net: no kind cluster runs on this daemon (run Up first): $out"
	# a concurrent call may create it between inspect and create
	out=$(docker network create "$net" 2>&1 >/dev/null) || docker network inspect "$net" >/dev/null 2>&1 ||
		fail "docker network create $net: $out"
	note "created network $net"
fi

ids=$(docker ps -q --no-trunc 2>&1) || fail "docker ps: $ids"
ids=$(echo $ids)
found=
for id in $ids; do
	# races with containers that just exited are fine: they are not us
	if docker top "$id" 2>/dev/null | grep -qF -- "$marker"; then
		found="$found $id"
	fi
done
if [ -r "$cgroups" ]; then
	for id in $(grep -oE '[0-9a-f]{64}' "$cgroups" | sort -u); do
		case " $ids " in *" $id "*) found="$found $id" ;; esac
	done
fi
set -- $(printf '%s\n' $found | sort -u)
case $# in
0) fail "no running container on this Docker daemon holds this call (marker $marker; checked $(echo $ids | wc -w) containers with docker top, and $cgroups): the Dagger engine must run as a container on the daemon whose socket was passed" ;;
1) engine=$1 ;;
*) fail "more than one container holds this call, refusing to guess: $*" ;;
esac

name=$(docker inspect -f '{{.Name}}' "$engine" 2>&1) || fail "docker inspect $engine: $name"
name="${name#/} ($(echo "$engine" | cut -c1-12))"
on_net() {
	docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{println $k}}{{end}}' "$engine" 2>/dev/null | grep -qxF -- "$net"
}
if on_net; then
	note "engine container $name is already on network $net"
else
	# a concurrent call may connect it between the check and the connect
	out=$(docker network connect "$net" "$engine" 2>&1) || on_net || fail "docker network connect $net $name: $out"
	note "engine container $name joined network $net"
fi
`
