#!/usr/bin/env bash
# Fuzz every target in fuzz/ for SECONDS each (default 60), starting from a copy
# of its committed seeds (fuzz/seeds/<target>/), and fail if any crash, timeout
# (>5 s on one input) or out-of-memory (>512 MB) is found. Findings are kept in
# fuzz/artifacts/<target>/; reproduce one with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run <target> fuzz/artifacts/<target>/<file>   (from fuzz/)
#
#   scripts/fuzz.sh [SECONDS]
#
# cargo-fuzz is installed once into .cache/cargo-fuzz. It needs nightly-only
# flags (-Zsanitizer, sancov); only stable exists here, so RUSTC_BOOTSTRAP=1
# unlocks them. If the AddressSanitizer build fails, targets run without a
# sanitizer (Rust code is memory-safe; panics, hangs and OOMs are still caught).
set -euo pipefail

seconds="${1:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$root/.cache/cargo-fuzz"
if [ ! -x "$tools/bin/cargo-fuzz" ]; then
    echo "fuzz.sh: installing cargo-fuzz into $tools" >&2
    cargo install --quiet --locked --root "$tools" cargo-fuzz
fi
export PATH="$tools/bin:$PATH"
export RUSTC_BOOTSTRAP=1
cd "$root/fuzz"

sanitizer=address
if ! cargo fuzz build --sanitizer address >/dev/null 2>"$root/.cache/fuzz-build.log"; then
    echo "fuzz.sh: AddressSanitizer build failed (see .cache/fuzz-build.log); using --sanitizer none" >&2
    sanitizer=none
    cargo fuzz build --sanitizer none
fi

failed=()
for target in $(cargo fuzz list); do
    # A scratch corpus: the committed seeds never change, and what the run
    # discovers does not pile up between runs.
    corpus="$(mktemp -d)"
    cp "seeds/$target/"* "$corpus/"
    echo "fuzz.sh: $target for ${seconds}s ($(ls "$corpus" | wc -l) seeds, sanitizer $sanitizer)" >&2
    if ! cargo fuzz run --sanitizer "$sanitizer" "$target" "$corpus" -- \
        -max_total_time="$seconds" -rss_limit_mb=512 -timeout=5 -print_final_stats=1 \
        >"$root/.cache/fuzz-$target.log" 2>&1; then
        failed+=("$target")
        tail -n 30 "$root/.cache/fuzz-$target.log" >&2
    fi
    grep -h "stat::number_of_executed_units" "$root/.cache/fuzz-$target.log" >&2 || true
    rm -rf "$corpus"
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz.sh: findings in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzz.sh: no findings" >&2
