#!/usr/bin/env bash
# Runs every fuzz target for a short while: ./fuzz/smoke.sh [SECONDS_PER_TARGET] (default 10).
#
# cargo-fuzz wants nightly for -Zsanitizer and the coverage passes; the stable toolchain ships
# the same compiler and sanitizer runtimes, and RUSTC_BOOTSTRAP=1 unlocks the flags.
# Corpora and crash artifacts go to fuzz/corpus and fuzz/artifacts (git-ignored).
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-10}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz not found: installing it (cargo install cargo-fuzz)" >&2
    cargo install --locked cargo-fuzz
fi

export RUSTC_BOOTSTRAP=1
cargo fuzz build
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
for target in $(cargo fuzz list); do
    printf '== %s (%ss): ' "$target" "$secs"
    if ! cargo fuzz run "$target" -- -max_total_time="$secs" >"$log" 2>&1; then
        echo "FAILED"
        tail -n 60 "$log"
        echo "fuzz target $target failed: the input is in fuzz/artifacts/$target" >&2
        exit 1
    fi
    grep -E '^Done' "$log" || echo "finished"
done
