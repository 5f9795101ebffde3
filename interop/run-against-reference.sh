#!/usr/bin/env bash
# Proves the harness against Auth.js itself: starts the reference servers (@auth/core 0.41.3
# and next-auth 4.24.15) on free loopback ports, runs the official clients against them
# (client-v5.mjs / client-v4.mjs, with --example and --secret), runs the jwe.mjs self-test and
# re-checks the committed fixtures. Exits non-zero if anything fails.
set -uo pipefail
cd "$(dirname "$0")"

[ -d node_modules ] || npm ci --no-audit --no-fund >/dev/null

SECRET="${AUTH_SECRET:-interop-reference-secret-0123456789abcdef}"
LOGDIR="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$LOGDIR"
}
trap cleanup EXIT

# start_server SCRIPT NAME -> sets BASE to its auth base URL
start_server() {
  local script="$1" name="$2" out="$LOGDIR/$2.out"
  AUTH_SECRET="$SECRET" PORT=0 node "$script" >"$out" 2>"$LOGDIR/$name.err" &
  PIDS+=("$!")
  for _ in $(seq 1 100); do
    BASE="$(grep -o 'http://127\.0\.0\.1:[0-9]*/api/auth' "$out" 2>/dev/null | head -n1)"
    [ -n "$BASE" ] && return 0
    if ! kill -0 "${PIDS[-1]}" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "could not start $name:" >&2
  cat "$LOGDIR/$name.err" >&2
  exit 1
}

PASSED=0
FAILED=0
# step NAME CMD... : runs CMD, tallies node:test "# pass/# fail" lines (or 1 pass/fail by exit code)
step() {
  local name="$1"
  shift
  echo "=== $name"
  local log="$LOGDIR/step.log"
  "$@" 2>&1 | tee "$log"
  local rc="${PIPESTATUS[0]}"
  local p f
  p="$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$log")"
  f="$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$log")"
  if [ -z "$p" ]; then
    p="$(sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$log" | tail -n1)"
    f="$(sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$log" | tail -n1)"
  fi
  p="${p:-0}"
  f="${f:-0}"
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  PASSED=$((PASSED + p))
  FAILED=$((FAILED + f))
  echo "--- $name: $p passed, $f failed (exit $rc)"
}

step "jwe.mjs selftest" node jwe.mjs selftest
step "fixtures check" node make-fixtures.mjs --check

start_server reference-server.mjs reference-v5
step "client-v5 vs @auth/core 0.41.3 ($BASE)" node client-v5.mjs --base "$BASE" --example --secret "$SECRET"

start_server reference-server-v4.mjs reference-v4
step "client-v4 vs next-auth 4.24.15 ($BASE)" node client-v4.mjs --base "$BASE" --example --secret "$SECRET"

if [ "$FAILED" -ne 0 ]; then
  for f in "$LOGDIR"/*.err; do
    echo "=== server log $(basename "$f")"
    cat "$f"
  done
fi
echo "reference: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
