#!/usr/bin/env bash
# End-to-end OAuth/OIDC sign-in of portcullis through a real OpenID Provider (op.mjs, panva's
# oidc-provider), driven by flow.mjs as a browser would.
#
#   bash interop/oidc/run.sh BIN          # BIN = the portcullis server, e.g. "$CARGO_TARGET_DIR/debug/portcullis"
#   bash interop/oidc/run.sh --reference  # the same flows against Auth.js itself (reference-rp.mjs,
#                                         # @auth/core from interop/node_modules): proves the harness,
#                                         # including that an uncoordinated refresh FAILS (naive-refresh)
#
# Every run is independent: its own free ports, temp dir, OP (fresh keys, in-memory store) and
# server (its own ./data/portcullis.db). First the OP self-test (flow.mjs --selftest), then:
#   database          sign-in, session, callback replay, altered callbacks, and the official
#                     next-auth/react client (client.mjs: getProviders, signIn)  (PORTCULLIS_STRATEGY=database)
#   jwt               the same                                               (PORTCULLIS_STRATEGY=jwt)
#   database-refresh  OP access tokens of 3 s: 10 concurrent session reads make one refresh, then a
#                     second one later                   (database, PORTCULLIS_OAUTH_REFRESH_WINDOW=1)
#   jwt-refresh       the same with JWT sessions
#   logout            RP-initiated logout at the OP      (database, PORTCULLIS_OAUTH_RP_LOGOUT=true)
# One summary line per run; the flow output, server log and OP log of a failed run are printed.
# Exits non-zero if any run failed. OIDC_RUNS="jwt logout" limits the runs (self-test always
# runs); OIDC_KEEP=1 keeps the run directories (flow.out, events.jsonl, op.log, server.log).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)

mode=server
bin=
case "${1:-}" in
  --reference) mode=reference ;;
  "" | -h | --help)
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
    exit 2
    ;;
  *)
    bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
    if [ ! -x "$bin" ]; then
      echo "run.sh: $1 is not an executable (build it: cargo build -p portcullis-server)" >&2
      exit 2
    fi
    ;;
esac

if [ ! -d "$here/node_modules/oidc-provider" ] || [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
  echo "== npm ci (interop/oidc)"
  npm ci --prefix "$here" --no-audit --no-fund --loglevel=error || exit 1
fi
if [ "$mode" = reference ] && [ ! -d "$here/../node_modules/@auth/core" ]; then
  echo "== npm ci (interop, for @auth/core)"
  npm ci --prefix "$here/.." --no-audit --no-fund --loglevel=error || exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-oidc.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ -n "${OIDC_KEEP:-}" ]; then echo "run dirs kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# Hex, so a secret never starts with "-" (parseArgs would read it as an option); they are
# also always passed as --opt=VALUE for the same reason.
random_secret() { python3 -c "import secrets; print(secrets.token_hex($1))"; }

