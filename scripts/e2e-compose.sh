#!/usr/bin/env bash
# `make e2e-compose`: docker-compose.yml started for real under podman, with images made here.
# 1. Tools (idempotent; apt-get only for what is missing): podman, buildah, runc, debootstrap,
#    docker-registry; podman-compose from PyPI in a venv of its own (Debian's 1.0.3 ignores
#    --scale); the registry on 127.0.0.1:5000 and the Debian base (scripts/registry.sh,
#    scripts/base-image.sh).
# 2. Images, cached in podman's storage under $CACHE (layers: a rerun rebuilds only what
#    changed): Tessera's from deploy/docker/Dockerfile on the Debian base, and Postgres, Redis,
#    the registry and Prometheus from deploy/compose/servers.Containerfile.
# 3. scripts/e2e_compose.py: the stack up, deployments, scaling, upgrade, backup and restore;
#    it removes its containers, networks and volumes at the end, failed or not.
# Podman here: runc (crun refuses this cgroup v1 hierarchy), cgroupfs, no default ulimits,
# overlay storage in a folder of its own (not the vfs storage the image-build tests use).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
REGISTRY=${TESSERA_TEST_REGISTRY_ADDR:-127.0.0.1:5000}
BASE=${TESSERA_E2E_BASE:-$REGISTRY/debian:bookworm}
CACHE=${TESSERA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tessera}
E2E=$CACHE/e2e-compose
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
export DEBIAN_FRONTEND=noninteractive

started=$(date +%s)
missing=()
for tool in podman buildah runc debootstrap docker-registry; do
  type -P "$tool" >/dev/null || missing+=("$tool")
done
type -P aardvark-dns >/dev/null || test -x /usr/lib/podman/aardvark-dns || missing+=(aardvark-dns)
if [ ${#missing[@]} -gt 0 ]; then
  echo "e2e-compose: installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" </dev/null >/dev/null
fi

mkdir -p "$E2E"
# Written each time (cheap), so a changed recipe takes effect; the storage itself is kept.
cat >"$E2E/containers.conf" <<'CONF'
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
cat >"$E2E/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$E2E/storage"
runroot = "$E2E/run"
CONF
export CONTAINERS_CONF=$E2E/containers.conf CONTAINERS_STORAGE_CONF=$E2E/storage.conf
# Overlay needs a kernel and a file system that take it (not one inside another overlay):
# otherwise vfs, slower (a full copy per layer and per container) but anywhere.
if [ ! -d "$E2E/storage" ] && ! podman info >/dev/null 2>&1; then
  sed -i 's/driver = "overlay"/driver = "vfs"/' "$E2E/storage.conf"
fi
if [ -f "$E2E/storage/vfs-images/images.json" ]; then
  sed -i 's/driver = "overlay"/driver = "vfs"/' "$E2E/storage.conf"
fi

if [ ! -x "$E2E/podman-compose/bin/podman-compose" ]; then
  echo "e2e-compose: podman-compose from PyPI into $E2E/podman-compose"
  python3 -m venv "$E2E/podman-compose"
  "$E2E/podman-compose/bin/pip" install -q --disable-pip-version-check "podman-compose>=1.3,<2"
fi

"$ROOT/scripts/registry.sh"
"$ROOT/scripts/base-image.sh"

# Where PyPI is reached through a TLS proxy, the build needs the host's CA bundle (mounted for
# the build only; nothing of it stays in the image).
ca_args=()
CA=${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}
if [ -f "$CA" ]; then
  ca_args=(-v "$CA:/run/pip-ca.crt:ro" --build-arg PIP_CA=/run/pip-ca.crt)
fi
build() {
  buildah bud --quiet --isolation chroot --layers --tls-verify=false \
    --build-arg BASE="$BASE" "$@" >/dev/null
}
images_started=$(date +%s)
echo "e2e-compose: building localhost/tessera:e2e (deploy/docker/Dockerfile on $BASE)"
build "${ca_args[@]}" --build-arg DEBIAN_BASE="$BASE" -f "$ROOT/deploy/docker/Dockerfile" \
  -t localhost/tessera:e2e "$ROOT"
for server in postgres redis registry prometheus; do
  echo "e2e-compose: building localhost/tessera-e2e/$server (Debian's packages)"
  build --target "$server" -f "$ROOT/deploy/compose/servers.Containerfile" \
    -t "localhost/tessera-e2e/$server:latest" "$ROOT/deploy/compose"
done
echo "e2e-compose: images ready in $(($(date +%s) - images_started)) s"

export TESSERA_E2E_COMPOSE="$E2E/podman-compose/bin/podman-compose"
export TESSERA_E2E_SETUP_S=$(($(date +%s) - started))
exec "$PYTHON" "$ROOT/scripts/e2e_compose.py" </dev/null
