#!/usr/bin/env bash
# Runs every test of the workspace:
#   1. installs the pinned Auth.js packages for the interop tests (npm ci, from the lockfile);
#   2. cargo test for every crate (unit, integration, adapter conformance on memory, SQLite,
#      PostgreSQL and Redis, interop with @auth/core, doc tests; the email tests against a
#      real SMTP server, aiosmtpd from PyPI, installed into ~/.cache on first use);
#   3. the official next-auth/react clients (v5 and v4) against the example app, with JWT
#      sessions and with database sessions on SQLite, PostgreSQL and Redis;
#   4. OAuth/OIDC sign-in, refresh rotation and RP-initiated logout of the standalone server
#      through a real OpenID Provider (interop/oidc/run.sh, panva's oidc-provider from npm);
#   5. the real-browser test (e2e/run.mjs): a React page on next-auth/react and the built-in
#      pages, in Debian's Chromium through playwright-core, with JWT and SQLite sessions, against
#      the example app and against the standalone server (`portcullis`, database and JWT sessions).
#
# PostgreSQL and Redis come from PORTCULLIS_TEST_POSTGRES_URL (default
# postgres://postgres@127.0.0.1:5432/test) and PORTCULLIS_TEST_REDIS_URL (default
# redis://127.0.0.1:6379), Chromium from CHROMIUM_PATH (default /usr/bin/chromium). When
# PORTCULLIS_REQUIRE_SERVICES=1 a missing service fails the run; otherwise the tests that need
# it say so and are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
target=${CARGO_TARGET_DIR:-$root/target}
pg_url=${PORTCULLIS_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
redis_url=${PORTCULLIS_TEST_REDIS_URL:-redis://127.0.0.1:6379}
require=${PORTCULLIS_REQUIRE_SERVICES:-0}

if [ ! -d interop/node_modules/@auth/core ] || [ interop/package-lock.json -nt interop/node_modules/.package-lock.json ]; then
  echo "== npm ci (interop)"
  npm ci --prefix interop --no-audit --no-fund --loglevel=error
fi

# A real SMTP server for the email tests: aiosmtpd (PyPI, pinned) in a virtualenv kept
# under ~/.cache; the tests find it through PORTCULLIS_SMTPD_PYTHON.
if [ -z "${PORTCULLIS_SMTPD_PYTHON:-}" ]; then
  venv=${PORTCULLIS_SMTPD_VENV:-$HOME/.cache/portcullis-smtpd-venv}
  if ! "$venv/bin/python" -c 'import aiosmtpd' >/dev/null 2>&1; then
    echo "== pip install aiosmtpd (into $venv)"
    if ! { python3 -m venv "$venv" && "$venv/bin/pip" install -q --disable-pip-version-check -r scripts/smtpd-requirements.txt; }; then
      if [ "$require" = 1 ]; then
        echo "error: could not install aiosmtpd, which the email tests need" >&2
        exit 1
      fi
      echo "warning: no aiosmtpd: the SMTP tests will be skipped" >&2
    fi
  fi
  if "$venv/bin/python" -c 'import aiosmtpd' >/dev/null 2>&1; then
    export PORTCULLIS_SMTPD_PYTHON="$venv/bin/python"
  fi
fi

echo "== cargo test"
cargo test --workspace --all-features --no-fail-fast

echo "== official clients against examples/credentials-jwt"
cargo build -q -p example-credentials-jwt
cargo build -q -p portcullis-server # the standalone `portcullis`, for the e2e runs with --target server
bin="$target/debug/example-credentials-jwt"
work=$(mktemp -d)
pids=()
dbs=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for d in "${dbs[@]}"; do psql -q "$pg_url" -c "DROP DATABASE IF EXISTS $d" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
have_pg() { psql -q "$pg_url" -c 'select 1' >/dev/null 2>&1; }
have_redis() { python3 - "$redis_url" <<'PY' >/dev/null 2>&1
import socket, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
s = socket.create_connection((u.hostname or "127.0.0.1", u.port or 6379), timeout=2)
s.sendall(b"PING\r\n"); assert s.recv(16).startswith(b"+PONG")
PY
}

status=0
passed=0
failed=0
# run_client NAME COMPAT CLIENT_FLAGS ENV...
run_client() {
  local name=$1 compat=$2 flags=$3; shift 3
  local port secret log
  port=$(free_port)
  secret=$(python3 -c 'import secrets; print(secrets.token_urlsafe(33))')
  log="$work/$name.log"
  mkdir -p "$work/$name"
  (cd "$work/$name" && env "$@" PORT="$port" AUTH_SECRET="$secret" AUTH_URL="http://127.0.0.1:$port" \
    PORTCULLIS_COMPAT="$compat" RUST_LOG=warn "$bin" >"$log" 2>&1) &
  pids+=($!)
  for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$port/api/auth/csrf" >/dev/null 2>&1; then break; fi
    sleep 0.1
  done
  # shellcheck disable=SC2086
  if node interop/client-$compat.mjs --base "http://127.0.0.1:$port/api/auth" --example $flags --secret="$secret" >"$log.client" 2>&1; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1)); status=1
    cat "$log.client"; echo "-- server log:"; cat "$log"
  fi
  printf -- '-- %-28s %s\n' "$name ($compat)" "$(grep -E '^# (pass|fail) ' "$log.client" | tr '\n' ' ')"
}

