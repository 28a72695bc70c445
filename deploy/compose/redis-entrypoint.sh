#!/bin/sh
# As redis:7's: `redis-server` given no config file accepts clients from other containers
# (protected mode off, every address), like the public image.
set -eu
if [ "${1:-}" = redis-server ] && [ "${2:-}" = "${2#/}" ]; then
  shift
  exec redis-server --bind '* -::*' --protected-mode no "$@"
fi
exec "$@"
