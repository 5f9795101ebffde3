#!/usr/bin/env bash
# Runs every test of the workspace:
#   1. installs the pinned Auth.js packages for the interop tests (npm ci, from the lockfile);
#   2. cargo test for every crate (unit, integration, interop with @auth/core, doc tests);
#   3. the official next-auth/react clients (v5 and v4) against the example app.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
target=${CARGO_TARGET_DIR:-$root/target}

if [ ! -d interop/node_modules/@auth/core ] || [ interop/package-lock.json -nt interop/node_modules/.package-lock.json ]; then
  echo "== npm ci (interop)"
  npm ci --prefix interop --no-audit --no-fund --loglevel=error
fi

echo "== cargo test"
cargo test --workspace --all-features

echo "== official clients against examples/credentials-jwt"
cargo build -q -p example-credentials-jwt
bin="$target/debug/example-credentials-jwt"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

status=0
for compat in v5 v4; do
  port=$(free_port)
  secret=$(python3 -c 'import secrets; print(secrets.token_urlsafe(33))')
  log=$(mktemp)
  PORT=$port AUTH_SECRET=$secret AUTH_URL="http://127.0.0.1:$port" PORTCULLIS_COMPAT=$compat \
    RUST_LOG=warn "$bin" >"$log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$port/api/auth/csrf" >/dev/null 2>&1; then break; fi
    sleep 0.1
  done
  echo "-- next-auth $compat client (port $port)"
  if ! node interop/client-$compat.mjs --base "http://127.0.0.1:$port/api/auth" --example --secret "$secret" >"$log.client" 2>&1; then
    status=1
    cat "$log.client"
    echo "-- server log:"; cat "$log"
  fi
  grep -E '^# (pass|fail) ' "$log.client" | tr '\n' ' '; echo
done
exit $status
