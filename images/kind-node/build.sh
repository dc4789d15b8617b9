#!/usr/bin/env bash
# Builds the kind node image (Kubernetes v1.34.4) with no registry, the way
# `kind build node-image` would if it could pull: start a container from
# statex/kind-base, copy kubeadm/kubelet/kubectl in, write /kind/version and
# the default CNI and storage manifests, import every image the node needs
# (docker save of the images listed in DEPENDS) into its containerd under the
# names kubeadm and the manifests use, then `docker commit`.
#   bash images/kind-node/build.sh        # statex/kind-node:v1.34.4
# Environment (all optional): TAG (default: ./TAG), KUBE_VERSION (v1.34.4),
#   EXTRA_CHANGES: newline-separated extra `docker commit --change` lines
#   (pipelines/images passes LABEL statex.io/input-hash=... this way).
# Needs a Docker daemon and the images named in DEPENDS (see README.md).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
images="$(dirname "$here")"
TAG="${TAG:-$(cat "$here/TAG")}"
KUBE_VERSION="${KUBE_VERSION:-v1.34.4}"
say() { echo "base: $*" >&2; }
die() { echo "kind-node: ERROR: $*" >&2; exit 1; }
t0=$(date +%s)
lap() { echo "kind-node: $1 done after $(( $(date +%s) - t0 ))s" >&2; }

command -v docker >/dev/null || die "docker is not installed"
docker version >/dev/null 2>&1 || die "no Docker daemon answers (run .ci/docker-engine.sh)"

# Resolve DEPENDS to image references (each directory's TAG).
tag_of() { local f="$images/$1/TAG"; [[ -f "$f" ]] || die "DEPENDS names $1 but $f does not exist"; tr -d ' \t\n' <"$f"; }
base="" bin="" components=() missing=()
while read -r name _; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  ref="$(tag_of "$name")"
  docker image inspect "$ref" >/dev/null 2>&1 || missing+=("$ref (images/$name)")
  case "$name" in
    kind-base) base="$ref" ;;
    kind-k8s-bin) bin="$ref" ;;
    *) components+=("$ref") ;;
  esac
done <"$here/DEPENDS"
[[ -n "$base" && -n "$bin" ]] || die "DEPENDS must name kind-base and kind-k8s-bin"
(( ${#missing[@]} == 0 )) || die "build these images first: ${missing[*]}"

build="kind-node-build-$$-$RANDOM"
tmp="$(mktemp -d)"
cleanup() { docker rm -f -v "$build" >/dev/null 2>&1 || true; [[ -n "${bincid:-}" ]] && docker rm -f "$bincid" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT
inside() { docker exec -i "$build" "$@"; }

say "build container from $base"
docker run -d --name "$build" --entrypoint sleep --security-opt seccomp=unconfined "$base" infinity >/dev/null

say "Kubernetes binaries from $bin"
bincid="$(docker create "$bin" /none)"
for b in kubeadm kubelet kubectl; do
  docker cp "$bincid:/$b" "$tmp/$b"
  docker cp "$tmp/$b" "$build:/usr/bin/$b"
  inside chown root:root "/usr/bin/$b"
  inside chmod 0755 "/usr/bin/$b"
done
got="$(inside kubeadm version -o short)"
[[ "$got" == "$KUBE_VERSION" ]] || die "kubeadm reports $got, want $KUBE_VERSION"
printf '%s' "$KUBE_VERSION" | inside sh -c 'cat >/kind/version'
inside mkdir -p /kind/manifests
inside sh -c 'cat >/kind/manifests/default-cni.yaml' <"$here/default-cni.yaml"
inside sh -c 'cat >/kind/manifests/default-storage.yaml' <"$here/default-storage.yaml"
lap "binaries and manifests"

# Every name the node must hold: kubeadm's list, the sandbox image of the
# node's containerd config, and the images the manifests run.
required="$( { inside kubeadm config images list --kubernetes-version "$KUBE_VERSION";
  inside sed -n 's/^ *sandbox_image *= *"\(.*\)".*/\1/p' /etc/containerd/config.toml;
  grep -ho 'image: *[^ ]*' "$here"/default-*.yaml | sed 's/image: *//';
  grep -h -A1 -- '--helper-image' "$here/default-storage.yaml" | grep -v -- '--helper-image' | sed 's/^ *- *//'; } | sort -u)"
# The names each component image provides (label statex.io/node-image-name).
declare -A provides=()
for ref in "${components[@]}"; do
  names="$(docker image inspect -f '{{index .Config.Labels "statex.io/node-image-name"}}' "$ref")"
  [[ -n "$names" ]] || die "$ref has no label statex.io/node-image-name"
  for n in $names; do provides[$n]="$ref"; done
done
for n in $required; do
  [[ -n "${provides[$n]:-}" ]] || die "the node needs $n but no image in DEPENDS provides it"
done

say "containerd: import ${#components[@]} images"
inside bash -c 'nohup containerd >/var/log/containerd-build.log 2>&1 &'
for i in $(seq 1 30); do inside ctr version >/dev/null 2>&1 && break; sleep 1; done
inside ctr version >/dev/null || die "containerd did not start in the build container"
for ref in "${components[@]}"; do
  docker save "$ref" | inside ctr --namespace=k8s.io images import \
      --label=io.cri-containerd.pinned=pinned --all-platforms --no-unpack - >/dev/null
  src="docker.io/$ref"
  [[ "$ref" == */*/* ]] && src="$ref"
  keep=false
  for n in $(docker image inspect -f '{{index .Config.Labels "statex.io/node-image-name"}}' "$ref"); do
    if [[ "$n" == "$src" ]]; then keep=true; continue; fi
    inside ctr --namespace=k8s.io images tag --force "$src" "$n" >/dev/null
  done
  $keep || inside ctr --namespace=k8s.io images rm "$src" >/dev/null
done
inside ctr --namespace=k8s.io images list -q | grep -v '^sha256:' >"$tmp/imported"
for n in $required; do grep -qxF "$n" "$tmp/imported" || die "$n is missing after the import"; done
inside pkill -x containerd || true
for i in $(seq 1 30); do inside pgrep -x containerd >/dev/null || break; sleep 1; done
inside rm -f /var/log/containerd-build.log
inside sh -c 'cat >/kind/images' <"$tmp/imported"
lap "image import"

say "docker commit $TAG"
changes=(--change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]'
         --change 'CMD []'
         --change "LABEL org.opencontainers.image.title=\"statex/kind-node\""
         --change "LABEL org.opencontainers.image.description=\"kind node image, Kubernetes $KUBE_VERSION, built offline from Debian packages and Go modules\""
         --change "LABEL org.opencontainers.image.version=\"$KUBE_VERSION\"")
if [[ -n "${EXTRA_CHANGES:-}" ]]; then
  while IFS= read -r line; do [[ -n "$line" ]] && changes+=(--change "$line"); done <<<"$EXTRA_CHANGES"
fi
docker commit "${changes[@]}" "$build" "$TAG" >/dev/null
lap "commit"
echo "kind-node: preloaded images:" >&2
sed 's/^/  /' "$tmp/imported" >&2
docker image inspect -f '{{.Id}}' "$TAG"
