#!/usr/bin/env bash
# Where a decrypt's instructions go: callgrind (valgrind) over `clawinit decrypt`
# of the 10 000-key dotenv fixture, with an optimised build that keeps symbols
# (no LTO, so functions stay attributable to their crates). Prints the total and
# the top entries by self cost (README "Decrypt profile"). Instruction counts,
# not time: they repeat exactly from run to run, on a loaded machine too.
#   scripts/profile-decrypt.sh [FIXTURE] [TOP]
set -euo pipefail
cd "$(dirname "$0")/.."
fixture="${1:-tests/fixtures/ok/keys_10000.enc}"
top="${2:-15}"
command -v valgrind >/dev/null 2>&1 || apt-get install -y valgrind >/dev/null
CARGO_PROFILE_RELEASE_STRIP=false CARGO_PROFILE_RELEASE_DEBUG=1 CARGO_PROFILE_RELEASE_LTO=false \
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_TARGET_DIR=target/prof cargo build --release --quiet
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
SOPS_AGE_KEY_FILE=tests/fixtures/keys/key1.txt valgrind --tool=callgrind --callgrind-out-file="$out" \
    target/prof/release/clawinit decrypt "$fixture" >/dev/null 2>&1
# Self cost per function, summed over the source files it was inlined from.
callgrind_annotate --auto=no "$out" 2>/dev/null | awk -v top="$top" '
    /PROGRAM TOTALS/ { gsub(",", "", $1); total = $1; next }
    total && /^ *[0-9,]+ \(/ {
        n = $1; gsub(",", "", n)
        name = $0; sub(/^[^)]*\) +/, "", name); sub(/^[^:]*:/, "", name); sub(/ \[.*$/, "", name)
        gsub(/ as [^<>]*(<[^<>]*>)?[^<>]*>/, ">", name)
        cost[name] += n
    }
    END {
        printf "%s instructions in all\n\n| share | instructions | function |\n|---:|---:|---|\n", total
        for (f in cost) printf "%.1f%%\t%d\t%s\n", 100 * cost[f] / total, cost[f], f | "sort -t\"\t\" -k2 -n -r | head -n " top " | awk -F\"\t\" \"{ printf \\\"| %s | %\\047d | \\`%s\\` |\\n\\\", \\$1, \\$2, \\$3 }\""
    }'
