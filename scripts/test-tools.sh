#!/usr/bin/env bash
# The tools the deploy and metrics tests run for real: Prometheus (with promtool) and
# docker-compose 1.29 (`docker-compose config` needs no Docker engine); Chromium, which the
# dashboard's browser tests drive through Playwright (tests/integration/test_dashboard.py).
# Idempotent: a tool already on PATH is left alone; missing ones come from Debian's packages.
set -euo pipefail

missing=()
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
test -x /usr/bin/chromium || missing+=(chromium fonts-liberation)

if [ "${#missing[@]}" -eq 0 ]; then
  echo "test tools: present"
  exit 0
fi
echo "test tools: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# No recommends: docker-compose recommends the Docker engine and Prometheus its node
# exporter, neither of which the tests start (Chromium runs headless: no desktop).
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
command -v prometheus >/dev/null && command -v promtool >/dev/null && command -v docker-compose >/dev/null
test -x /usr/bin/chromium
echo "test tools: installed"
