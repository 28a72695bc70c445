#!/usr/bin/env bash
# The whole suite, as `make test` runs it: the unit tests (CPU work, no testbeds) in a pytest
# session of their own beside the rest (real services, mostly waiting on them), so neither
# waits for the other. Output of the unit session follows the other's; the exit code is the
# first failure's.
set -uo pipefail
BIN=${VENV_BIN:-.venv/bin}
unit_log=$(mktemp)
trap 'rm -f "$unit_log"' EXIT
"$BIN/pytest" -q -p no:cacheprovider tests/unit >"$unit_log" 2>&1 &
unit=$!
"$BIN/pytest" -q --ignore=tests/unit "$@"
rest=$?
wait "$unit"
unit_rc=$?
echo "--- tests/unit ---"
cat "$unit_log"
if [ "$rest" -ne 0 ]; then exit "$rest"; fi
exit "$unit_rc"
