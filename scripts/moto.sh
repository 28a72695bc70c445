#!/usr/bin/env bash
# moto's standalone server on loopback: a real S3 and EC2 API over HTTP for the S3 artifact
# store's and the ec2 testbed's tests (moto boots no instance: tests/ec2_harness.py runs their
# user data). Idempotent: a server that answers is left alone; moto[server] comes with the
# dev extras (pip install -e ".[dev]").
set -euo pipefail

PORT=${TESSERA_TEST_MOTO_PORT:-5055}
BIN=${VENV_BIN:-.venv/bin}
LOG=${TMPDIR:-/tmp}/tessera-moto-$PORT.log

answers() { "$BIN/python" - "$PORT" <<'PY' >/dev/null 2>&1
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/", timeout=2)
PY
}

if answers; then
  echo "moto: running on 127.0.0.1:$PORT"
  exit 0
fi
test -x "$BIN/moto_server" || { echo "moto: $BIN/moto_server missing (make install)" >&2; exit 1; }
nohup "$BIN/moto_server" -H 127.0.0.1 -p "$PORT" >"$LOG" 2>&1 </dev/null &
for _ in $(seq 1 60); do
  if answers; then echo "moto: started on 127.0.0.1:$PORT"; exit 0; fi
  sleep 0.5
done
echo "moto did not start (see $LOG)" >&2
exit 1
