#!/bin/bash
# cgroup v2 only: create the kubelet's cgroup roots (/kubelet for cgroupfs,
# /kubelet.slice for the systemd driver) with every available controller
# delegated, including those (hugetlb) the root does not enable by default.
set -euo pipefail
root=/sys/fs/cgroup
[[ -f $root/cgroup.controllers ]] || { echo "not a cgroup v2 host" >&2; exit 1; }
if grep -qv '^0$' "$root/cgroup.procs"; then
  echo "processes remain in the root cgroup; run this after systemd has started" >&2
  exit 1
fi
enable_all() { sed -e 's/^/+/' -e 's/ / +/g' "$root/$1/cgroup.controllers" >"$root/$1/cgroup.subtree_control"; }
enable_all .
for g in kubelet kubelet.slice; do
  mkdir -p "$root/$g"
  enable_all "$g"
done
