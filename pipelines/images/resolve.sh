#!/bin/sh
# Resolves Debian package specs against the archive as it is now. Run by
# pipelines/images in a throw-away container of the base image (the image
# every Debian-based recipe is built FROM), so apt sees exactly the suites and
# the package set the builds start from. Nothing is installed.
#
# Arguments: one per image, "IMAGE SPEC SPEC ...", SPEC = PKG or PKG=GLOB
# (GLOB matches the version with or without its epoch: 1.6.* or 8.4*).
# Output, one fact a line (parsed in apt.go):
#   SUITES s1 s2 ...                 suites apt reads
#   UPGRADE PKG OLD NEW              a base package the archive has newer
#   UPGRADE-FAILED LINE              apt cannot plan the base's upgrade
#   RESOLVED IMAGE PKG VERSION       the version a spec resolves to
#   MISSING IMAGE PKG GLOB V1,V2     no version matches; what the archive offers
#   INSTALL IMAGE PKG VERSION        what apt would install over the base
#   SIMFAIL IMAGE LINE               apt could not plan the install
#   UPDATE-FAILED LINE               apt-get update failed
#
# /var/lib/statex-apt is a volume kept between runs: apt's lists (so an update
# fetches only what changed) and the last answer, reused while the archive's
# Release files, the base image (STATEX_BASE) and the specs are the same.
set -u
set -f # specs hold globs: never expand them against the file system
export DEBIAN_FRONTEND=noninteractive
state=/var/lib/statex-apt
mkdir -p "$state/lists/partial"
# The base keeps no package cache (every apt call would rebuild it, ~1 s);
# this throw-away container may.
cat >/etc/apt/apt.conf.d/99statex-resolve <<CONF
Dir::State::Lists "$state/lists";
Dir::Cache::pkgcache "/tmp/pkgcache.bin";
Dir::Cache::srcpkgcache "/tmp/srcpkgcache.bin";
CONF
n=1
until apt-get update -qq >/tmp/update.log 2>&1; do
  if [ "$n" -ge 3 ]; then
    echo "UPDATE-FAILED $(tail -n 3 /tmp/update.log | tr '\n' ' ')"
    exit 0
  fi
  n=$((n + 1))
  sleep 5
done
key=$({ cat "$state"/lists/*Release 2>/dev/null; echo "${STATEX_BASE:-}"; printf '%s\n' "$@"; } | sha256sum | cut -d' ' -f1)
if [ -s "$state/answer-$key" ]; then
  cat "$state/answer-$key"
  exit 0
fi
rm -f "$state"/answer-*
exec 3>&1 >"$state/answer-$key.tmp"
echo "SUITES $(apt-cache policy | sed -n 's/.* release .*,n=\([^,]*\),.*/\1/p' | sort -u | tr '\n' ' ')"
# "Inst libc6 [2.41-11] (2.41-12 Debian-Security:13/stable-security [amd64])"
if out=$(apt-get -s -o Debug::NoLocking=1 dist-upgrade 2>&1); then
  printf '%s\n' "$out" | sed -n 's/^Inst \([^ ]*\) \[\([^]]*\)\] (\([^ ]*\) .*/UPGRADE \1 \2 \3/p'
else
  # A base apt cannot plan an upgrade for is not up to date either.
  printf '%s\n' "$out" | tail -n 3 | sed 's/^/UPGRADE-FAILED /'
fi
for line in "$@"; do
  # shellcheck disable=SC2086 # word splitting is the point; globbing is off
  set -- $line
  image=$1
  shift
  pins=""
  ok=1
  for spec in "$@"; do
    name=${spec%%=*}
    glob=""
    case $spec in *=*) glob=${spec#*=} ;; esac
    pick=""
    if [ -z "$glob" ]; then
      pick=$(apt-cache policy "$name" 2>/dev/null | sed -n 's/^ *Candidate: //p')
      [ "$pick" = "(none)" ] && pick=""
    else
      # madison lists a package's versions highest first.
      for v in $(apt-cache madison "$name" 2>/dev/null | awk -F'|' '{gsub(/ /, "", $2); print $2}'); do
        case $v in $glob) pick=$v; break ;; esac
        case ${v#*:} in $glob) pick=$v; break ;; esac
      done
    fi
    if [ -z "$pick" ]; then
      offers=$(apt-cache madison "$name" 2>/dev/null | awk -F'|' '{gsub(/ /, "", $2); print $2}' | tr '\n' ',' | sed 's/,$//')
      echo "MISSING $image $name ${glob:-*} ${offers:-none}"
      ok=0
      continue
    fi
    echo "RESOLVED $image $name $pick"
    pins="$pins $name=$pick"
  done
  [ "$ok" = 1 ] || continue
  # shellcheck disable=SC2086
  if out=$(apt-get -s -o Debug::NoLocking=1 install --no-install-recommends $pins 2>&1); then
    # "Inst pkg (1.2-3 Debian:13/stable [amd64])", or "Inst pkg [old] (new ...)"
    printf '%s\n' "$out" | sed -n "s/^Inst \([^ ]*\) \(\[[^]]*\] \)\{0,1\}(\([^ ]*\) .*/INSTALL $image \1 \3/p"
  else
    printf '%s\n' "$out" | grep -v '^NOTE\|^Reading\|^Building' | tail -n 8 | sed "s/^/SIMFAIL $image /"
  fi
done
exec >&3
mv "$state/answer-$key.tmp" "$state/answer-$key"
cat "$state/answer-$key"
