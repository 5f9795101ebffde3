#!/usr/bin/env bash
# portcullis against Auth.js, side by side, on this machine: one command.
#
#   bash bench/run.sh            # the full run: 3 rounds of 10 s per scenario (about 8 minutes)
#   bash bench/run.sh --quick    # a smoke: 1 round of 2 s per scenario (under two minutes once built)
#
# Options: --rounds N, --duration S, --warmup S (before every measured run, default 2),
# --connections N (default 32), --out FILE (the markdown
# table; default bench/results/<date>.md). Env: BENCH_SERVER_CPU (0) and BENCH_LOAD_CPU (1),
# the cores the server and wrk are pinned to; PORTCULLIS_TEST_POSTGRES_URL and
# PORTCULLIS_TEST_REDIS_URL for the database scenarios (defaults: the local services);
# BENCH_EXAMPLE, another build of examples/credentials-jwt to measure (before/after).
#
# It builds portcullis in release, installs @auth/core 0.41.3 into bench/authjs from its
# lockfile, then starts every server at once, pinned to the server core, and loads each
# scenario in turn with wrk (Debian's package) on the other core over loopback: same
# duration, connections and warm-up for all, in rounds, so a drift of the machine hits
# every scenario alike. Every response is checked (status and body, bench/check.lua); one wrong
# answer fails the run. Servers:
#   authjs     @auth/core's Auth() on node:http, configured like the example (bench/authjs)
#   portcullis examples/credentials-jwt (release): JWT, then database sessions on SQLite,
#              PostgreSQL and Redis
#   bare       axum returning the same response bytes with no work: the ceiling
#   crypto     axum doing only the unavoidable crypto of a JWT session read: the honest limit
#   signin     portcullis with the password provider (Argon2id), for the sign-in burst
# Nothing here asserts a speed: the table is for reading (BENCHMARKS.md explains it).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

duration=10
warmup=2
rounds=3
conns=32
out=""
quick=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; duration=2; warmup=1; rounds=1 ;;
    --rounds) rounds=$2; shift ;;
    --duration) duration=$2; shift ;;
    --warmup) warmup=$2; shift ;;
    --connections) conns=$2; shift ;;
    --out) out=$2; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

die() { echo "bench: $*" >&2; exit 1; }
for tool in wrk taskset node npm curl python3; do
  command -v "$tool" >/dev/null || die "$tool is missing (wrk: apt-get install wrk)"
done