# start_op DIR PORT ARGS... : starts op.mjs, waits for "ready"; sets op_pid. Returns 1 if it did not come up.
start_op() {
  local dir=$1 port=$2; shift 2
  node "$here/op.mjs" --port "$port" "$@" >"$dir/op.out" 2>"$dir/op.log" &
  op_pid=$!
  pids+=("$op_pid")
  for _ in $(seq 1 100); do
    grep -q '^ready ' "$dir/op.out" 2>/dev/null && return 0
    kill -0 "$op_pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# wait_http URL PID : until URL answers 2xx (10 s), or PID dies.
wait_http() {
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

stop() {
  for p in "$@"; do kill "$p" 2>/dev/null || true; done
  for p in "$@"; do wait "$p" 2>/dev/null || true; done
}

passed=0
failed=0
status=0
client_id=portcullis-test

# report NAME DIR OK T0 : one summary line; on failure the logs
report() {
  local name=$1 dir=$2 ok=$3 t0=$4 last
  # Every `ok N checks` line of the run (flow.mjs, then client.mjs when it ran).
  last=$(grep -E '^ok [0-9]+ checks' "$dir/flow.out" 2>/dev/null | paste -sd '+' -)
  [ -n "$last" ] || last=$(tail -n 1 "$dir/flow.out" 2>/dev/null)
  if [ "$ok" = 1 ]; then
    passed=$((passed + 1))
    printf -- '-- %-18s %s (%ss)\n' "$name" "$last" "$((SECONDS - t0))"
  else
    failed=$((failed + 1)); status=1
    printf -- '-- %-18s FAILED: %s (%ss)\n' "$name" "$(grep -m1 '^# fail ' "$dir/flow.out" 2>/dev/null || echo "$last")" "$((SECONDS - t0))"
    echo "---- $name: flow output"; cat "$dir/flow.out" 2>/dev/null
    if [ -f "$dir/server.log" ]; then echo "---- $name: server log"; cat "$dir/server.log"; fi
    echo "---- $name: OP log"; cat "$dir/op.out" "$dir/op.log" 2>/dev/null
    echo "---- $name: end"
  fi
}

selftest() {
  local dir="$work/selftest" t0=$SECONDS port ok=0 secret
  mkdir -p "$dir"
  port=$(free_port)
  secret=$(random_secret 24)
  # Nothing listens on 127.0.0.1:9: the self-test reads codes and post-logout redirects from Location.
  if start_op "$dir" "$port" --client-id "$client_id" --client-secret="$secret" \
    --redirect-uri http://127.0.0.1:9/selftest/callback \
    --post-logout-redirect-uri http://127.0.0.1:9/selftest/logged-out \
    --access-ttl 3 --events "$dir/events.jsonl"; then
    node "$here/flow.mjs" --selftest --issuer "http://127.0.0.1:$port" --client-id "$client_id" --client-secret="$secret" \
      --redirect-uri http://127.0.0.1:9/selftest/callback --post-logout-redirect-uri http://127.0.0.1:9/selftest/logged-out \
      --access-ttl 3 --events "$dir/events.jsonl" >"$dir/flow.out" 2>&1 && ok=1
  else
    echo "OP did not start" >"$dir/flow.out"
  fi
  stop "$op_pid"
  report selftest "$dir" "$ok" "$t0"
}

# run NAME STRATEGY KIND : KIND = signin | refresh | logout | naive-refresh (reference only: must fail)
run() {
  local name=$1 strategy=$2 kind=$3
  local dir="$work/$name" t0=$SECONDS ok=0 op_port srv_port secret origin
  local ttl=3600 op_args=() flow_args=() env_extra=() rp_args=()
  mkdir -p "$dir/server"
  op_port=$(free_port)
  srv_port=$(free_port)
  secret=$(random_secret 24)
  origin="http://127.0.0.1:$srv_port"
  case "$kind" in
    signin)
      flow_args+=(--tamper)
      ;;
    refresh)
      ttl=3
      flow_args+=(--refresh --access-ttl "$ttl")
      env_extra+=(PORTCULLIS_OAUTH_REFRESH_WINDOW=1)
      rp_args+=(--refresh coalesced)
      ;;
    naive-refresh)
      ttl=3
      flow_args+=(--refresh --access-ttl "$ttl" --no-replay)
      rp_args+=(--refresh naive)
      ;;
    logout)
      flow_args+=(--logout --require-rp-logout --post-logout-redirect-uri "$origin/")
      env_extra+=(PORTCULLIS_OAUTH_RP_LOGOUT=true)
      rp_args+=(--rp-logout "$origin/")
      ;;
  esac
  if ! start_op "$dir" "$op_port" --client-id "$client_id" --client-secret="$secret" \
    --redirect-uri "$origin/api/auth/callback/oidc" --post-logout-redirect-uri "$origin/" \
    --access-ttl "$ttl" --events "$dir/events.jsonl" "${op_args[@]}"; then
    echo "OP did not start" >"$dir/flow.out"
    report "$name" "$dir" 0 "$t0"
    stop "$op_pid"
    return
  fi
  if [ "$mode" = server ]; then
    (cd "$dir/server" && exec env AUTH_SECRET="$(random_secret 33)" AUTH_URL="$origin" PORTCULLIS_LISTEN="127.0.0.1:$srv_port" \
      AUTH_OIDC_ISSUER="http://127.0.0.1:$op_port" AUTH_OIDC_ID="$client_id" AUTH_OIDC_SECRET="$secret" \
      PORTCULLIS_STRATEGY="$strategy" RUST_LOG=warn "${env_extra[@]}" "$bin") >"$dir/server.log" 2>&1 &
  else
    node "$here/reference-rp.mjs" --port "$srv_port" --issuer "http://127.0.0.1:$op_port" --client-id "$client_id" \
      --client-secret="$secret" "${rp_args[@]}" >"$dir/server.log" 2>&1 &
  fi
  local srv_pid=$!
  pids+=("$srv_pid")
  if wait_http "$origin/api/auth/csrf" "$srv_pid"; then
    node "$here/flow.mjs" --base "$origin/api/auth" --issuer "http://127.0.0.1:$op_port" --login alice \
      --client-id "$client_id" --events "$dir/events.jsonl" "${flow_args[@]}" >"$dir/flow.out" 2>&1 && ok=1
    # The official client (next-auth/react) lists the provider and starts its sign-in.
    if [ "$ok" = 1 ] && [ "$kind" = signin ] && [ "$mode" = server ]; then
      node "$here/client.mjs" --base "$origin/api/auth" --issuer "http://127.0.0.1:$op_port" >>"$dir/flow.out" 2>&1 || ok=0
    fi
    if [ "$kind" = naive-refresh ]; then
      # Expected to fail, and for the right reason: the OP saw a reused (rotated) refresh token.
      if [ "$ok" = 0 ] && grep -q '^# fail OP events: exactly one refresh_token grant' "$dir/flow.out" \
        && grep -q '"error":"invalid_grant"' "$dir/events.jsonl"; then
        ok=1
        echo "expected failure: uncoordinated refreshes reused a rotated refresh token (invalid_grant at the OP)" >>"$dir/flow.out"
      else
        ok=0
        echo "naive-refresh was expected to fail with invalid_grant at the OP" >>"$dir/flow.out"
      fi
    fi
  else
    echo "the server did not answer GET $origin/api/auth/csrf" >"$dir/flow.out"
  fi
  stop "$srv_pid" "$op_pid"
  report "$name" "$dir" "$ok" "$t0"
}

wanted() { [ -z "${OIDC_RUNS:-}" ] || [[ " $OIDC_RUNS " == *" $1 "* ]]; }

echo "== OIDC end-to-end ($([ "$mode" = server ] && echo "$bin" || echo "reference: Auth.js @auth/core, JWT sessions"))"
selftest
if [ "$mode" = server ]; then
  wanted database && run database database signin
  wanted jwt && run jwt jwt signin
  wanted database-refresh && run database-refresh database refresh
  wanted jwt-refresh && run jwt-refresh jwt refresh
  wanted logout && run logout database logout
else
  # reference-rp.mjs has JWT sessions only; its refresh is the coalesced one (see its header).
  wanted jwt && run jwt jwt signin
  wanted jwt-refresh && run jwt-refresh jwt refresh
  wanted naive-refresh && run naive-refresh jwt naive-refresh
  wanted logout && run logout jwt logout
fi
echo "oidc: $passed passed, $failed failed"
exit $status
