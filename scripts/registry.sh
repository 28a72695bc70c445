#!/usr/bin/env bash
# Make sure an OCI registry serves 127.0.0.1:5000 (Debian's docker-registry, filesystem storage).
# Idempotent: a registry that already answers is left alone; a missing one is installed.
set -euo pipefail

ADDR=${TESSERA_TEST_REGISTRY_ADDR:-127.0.0.1:5000}
CACHE=${TESSERA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tessera}
STORAGE=${TESSERA_REGISTRY_STORAGE:-$CACHE/registry}
CONFIG=$CACHE/registry.yml

answers() { curl -fsS -m 2 -o /dev/null "http://$ADDR/v2/"; }

command -v curl >/dev/null 2>&1 || {
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >/dev/null
}
if answers 2>/dev/null; then
  echo "registry: running on $ADDR"
  exit 0
fi
if ! command -v docker-registry >/dev/null 2>&1; then
  echo "registry: installing docker-registry"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry curl >/dev/null
fi
mkdir -p "$STORAGE"
cat >"$CONFIG" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $STORAGE
  delete:
    enabled: true
http:
  addr: $ADDR
YAML
# setsid + nohup: the registry outlives `make` and the shell that started it.
setsid nohup docker-registry serve "$CONFIG" >"$CACHE/registry.log" 2>&1 </dev/null &
for _ in $(seq 1 60); do
  if answers 2>/dev/null; then
    echo "registry: started on $ADDR (storage $STORAGE)"
    exit 0
  fi
  sleep 0.5
done
echo "registry did not start; see $CACHE/registry.log" >&2
exit 1
