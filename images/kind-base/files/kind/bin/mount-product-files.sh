#!/bin/bash
# containerd createContainer hook (see /etc/containerd/cri-base.json): give the
# container its own copy of the node's fake product_name/product_uuid and bind
# them over the DMI files, so containers never share one bind-mounted file.
set -euo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
bundle="$(jq -r .bundle)"
rootfs="${bundle:?}/rootfs"
cp /kind/product_* "$rootfs/"
bind_ro() { [[ -f "$2" ]] && mount -o ro,bind "$rootfs/$1" "$rootfs$2" || true; }
bind_ro product_name /sys/class/dmi/id/product_name
bind_ro product_uuid /sys/class/dmi/id/product_uuid
bind_ro product_uuid /sys/devices/virtual/dmi/id/product_uuid