target=${CARGO_TARGET_DIR:-$root/target}
pg_url=${PORTCULLIS_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
redis_url=${PORTCULLIS_TEST_REDIS_URL:-redis://127.0.0.1:6379}
server_cpu=${BENCH_SERVER_CPU:-0}
load_cpu=${BENCH_LOAD_CPU:-1}
if [ "$(nproc --all)" -lt 2 ]; then
  die "needs two cores: one for the server, one for the load generator"
fi

echo "== build (release)"
cargo build --release -q -p example-credentials-jwt -p portcullis-bench
if [ ! -d bench/authjs/node_modules/@auth/core ] || [ bench/authjs/package-lock.json -nt bench/authjs/node_modules/.package-lock.json ]; then
  echo "== npm ci (bench/authjs)"
  npm ci --prefix bench/authjs --no-audit --no-fund --loglevel=error
fi

work=$(mktemp -d)
pids=()
bench_db="portcullis_bench_$$"
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -q "${pg_url%/*}/postgres" -c "DROP DATABASE IF EXISTS $bench_db" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

secret=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
password=$(python3 -c 'import secrets; print(secrets.token_hex(12))')
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
clk_tck=$(getconf CLK_TCK)

# start NAME PORT CMD...: the server on the server core; waits until it answers HTTP.
server_pid=""
start() {
  local name=$1 port=$2
  shift 2
  PORT=$port AUTH_SECRET=$secret AUTH_URL="http://127.0.0.1:$port" RUST_LOG=warn \
    taskset -c "$server_cpu" "$@" >"$work/$name.log" 2>&1 &
  server_pid=$!
  pids+=("$server_pid")
  for _ in $(seq 1 300); do
    if curl -s -o /dev/null "http://127.0.0.1:$port/"; then return 0; fi
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/$name.log" >&2; die "$name exited at start"; }
    sleep 0.1
  done
  cat "$work/$name.log" >&2
  die "$name did not start"
}
stop() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
}

# sign_in BASE FIELD PASSWORD: signs in through the REST API (csrf, then callback/credentials)
# and prints the Cookie header a browser would then send (session, CSRF and callback-URL).
sign_in() {
  local base=$1 field=$2 pass=$3 jar="$work/jar.$RANDOM" token
  token=$(curl -fsS -c "$jar" "$base/api/auth/csrf" | python3 -c 'import json,sys; print(json.load(sys.stdin)["csrfToken"])')
  curl -fsS -b "$jar" -c "$jar" -o /dev/null -H 'X-Auth-Return-Redirect: 1' \
    --data-urlencode "csrfToken=$token" --data-urlencode "$field" --data-urlencode "password=$pass" \
    "$base/api/auth/callback/credentials"
  python3 - "$jar" <<'PY'
import sys
pairs = []
for line in open(sys.argv[1]):
    f = line.rstrip("\n").split("\t")
    if len(f) == 7:
        pairs.append(f"{f[5]}={f[6]}")
if not any("session-token" in p for p in pairs):
    sys.exit("sign-in gave no session cookie")
print("; ".join(pairs))
PY
}
# csrf_form BASE: prints "cookie<TAB>form" for POSTs (a CSRF cookie and its token).
csrf_form() {
  local base=$1 jar="$work/jar.$RANDOM" token
  token=$(curl -fsS -c "$jar" "$base/api/auth/csrf" | python3 -c 'import json,sys; print(json.load(sys.stdin)["csrfToken"])')
  python3 - "$jar" "$token" <<'PY'
import sys
pairs = [f"{f[5]}={f[6]}" for f in (l.rstrip("\n").split("\t") for l in open(sys.argv[1])) if len(f) == 7]
print("; ".join(pairs) + "\t" + sys.argv[2])
PY
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
peak_rss_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }

# wrk_run SECONDS CONNECTIONS PORT OUT + the BENCH_* environment: one checked wrk run on the
# load core; fails the run on any wrong answer.
wrk_run() {
  local secs=$1 c=$2 port=$3 outfile=$4
  taskset -c "$load_cpu" wrk -t1 -c"$c" -d"${secs}s" -s bench/check.lua "http://127.0.0.1:$port" >"$outfile" 2>"$outfile.err" \
    || { cat "$outfile.err" >&2; die "wrk failed against port $port"; }
  python3 - "$outfile" <<'PY' || { cat "$outfile.err" >&2; die "wrong answers (port $port)"; }
import re, sys
line = [l for l in open(sys.argv[1]) if l.startswith("RESULT")]
if not line:
    sys.exit("no RESULT line")
r = dict(re.findall(r"(\w+)=([\d.]+)", line[0]))
if int(r["bad"]) or int(r["errors"]) or not int(r["ok"]):
    sys.exit(f"{r['ok']} good, {r['bad']} wrong answers, {r['errors']} errors")
PY
}

# Scenarios: NAME|PID|PORT|PATH|EXPECT|COOKIE. Every round runs each once, in turn, so slow
# drifts of the machine hit all of them alike; the table keeps each one's median round.
scenarios=()
add() { scenarios+=("$1|$2|$3|$4|$5|$6"); }
rows="$work/rows"
: >"$rows"
run_rounds() {
  local round sc name pid port path expect cookie i=0
  for round in $(seq 1 "$rounds"); do
    echo "== round $round of $rounds"
    i=0
    for sc in "${scenarios[@]}"; do
      IFS='|' read -r name pid port path expect cookie <<<"$sc"
      export BENCH_PATH=$path BENCH_EXPECT=$expect BENCH_FORBID=error BENCH_COOKIE=$cookie BENCH_BODY= BENCH_METHOD=GET
      wrk_run "$warmup" "$conns" "$port" "$work/warm.out"
      local t0 t1
      t0=$(cpu_ticks "$pid")
      wrk_run "$duration" "$conns" "$port" "$work/s$i.r$round"
      t1=$(cpu_ticks "$pid")
      echo "$((t1 - t0))" >"$work/s$i.r$round.ticks"
      awk -v n="$name" '/^RESULT/ {split($2, a, "="); split($3, b, "="); printf "   %-48s %8.0f req/s\n", n, a[2] / b[2]}' "$work/s$i.r$round"
      i=$((i + 1))
    done
  done
  i=0
  for sc in "${scenarios[@]}"; do
    IFS='|' read -r name pid port path expect cookie <<<"$sc"
    python3 - "$name" "$work/s$i" "$rounds" "$clk_tck" "$(peak_rss_kb "$pid")" >>"$rows" <<'PY'
import re, sys
name, prefix, rounds, tck, rss = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
runs, ticks, secs = [], 0, 0.0
for k in range(1, rounds + 1):
    line = [l for l in open(f"{prefix}.r{k}") if l.startswith("RESULT")][0]
    r = dict(re.findall(r"(\w+)=([\d.]+)", line))
    r["rps"] = int(r["requests"]) / float(r["seconds"])
    runs.append(r)
    ticks += int(open(f"{prefix}.r{k}.ticks").read())
    secs += float(r["seconds"])
runs.sort(key=lambda r: r["rps"])
m = runs[len(runs) // 2]
spread = f"{runs[0]['rps']:.0f}-{runs[-1]['rps']:.0f}" if rounds > 1 else ""
print("\t".join([name, f"{m['rps']:.0f}", m["p50_us"], m["p99_us"], f"{100 * ticks / tck / secs:.0f}",
                 f"{rss / 1024:.1f}", spread]))
PY
    i=$((i + 1))
  done
}

# Every server of the session scenarios runs at once (idle ones cost nothing), each pinned
# to the server core; the session every one reads is alice's, signed in through its own
# REST API (the reference handlers read the Auth.js cookie).
echo "== start the servers (Auth.js @auth/core $(node -p 'require("./bench/authjs/node_modules/@auth/core/package.json").version'), node $(node --version))"
port=$(free_port)
start authjs "$port" node bench/authjs/server.mjs
authjs_port=$port authjs_pid=$server_pid
authjs_cookie=$(sign_in "http://127.0.0.1:$port" username=alice wonderland)
authjs_session=$(curl -fsS -H "Cookie: $authjs_cookie" "http://127.0.0.1:$port/api/auth/session")
authjs_set_cookie=$(curl -fsS -D - -o /dev/null -H "Cookie: $authjs_cookie" "http://127.0.0.1:$port/api/auth/session" | tr -d '\r' | sed -n 's/^set-cookie: //Ip' | grep session-token | head -n 1)

example=${BENCH_EXAMPLE:-$target/release/example-credentials-jwt}
port=$(free_port)
start portcullis-jwt "$port" "$example"
jwt_port=$port jwt_pid=$server_pid
jwt_cookie=$(sign_in "http://127.0.0.1:$port" username=alice wonderland)

refbin="$target/release/portcullis-bench"
port=$(free_port)
BENCH_BODY=$authjs_session BENCH_SET_COOKIE=$authjs_set_cookie start bare "$port" "$refbin" bare "$port"
bare_port=$port bare_pid=$server_pid
port=$(free_port)
start crypto "$port" "$refbin" crypto "$port"
crypto_port=$port crypto_pid=$server_pid

db_server() { # LABEL ENV...: a database-strategy example; sets db_port, db_pid, db_cookie
  local label=$1
  shift
  db_port=$(free_port)
  start "portcullis-$label" "$db_port" env PORTCULLIS_STRATEGY=database "$@" "$example"
  db_pid=$server_pid
  db_cookie=$(sign_in "http://127.0.0.1:$db_port" username=alice wonderland)
}
psql -q "${pg_url%/*}/postgres" -c "CREATE DATABASE $bench_db" >/dev/null 2>&1 \
  || die "PostgreSQL at $pg_url is not reachable (set PORTCULLIS_TEST_POSTGRES_URL)"
python3 -c "import socket,urllib.parse as u,sys; p=u.urlparse(sys.argv[1]); socket.create_connection((p.hostname, p.port or 6379), 2)" "$redis_url" \
  || die "Redis at $redis_url is not reachable (set PORTCULLIS_TEST_REDIS_URL)"

session='"role":"admin"'
add "Auth.js: GET session (JWT)" "$authjs_pid" "$authjs_port" /api/auth/session "$session" "$authjs_cookie"
add "Auth.js: GET csrf" "$authjs_pid" "$authjs_port" /api/auth/csrf '"csrfToken":"' "$authjs_cookie"
add "Auth.js: protected route (auth())" "$authjs_pid" "$authjs_port" /api/protected "$session" "$authjs_cookie"
add "portcullis: GET session (JWT)" "$jwt_pid" "$jwt_port" /api/auth/session "$session" "$jwt_cookie"
add "portcullis: GET session (JWT, Auth.js's cookie)" "$jwt_pid" "$jwt_port" /api/auth/session "$session" "$authjs_cookie"
add "portcullis: GET csrf" "$jwt_pid" "$jwt_port" /api/auth/csrf '"csrfToken":"' "$jwt_cookie"
add "portcullis: protected route (extractor)" "$jwt_pid" "$jwt_port" /api/protected "$session" "$jwt_cookie"
db_server SQLite DATABASE_URL="sqlite://$work/bench.db"
add "portcullis: GET session (database, SQLite)" "$db_pid" "$db_port" /api/auth/session "$session" "$db_cookie"
db_server PostgreSQL DATABASE_URL="${pg_url%/*}/$bench_db"
add "portcullis: GET session (database, PostgreSQL)" "$db_pid" "$db_port" /api/auth/session "$session" "$db_cookie"
db_server Redis DATABASE_URL="sqlite://$work/bench-redis.db" SESSION_STORE_URL="$redis_url"
add "portcullis: GET session (database, Redis)" "$db_pid" "$db_port" /api/auth/session "$session" "$db_cookie"
add "bare axum, same bytes (ceiling)" "$bare_pid" "$bare_port" /api/auth/session "$session" "$authjs_cookie"
add "crypto-bound axum (limit)" "$crypto_pid" "$crypto_port" /api/auth/session "$session" "$authjs_cookie"
run_rounds
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done

echo "== sign-in burst (portcullis, Argon2id)"
port=$(free_port)
BENCH_PASSWORD=$password start signin "$port" "$refbin" signin "$port"
signin_cookie=$(sign_in "http://127.0.0.1:$port" email=alice@example.com "$password")
export BENCH_PATH=/api/auth/session BENCH_EXPECT='"email":"alice@example.com"' BENCH_FORBID=error BENCH_COOKIE=$signin_cookie BENCH_BODY= BENCH_METHOD=GET
wrk_run "$warmup" 2 "$port" "$work/warm.out"
wrk_run "$duration" 2 "$port" "$work/idle.out"
IFS=$'\t' read -r csrf_cookie csrf_token < <(csrf_form "http://127.0.0.1:$port")
form="csrfToken=$csrf_token&email=alice%40example.com&password=$password"
# The burst (16 connections) and the session reads (2 connections) run at once, both on
# the load core; the server's one core does both.
(
  export BENCH_PATH=/api/auth/callback/credentials BENCH_EXPECT='"url"' BENCH_COOKIE="$csrf_cookie" BENCH_BODY="$form" BENCH_METHOD=POST
  wrk_run "$((duration + 2))" 16 "$port" "$work/burst.out"
) &
burst=$!
sleep 1
t0=$(cpu_ticks "$server_pid")
wrk_run "$duration" 2 "$port" "$work/during.out"
t1=$(cpu_ticks "$server_pid")
wait "$burst" || die "the sign-in burst failed"
python3 - "$work" "$((t1 - t0))" "$clk_tck" "$(peak_rss_kb "$server_pid")" >>"$rows" <<'PY'
import re, sys
work, ticks, tck, rss = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def res(f):
    r = dict(re.findall(r"(\w+)=([\d.]+)", [l for l in open(f"{work}/{f}") if l.startswith("RESULT")][0]))
    r["rps"] = int(r["requests"]) / float(r["seconds"])
    return r
idle, during, burst = res("idle.out"), res("during.out"), res("burst.out")
cpu = f"{100 * ticks / tck / float(during['seconds']):.0f}"
print("\t".join(["signin: GET session, idle (2 conn.)", f"{idle['rps']:.0f}", idle["p50_us"], idle["p99_us"], "-", "-", ""]))
print("\t".join(["signin: GET session during the burst (2 conn.)", f"{during['rps']:.0f}", during["p50_us"], during["p99_us"], cpu, f"{rss / 1024:.1f}", ""]))
print("\t".join(["signin: POST callback/credentials (16 conn.)", f"{burst['rps']:.1f}", burst["p50_us"], burst["p99_us"], "-", "-", ""]))
PY
tail -n 3 "$rows" | awk -F'\t' '{printf "   %-48s %8s req/s  p50 %6s us  p99 %6s us\n", $1, $2, $3, $4}'
stop

# The table.
mkdir -p bench/results
[ -n "$out" ] || out="bench/results/$(date -u +%Y-%m-%dT%H%M%SZ)$([ "$quick" = 1 ] && echo -quick).md"
python3 - "$rows" "$duration" "$warmup" "$conns" "$quick" "$rounds" >"$out" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
duration, warmup, conns, quick, rounds = sys.argv[2:7]
by = {r[0]: r for r in rows}
def rps(name):
    return float(by[name][1]) if name in by else None
authjs = rps("Auth.js: GET session (JWT)")
ceiling = rps("bare axum, same bytes (ceiling)")
limit = rps("crypto-bound axum (limit)")
def ms(us):
    return f"{int(us) / 1000:.2f}"
print(f"{'Quick smoke' if quick == '1' else 'Run'}: {rounds} round(s) of {duration} s per scenario, each after a {warmup} s warm-up, "
      f"{conns} connections (sign-in rows: as named), wrk on one core, the server pinned to the other. "
      "req/s, p50 and p99 are the median round's; the range is the slowest and fastest round.\n")
print("| scenario | req/s | range | p50 ms | p99 ms | server CPU % | peak RSS MB | × Auth.js | % of crypto-bound | % of ceiling |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    name, v, p50, p99, cpu, rss, spread = r
    v = float(v)
    x = f"{v / authjs:.1f}×" if authjs and "session" in name and "signin" not in name else ""
    pl = f"{100 * v / limit:.0f} %" if limit and "GET session" in name and "signin" not in name else ""
    pc = f"{100 * v / ceiling:.0f} %" if ceiling and not name.startswith("signin: POST") else ""
    print(f"| {name} | {v:,.0f} | {spread} | {ms(p50)} | {ms(p99)} | {cpu} | {rss} | {x} | {pl} | {pc} |")
PY
echo
cat "$out"
echo
echo "(table written to $out)"
