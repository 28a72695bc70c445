#!/usr/bin/env bash
# Make the Debian bookworm base image the tests build on, and push it to the local registry
# as 127.0.0.1:5000/debian:bookworm. No internet registry is reachable here, so the root
# filesystem comes from debootstrap (minbase), kept in a cache folder between runs.
# Idempotent: each step is skipped when its result is already there.
set -euo pipefail

REGISTRY=${TESSERA_TEST_REGISTRY_ADDR:-127.0.0.1:5000}
IMAGE=${TESSERA_TEST_BASE_IMAGE:-debian:bookworm}
MIRROR=${TESSERA_DEBIAN_MIRROR:-http://deb.debian.org/debian}
DRIVER=${TESSERA_BUILDAH_STORAGE_DRIVER:-vfs}
CACHE=${TESSERA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tessera}
ROOTFS=$CACHE/rootfs/debian-bookworm-minbase
LOCAL=localhost/tessera-base/$IMAGE
REMOTE=$REGISTRY/$IMAGE

buildah() { command buildah --storage-driver "$DRIVER" "$@"; }
in_registry() {
  curl -fsS -m 5 -o /dev/null -I \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://$REGISTRY/v2/${IMAGE%%:*}/manifests/${IMAGE##*:}"
}

missing=()
# `type -P`, not `command -v`: the buildah function above would hide a missing binary.
type -P buildah >/dev/null || missing+=(buildah)
type -P debootstrap >/dev/null || missing+=(debootstrap)
type -P curl >/dev/null || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
  echo "base image: installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if in_registry 2>/dev/null; then
  echo "base image: $REMOTE present"
  exit 0
fi

if [ ! -e "$ROOTFS/.tessera-complete" ]; then
  echo "base image: debootstrap minbase bookworm into $ROOTFS"
  rm -rf "$ROOTFS"
  mkdir -p "$ROOTFS"
  debootstrap --variant=minbase bookworm "$ROOTFS" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
    || { echo "debootstrap failed; see $CACHE/debootstrap.log" >&2; exit 1; }
  # Debootstrap leaves its package cache and the host's resolver; neither belongs in an image.
  rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
  touch "$ROOTFS/.tessera-complete"
fi

if ! buildah inspect --type image "$LOCAL" >/dev/null 2>&1; then
  echo "base image: importing $ROOTFS as $LOCAL"
  container=$(buildah from scratch)
  trap 'buildah rm "$container" >/dev/null 2>&1 || true' EXIT
  buildah copy --quiet "$container" "$ROOTFS/" / >/dev/null
  buildah run --isolation chroot "$container" -- rm -f /.tessera-complete
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 --cmd /bin/bash --os linux --arch "$(dpkg --print-architecture)" \
    --label org.opencontainers.image.source=debootstrap "$container"
  buildah commit --quiet --rm "$container" "$LOCAL" >/dev/null
  trap - EXIT
fi

echo "base image: pushing $REMOTE"
buildah push --quiet --tls-verify=false "$LOCAL" "docker://$REMOTE"
in_registry || { echo "base image: $REMOTE not in the registry after the push" >&2; exit 1; }
echo "base image: $REMOTE ready"