run_client jwt-v5 v5 ""
run_client jwt-v4 v4 ""
run_client database-sqlite-v5 v5 --database PORTCULLIS_STRATEGY=database DATABASE_URL=sqlite://data/example.db
run_client database-sqlite-v4 v4 --database PORTCULLIS_STRATEGY=database DATABASE_URL=sqlite://data/example.db
if have_pg; then
  db="portcullis_example_$(python3 -c 'import secrets; print(secrets.token_hex(6))')"
  psql -q "$pg_url" -c "CREATE DATABASE $db" >/dev/null
  dbs+=("$db")
  run_client database-postgres-v5 v5 --database PORTCULLIS_STRATEGY=database "DATABASE_URL=${pg_url%/*}/$db"
elif [ "$require" = 1 ]; then
  echo "PostgreSQL is required (PORTCULLIS_REQUIRE_SERVICES=1) but $pg_url is unreachable"; status=1; failed=$((failed + 1))
else
  echo "-- skipped database-postgres: $pg_url unreachable"
fi
if have_redis; then
  run_client database-redis-v5 v5 --database PORTCULLIS_STRATEGY=database DATABASE_URL=sqlite://data/example.db "SESSION_STORE_URL=$redis_url"
elif [ "$require" = 1 ]; then
  echo "Redis is required (PORTCULLIS_REQUIRE_SERVICES=1) but $redis_url is unreachable"; status=1; failed=$((failed + 1))
else
  echo "-- skipped database-redis: $redis_url unreachable"
fi

echo "== OAuth/OIDC through a real OpenID Provider (interop/oidc: panva's oidc-provider)"
oidc_log="$work/oidc.log"
t0=$SECONDS
if bash interop/oidc/run.sh "$target/debug/portcullis" >"$oidc_log" 2>&1; then
  passed=$((passed + 1))
else
  failed=$((failed + 1)); status=1
  cat "$oidc_log"
fi
grep -E '^-- ' "$oidc_log" || true
echo "-- oidc ($((SECONDS - t0))s)"

echo "== real browser (e2e/): next-auth/react and the built-in pages in Chromium"
chromium=${CHROMIUM_PATH:-/usr/bin/chromium}
if [ -x "$chromium" ]; then
  if [ ! -d e2e/node_modules/playwright-core ] || [ e2e/package-lock.json -nt e2e/node_modules/.package-lock.json ]; then
    echo "== npm ci (e2e)"
    npm ci --prefix e2e --no-audit --no-fund --loglevel=error
  fi
  # run_e2e NAME RUN_MJS_FLAGS... (a --server in the flags overrides the example's $bin: the last one wins)
  run_e2e() {
    local name=$1; shift
    local log="$work/e2e-$name.log" t0=$SECONDS
    if node e2e/run.mjs --server "$bin" --chromium "$chromium" "$@" >"$log" 2>&1; then
      passed=$((passed + 1))
    else
      failed=$((failed + 1)); status=1
      cat "$log"
    fi
    printf -- '-- %-28s %s (%ss)\n' "e2e-$name" "$(tail -n 1 "$log")" "$((SECONDS - t0))"
  }
  run_e2e jwt
  run_e2e database-sqlite --env PORTCULLIS_STRATEGY=database --env DATABASE_URL=sqlite://data/e2e.db
  run_e2e server-database --target server --server "$target/debug/portcullis"
  run_e2e server-jwt --target server --server "$target/debug/portcullis" --env PORTCULLIS_STRATEGY=jwt
elif [ "$require" = 1 ]; then
  echo "Chromium is required (PORTCULLIS_REQUIRE_SERVICES=1) but $chromium is missing (apt-get install -y chromium)"; status=1; failed=$((failed + 1))
else
  echo "-- skipped e2e: $chromium missing (apt-get install -y chromium)"
fi
echo "client suites: $passed passed, $failed failed"
exit $status
