#!/bin/bash
# On cgroup v1 the entrypoint bind-mounts a copy of /proc/cgroups without the
# misc controller until systemd is up; remove that overlay again.
set -euo pipefail
[[ -f /sys/fs/cgroup/cgroup.controllers ]] && exit 0
umount /proc/cgroups 2>/dev/null || true
