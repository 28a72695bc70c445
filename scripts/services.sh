#!/usr/bin/env bash
# Make sure the servers the tests need run on loopback: PostgreSQL and Redis.
# Idempotent: a running server is left alone; a missing one is installed and started.
set -euo pipefail

PG_PASSWORD=${TESSERA_TEST_PG_PASSWORD:-tessera}
apt_updated=0

have() { command -v "$1" >/dev/null 2>&1; }

apt_install() {
  if [ "$apt_updated" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

wait_for() {  # wait_for SECONDS COMMAND...
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then return 1; fi
    sleep 0.5
  done
}

postgres() {
  if have pg_isready && pg_isready -q -h 127.0.0.1 -p 5432; then
    echo "postgres: running"
  else
    have pg_ctlcluster || { echo "postgres: installing"; apt_install postgresql; }
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    wait_for 60 pg_isready -q -h 127.0.0.1 -p 5432 || { echo "postgres did not start" >&2; exit 1; }
    echo "postgres: started"
  fi
  # Works with trust auth (ignored) and with password auth of a fresh install.
  if ! PGPASSWORD=$PG_PASSWORD psql -h 127.0.0.1 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; then
    su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD '$PG_PASSWORD'\""
  fi
}

redis() {
  if have redis-cli && redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then
    echo "redis: running"
    return
  fi
  have redis-server || { echo "redis: installing"; apt_install redis-server; }
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/tessera.log
  wait_for 30 redis-cli -h 127.0.0.1 ping || { echo "redis did not start" >&2; exit 1; }
  echo "redis: started"
}

for service in "${@:-postgres redis}"; do
  for name in $service; do "$name"; done
done
