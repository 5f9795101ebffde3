#!/usr/bin/env bash
# Runs the cargo-fuzz targets of portcullis (see fuzz/README.md).
#
#   bash fuzz/run.sh --smoke            every target ~10 s from its seeds (CI)
#   bash fuzz/run.sh --long [SECONDS]   every target SECONDS (default 600), one after another
#   bash fuzz/run.sh TARGET [SECONDS]   one target (default 60 s)
#
# Installs cargo-fuzz (pinned, --locked) when `cargo fuzz` is missing, builds every target
# with debug assertions, runs each with one libFuzzer process, and prints a summary table
# (executions from libFuzzer's final stats, crashes = new files in fuzz/artifacts/TARGET).
# Exits non-zero when any target crashed (or failed to run).
#
# Environment: FUZZ_TOOLCHAIN (default nightly), CARGO_TARGET_DIR (honoured by cargo fuzz),
# FUZZ_LOG_DIR (per-target libFuzzer logs; default a temporary directory).
set -euo pipefail

CARGO_FUZZ_VERSION=0.13.2
TOOLCHAIN="${FUZZ_TOOLCHAIN:-nightly}"
TARGETS=(
    jwe_decode
    session_cookie
    callback_url
    csrf_cookie
    request_body
    email_normalize
    oauth_callback
    router
)

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

usage() {
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}

mode="${1:-}"
case "$mode" in
    --smoke) seconds=10; targets=("${TARGETS[@]}"); persistent=0 ;;
    --long) seconds="${2:-600}"; targets=("${TARGETS[@]}"); persistent=1 ;;
    -h | --help | "") usage ;;
    *)
        known=0
        for t in "${TARGETS[@]}"; do [[ "$t" == "$mode" ]] && known=1; done
        if [[ $known == 0 ]]; then
            echo "unknown target: $mode (targets: ${TARGETS[*]})" >&2
            exit 2
        fi
        seconds="${2:-60}"; targets=("$mode"); persistent=1 ;;
esac
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "not a number of seconds: $seconds" >&2; exit 2; }

if ! cargo "+$TOOLCHAIN" fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

echo "== building ${#targets[@]} target(s) ($(cargo "+$TOOLCHAIN" --version))"
build_start=$SECONDS
if [[ ${#targets[@]} -gt 1 ]]; then
    cargo "+$TOOLCHAIN" fuzz build --debug-assertions
else
    cargo "+$TOOLCHAIN" fuzz build --debug-assertions "${targets[0]}"
fi
echo "== built in $((SECONDS - build_start)) s"

log_dir="${FUZZ_LOG_DIR:-$(mktemp -d -t portcullis-fuzz-logs.XXXXXX)}"
mkdir -p "$log_dir"
scratch=""
if [[ $persistent == 0 ]]; then
    scratch="$(mktemp -d -t portcullis-fuzz-corpus.XXXXXX)"
    trap 'rm -rf "$scratch"' EXIT
fi

declare -a rows
failed=0
for t in "${targets[@]}"; do
    if [[ $persistent == 1 ]]; then
        corpus="fuzz/corpus/$t"
    else
        corpus="$scratch/$t"
    fi
    mkdir -p "$corpus" "fuzz/artifacts/$t"
    cp -n fuzz/seeds/"$t"/* "$corpus"/ 2>/dev/null || true
    before=$(find "fuzz/artifacts/$t" -type f | wc -l)
    args=(-max_total_time="$seconds" -print_final_stats=1 -timeout=20 -rss_limit_mb=2048)
    [[ -f "fuzz/dicts/$t.dict" ]] && args+=(-dict="fuzz/dicts/$t.dict")
    log="$log_dir/$t.log"
    echo "== $t: ${seconds}s from $(find "$corpus" -type f | wc -l) input(s); log $log"
    start=$SECONDS
    status=0
    cargo "+$TOOLCHAIN" fuzz run --debug-assertions "$t" "$corpus" -- "${args[@]}" \
        >"$log" 2>&1 || status=$?
    elapsed=$((SECONDS - start))
    execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | awk '{print $2}')
    execs="${execs:-?}"
    crashes=$(( $(find "fuzz/artifacts/$t" -type f | wc -l) - before ))
    result=ok
    if [[ $status != 0 || $crashes != 0 ]]; then
        result="FAILED (exit $status)"
        failed=1
        echo "---- $t: last lines of $log"
        tail -n 40 "$log"
        find "fuzz/artifacts/$t" -type f -newer "$corpus" 2>/dev/null | sed 's/^/artifact: /'
    fi
    rate="-"
    [[ "$execs" != "?" && $elapsed -gt 0 ]] && rate=$((execs / elapsed))
    rows+=("$(printf '%-16s %7s %12s %9s %8s  %s' "$t" "$elapsed" "$execs" "$rate" "$crashes" "$result")")
    echo "${rows[-1]}"
done

echo
echo "== summary ($(date -u +%Y-%m-%dT%H:%MZ), ${seconds}s per target)"
printf '%-16s %7s %12s %9s %8s  %s\n' target seconds executions execs/s crashes result
for row in "${rows[@]}"; do echo "$row"; done
if [[ $failed != 0 ]]; then
    echo "fuzzing found a crash: reproduce with" \
        "cargo +$TOOLCHAIN fuzz run <target> fuzz/artifacts/<target>/<file>" >&2
    exit 1
fi
