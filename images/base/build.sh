#!/usr/bin/env bash
# Builds the statex/debian base image with no registry: debootstrap a minbase
# Debian root file system from a Debian mirror, trim it, `docker import` it.
#   sudo bash images/base/build.sh            # statex/debian:trixie
# Environment (all optional):
#   SUITE=trixie  MIRROR=http://deb.debian.org/debian
#   SECURITY_MIRROR=http://deb.debian.org/debian-security
#   TAG=statex/debian:$SUITE   WORKDIR=(mktemp -d)   KEEP_ROOTFS=0
#   EXTRA_CHANGES: newline-separated extra `docker import --change` lines
#     (pipelines/images passes LABEL statex.io/input-hash=... this way)
# Needs root, debootstrap and a Docker daemon. Prints the image ID last.
set -euo pipefail

SUITE="${SUITE:-trixie}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
TAG="${TAG:-statex/debian:$SUITE}"
say() { echo "base: $*" >&2; }

[[ $(id -u) -eq 0 ]] || { say "ERROR: debootstrap needs root (run with sudo)"; exit 1; }
command -v debootstrap >/dev/null || { say "ERROR: debootstrap is not installed. Fix: apt-get install -y debootstrap (or run .ci/docker-engine.sh)"; exit 1; }

work="${WORKDIR:-$(mktemp -d /var/tmp/statex-base.XXXXXX)}"
root="$work/rootfs"
cleanup() { [[ "${KEEP_ROOTFS:-0}" == 1 ]] || rm -rf "$work"; }
trap cleanup EXIT
rm -rf "$root"

say "debootstrap --variant=minbase $SUITE from $MIRROR"
debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 || {
  tail -n 15 "$work/debootstrap.log" >&2; say "ERROR: debootstrap failed (log above)"; exit 1; }

say "trimming"
# Sources: the release, its updates and security suites (deb822).
rm -f "$root/etc/apt/sources.list"
cat >"$root/etc/apt/sources.list.d/debian.sources" <<SRC
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY_MIRROR
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
# No recommends, no docs/man pages (copyright files are kept), no cached .debs.
cat >"$root/etc/apt/apt.conf.d/90statex" <<'CONF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
Dpkg::Use-Pty "false";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CONF
cat >"$root/etc/dpkg/dpkg.cfg.d/90statex-nodoc" <<'CONF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
CONF
# The helper the service Dockerfiles use (update, install pinned, clean).
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
install -m 0755 "$here/install-packages" "$root/usr/local/sbin/install-packages"
# Package scripts must not try to start services in an image build.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
# debootstrap takes the release suite only: bring in what trixie-updates and
# trixie-security have since, so the base holds no package the archive has a
# newer version of (pipelines/images rebuilds a base that does).
say "apt-get dist-upgrade from $SUITE-updates and $SUITE-security"
cp /etc/resolv.conf "$root/etc/resolv.conf"
{ chroot "$root" apt-get update -qq && chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get -y -qq dist-upgrade; } >"$work/upgrade.log" 2>&1 || {
  tail -n 15 "$work/upgrade.log" >&2; say "ERROR: apt-get dist-upgrade in the new root failed (log above)"; exit 1; }
: >"$root/etc/resolv.conf"
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* \
       "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
       "$root"/var/log/* "$root"/tmp/* "$root"/var/tmp/*
mkdir -p "$root/var/lib/apt/lists/partial" "$root/var/cache/apt/archives/partial"
# A fresh machine-id is made per container; the import must not carry one.
: >"$root/etc/machine-id"
# Record the package set.
mkdir -p "$root/usr/share/statex"
chroot "$root" dpkg-query -W -f='${Package}=${Version}\n' >"$root/usr/share/statex/base-packages.txt"

# Every package of the base at its exact version, as a label (images/README.md).
installed=$(chroot "$root" dpkg-query -W -f='${Package}=${Version},' | sed 's/,$//')
changes=(--change "ENV LANG=C.UTF-8"
         --change "LABEL statex.io/apt-installed=$installed"
         --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
         --change 'CMD ["bash"]'
         --change "LABEL org.opencontainers.image.title=\"$TAG\""
         --change "LABEL org.opencontainers.image.description=\"Debian $SUITE minbase, debootstrap from $MIRROR\"")
if [[ -n "${EXTRA_CHANGES:-}" ]]; then
  while IFS= read -r line; do [[ -n "$line" ]] && changes+=(--change "$line"); done <<<"$EXTRA_CHANGES"
fi
say "docker import $TAG"
tar --numeric-owner --xattrs -C "$root" -c . | docker import "${changes[@]}" - "$TAG" >"$work/id"
cat "$work/id"
