#!/usr/bin/env bash
# SECURITY.md FLT-10: a regression gate on work per request that does not depend on timing.
#
#   bash bench/instructions.sh                 # measure, print the table, compare (±20 %)
#   bash bench/instructions.sh --update        # measure and rewrite the baseline file
#
# Each scenario runs the release example (examples/credentials-jwt) under
# `valgrind --tool=callgrind` twice: once serving WARM requests, once WARM + N, on one
# keep-alive connection (a Python client that checks every answer). Instructions per request
# = (total of the long run − total of the short run) ÷ N, so start-up, sign-in, warm-up and
# shutdown cancel out. Instruction counts do not depend on the machine's load; they move
# with the code, the compiler and the dependencies' versions — which is what the gate is for.
#
# Scenarios: JWT `GET /api/auth/session` (alice's cookie), `GET /api/auth/csrf` (a warm
# browser), and `GET /api/auth/session` with database sessions on a SQLite file.
# The baseline is bench/instructions-baseline.txt (`scenario instructions`); a figure more
# than TOLERANCE % (default 20) above or below it fails the run (below too: a large drop
# usually means a scenario stopped doing its work, and the baseline should be re-recorded).
#
# Env: CARGO_TARGET_DIR (where the release build goes), BENCH_N (2000), BENCH_WARM (200),
# TOLERANCE (20). Needs valgrind, python3, curl.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

update=0
case "${1:-}" in
  --update) update=1 ;;
  "") ;;
  -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
  *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
esac

die() { echo "instructions: $*" >&2; exit 1; }
for tool in valgrind python3 curl; do
  command -v "$tool" >/dev/null || die "$tool is missing"
done

n=${BENCH_N:-2000}
warm=${BENCH_WARM:-200}
tolerance=${TOLERANCE:-20}
baseline_file="$root/bench/instructions-baseline.txt"
target=${CARGO_TARGET_DIR:-$root/target}
example="$target/release/example-credentials-jwt"

echo "== build (release)" >&2
cargo build --release -q -p example-credentials-jwt

work=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

secret=0123456789abcdef0123456789abcdef-instructions-gate
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# client PORT PATH COUNT EXPECT: signs in as alice (csrf, then the credentials callback),
# optionally fetches a CSRF cookie, then sends COUNT GETs of PATH on one keep-alive
# connection with the browser's cookies; every answer must be 200 and contain EXPECT.
client() {
  python3 - "$@" <<'PY'
import http.client, json, sys, urllib.parse
port, path, count, expect = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
conn = http.client.HTTPConnection("127.0.0.1", int(port))
jar = {}
def absorb(res):
    for k, v in res.getheaders():
        if k.lower() == "set-cookie":
            name, _, rest = v.partition("=")
            value = rest.split(";")[0]
            if "Max-Age=0" in v:
                jar.pop(name, None)
            else:
                jar[name] = value
def send(method, url, body=None, headers=None):
    h = dict(headers or {})
    if jar:
        h["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
    conn.request(method, url, body=body, headers=h)
    res = conn.getresponse()
    data = res.read()
    absorb(res)
    return res.status, data
status, data = send("GET", "/api/auth/csrf")
token = json.loads(data)["csrfToken"]
form = urllib.parse.urlencode({"csrfToken": token, "username": "alice", "password": "wonderland"})
status, _ = send("POST", "/api/auth/callback/credentials", form,
                 {"Content-Type": "application/x-www-form-urlencoded"})
if status != 302 or not any("session-token" in k for k in jar):
    sys.exit(f"sign-in failed: {status}")
for _ in range(count):
    status, data = send("GET", path)
    if status != 200 or expect.encode() not in data:
        sys.exit(f"wrong answer to {path}: {status} {data[:200]!r}")
PY
}

# run LABEL COUNT PATH EXPECT ENV...: the example under callgrind serving COUNT requests;
# prints the total instruction count of the process.
run() {
  local label=$1 count=$2 path=$3 expect=$4
  shift 4
  local port out
  port=$(free_port)
  out="$work/$label.$count.callgrind"
  env PORT="$port" AUTH_SECRET="$secret" AUTH_URL="http://127.0.0.1:$port" RUST_LOG=warn "$@" \
    valgrind --tool=callgrind --callgrind-out-file="$out" -q "$example" >"$work/$label.log" 2>&1 &
  server_pid=$!
  local up=0
  for _ in $(seq 1 600); do
    if curl -s -o /dev/null "http://127.0.0.1:$port/"; then up=1; break; fi
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ "$up" = 1 ] || { cat "$work/$label.log" >&2; die "$label did not start"; }
  client "$port" "$path" "$count" "$expect" || { cat "$work/$label.log" >&2; die "$label: client failed"; }
  kill -TERM "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
  # The `summary:` (or `totals:`) line holds the Ir total of the whole process.
  local total
  total=$(awk '/^(summary|totals):/ {print $2; exit}' "$out")
  [ -n "$total" ] || die "$label: no instruction total in $out"
  echo "$total"
}

# per_request LABEL PATH EXPECT ENV...
per_request() {
  local label=$1 path=$2 expect=$3
  shift 3
  local short long
  short=$(run "$label" "$warm" "$path" "$expect" "$@")
  long=$(run "$label" "$((warm + n))" "$path" "$expect" "$@")
  echo $(( (long - short) / n ))
}

declare -A measured
echo "== measure (callgrind, $n requests after $warm)" >&2
measured[jwt_get_session]=$(per_request jwt_get_session /api/auth/session '"role":"admin"')
measured[jwt_get_csrf]=$(per_request jwt_get_csrf /api/auth/csrf '"csrfToken":"')
measured[sqlite_get_session]=$(per_request sqlite_get_session /api/auth/session '"role":"admin"' \
  PORTCULLIS_STRATEGY=database DATABASE_URL="sqlite://$work/bench.db")
scenarios=(jwt_get_session jwt_get_csrf sqlite_get_session)

if [ "$update" = 1 ]; then
  {
    echo "# Instructions per request (callgrind, bench/instructions.sh --update); the gate allows ±${tolerance} %."
    for s in "${scenarios[@]}"; do echo "$s ${measured[$s]}"; done
  } >"$baseline_file"
  echo "wrote $baseline_file" >&2
fi

[ -f "$baseline_file" ] || die "no baseline: run with --update first"
declare -A baseline
while read -r name value; do
  case "$name" in ''|'#'*) continue ;; esac
  baseline[$name]=$value
done <"$baseline_file"

failed=0
printf '| scenario | instructions/request | baseline | change |\n|---|---:|---:|---:|\n'
for s in "${scenarios[@]}"; do
  b=${baseline[$s]:-}
  m=${measured[$s]}
  if [ -z "$b" ]; then
    printf '| %s | %s | (none) | |\n' "$s" "$m"
    failed=1
    continue
  fi
  change=$(python3 -c "print(f'{($m - $b) * 100 / $b:+.1f} %')")
  verdict=$(python3 -c "print('ok' if abs($m - $b) * 100 <= $tolerance * $b else 'FAIL')")
  printf '| %s | %s | %s | %s %s |\n' "$s" "$m" "$b" "$change" "$verdict"
  [ "$verdict" = ok ] || failed=1
done
if [ "$failed" = 1 ]; then
  echo "instructions: outside ±${tolerance} % of $baseline_file (re-record with --update if intended)" >&2
  exit 1
fi
