#!/usr/bin/env bash
# Sets up a Docker engine that can run privileged containers (kind nodes) on a
# Debian host that reaches no container registry. Idempotent: if `docker info`
# already answers it exits 0 at once.
#
# On Debian 12 "bookworm" it adds the Debian 13 "trixie" suite from the host's
# own mirror with an apt pin of 100 (so nothing upgrades to trixie by itself)
# and installs docker.io/trixie (26.x). Bookworm's docker.io 20.10 cannot start
# --privileged containers on hosts whose capability bounding set lacks
# CAP_SYS_RESOURCE (moby#42933). `apt-get install -t trixie docker.io` is NOT
# used: -t raises every trixie package to 990 for that run and would upgrade
# libc6, systemd, perl... (about 140 packages); `pkg/trixie` takes only what
# needs trixie (docker.io, docker-cli, docker-buildx, containerd).
# It also installs debootstrap (for the statex/debian base image) and starts
# dockerd in the background (no systemd here), logging to $LOG.
#
# Environment: STATEX_DOCKERD_LOG (default /var/log/statex-dockerd.log),
#              STATEX_DOCKERD_WAIT seconds to wait for the daemon (default 60).
set -euo pipefail

LOG="${STATEX_DOCKERD_LOG:-/var/log/statex-dockerd.log}"
WAIT="${STATEX_DOCKERD_WAIT:-60}"
SUITE=trixie

say() { echo "docker-engine: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

docker_ok() { timeout 10 docker info >/dev/null 2>&1; }

if command -v docker >/dev/null 2>&1 && docker_ok; then
  say "daemon answers ($(docker version --format 'client {{.Client.Version}} api {{.Client.APIVersion}}, server {{.Server.Version}} api {{.Server.APIVersion}}' 2>/dev/null || echo '?'))"
  exit 0
fi

# --- preconditions -----------------------------------------------------------
if [[ $(id -u) -ne 0 ]]; then
  die "not root and no Docker daemon answers. Fix: run 'sudo bash $0', or start a Docker daemon (>= 23) yourself and make 'docker info' work for this user."
fi
. /etc/os-release 2>/dev/null || true
if [[ "${ID:-}" != debian ]] || ! command -v apt-get >/dev/null 2>&1; then
  die "this script installs Docker only on Debian (found ID=${ID:-unknown}). Fix: install Docker Engine >= 23 with your OS's packages, start it, and check 'docker info'."
fi
codename="${VERSION_CODENAME:-}"

# --- packages ------------------------------------------------------------------
# The mirror: the one the host already uses for its main suite.
mirror_of_host() {
  local m=""
  if compgen -G '/etc/apt/sources.list.d/*.sources' >/dev/null; then
    m=$(awk '/^URIs:/{u=$2} /^Suites:/{for(i=2;i<=NF;i++) if($i=="'"$codename"'") {print u; exit}}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  fi
  if [[ -z "$m" && -f /etc/apt/sources.list ]]; then
    m=$(awk '$1=="deb" && $0 ~ " '"$codename"' " {for(i=2;i<=NF;i++) if($i ~ /^(https?|file|ftp):/) {print $i; exit}}' /etc/apt/sources.list || true)
  fi
  echo "${m:-http://deb.debian.org/debian}"
}

need_install=0
# Any dockerd >= 23 will do (Debian's docker.io or Docker's docker-ce).
dver=$( (dockerd --version 2>/dev/null || true) | sed -nE 's/^Docker version ([0-9]+(\.[0-9]+)*).*/\1/p')
if [[ -z "$dver" ]] || dpkg --compare-versions "$dver" lt 23; then need_install=1; fi
command -v debootstrap >/dev/null 2>&1 || need_install=1

if [[ $need_install -eq 1 ]]; then
  export DEBIAN_FRONTEND=noninteractive
  pkgs=(docker.io docker-cli docker-buildx containerd)
  case "$codename" in
    bookworm)
      mirror=$(mirror_of_host)
      say "adding the $SUITE suite from $mirror (apt pin 100)"
      cat > /etc/apt/sources.list.d/statex-$SUITE.sources <<SRC
Types: deb
URIs: $mirror
Suites: $SUITE
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
      cat > /etc/apt/preferences.d/statex-$SUITE <<PIN
# Added by .ci/docker-engine.sh: take only explicitly requested packages from $SUITE.
Package: *
Pin: release n=$SUITE
Pin-Priority: 100
PIN
      pkgs=("${pkgs[@]/%//$SUITE}")
      ;;
    trixie|forky|sid|"") ;;   # the distribution's own docker.io is new enough
    *) die "Debian '$codename' is not supported. Fix: upgrade to Debian 12 or newer, or install Docker Engine >= 23 yourself." ;;
  esac
  say "apt-get update"
  apt-get update -qq >/dev/null || die "apt-get update failed. Fix: check /etc/apt/sources.list.d/ and network access to the Debian mirror."
  say "installing ${pkgs[*]} debootstrap"
  apt-get install -y -qq --no-install-recommends \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
      "${pkgs[@]}" iptables tini ca-certificates xz-utils debootstrap >/tmp/statex-docker-apt.log 2>&1 \
    || { tail -n 20 /tmp/statex-docker-apt.log >&2; die "apt-get install failed (full log: /tmp/statex-docker-apt.log)"; }
  say "installed docker.io $(dpkg-query -W -f='${Version}' docker.io)"
fi

# --- daemon -----------------------------------------------------------------------
DOCKERD=/usr/sbin/dockerd
[[ -x $DOCKERD ]] || DOCKERD=$(command -v dockerd) || die "dockerd not found after install"
if pgrep -x dockerd >/dev/null 2>&1; then
  say "dockerd already running (pid $(pgrep -x dockerd | head -1)); waiting for it"
else
  # A stale pid file from a killed daemon stops a new one from starting.
  if [[ -f /var/run/docker.pid ]] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then rm -f /var/run/docker.pid; fi
  if [[ -f /run/containerd/containerd.pid ]] && ! kill -0 "$(cat /run/containerd/containerd.pid 2>/dev/null)" 2>/dev/null; then rm -f /run/containerd/containerd.pid; fi
  say "starting $DOCKERD (log: $LOG)"
  mkdir -p "$(dirname "$LOG")"
  setsid nohup "$DOCKERD" >>"$LOG" 2>&1 </dev/null &
fi

# The client that PATH finds may be newer than the daemon (here /usr/local/bin/docker
# 28.x shadows Debian's 26.x); the CLI negotiates the API version down by itself.
start=$SECONDS
while ((SECONDS - start < WAIT)); do
  if docker_ok; then
    say "ready after $((SECONDS - start))s: $(docker version --format 'client {{.Client.Version}} ({{.Client.APIVersion}}) at '"$(command -v docker)"', server {{.Server.Version}} ({{.Server.APIVersion}})' 2>/dev/null)"
    exit 0
  fi
  pgrep -x dockerd >/dev/null 2>&1 || { tail -n 20 "$LOG" >&2 2>/dev/null || true; die "dockerd exited; see $LOG"; }
  sleep 1
done
tail -n 20 "$LOG" >&2 2>/dev/null || true
die "dockerd did not answer within ${WAIT}s; see $LOG"
