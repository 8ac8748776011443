#!/usr/bin/env bash
# Cold start of the image with no registry access: `podman run --network none` (a fresh
# container and volume each time) to the first healthy `podman healthcheck run`, for each
# provider set and each variant, the variants taken in turn within every round so that a
# drift of the machine hits them alike. Prints a Markdown table: per set and variant the
# median (min-max) over RUNS starts, the ratio of each variant's median to the first
# variant's, and each image's size (README "Start-up").
#   bench/image-start.sh [RUNS]   (default 1)
# Variants (BENCH_VARIANTS, one per line: `label|image|extra podman run arguments`):
#   default: "before" = BENCH_BEFORE_IMAGE, or when unset this checkout's Dockerfile with
#   no plugins (OPENCLAW_PLUGINS=""); "after" = BENCH_AFTER_IMAGE, or this checkout's
#   image (scripts/test-image.sh --build-only); "after, no compile cache" = the after
#   image with NODE_DISABLE_COMPILE_CACHE=1 (the baked cache's share). Images are built
#   only when a variant needs them.
# Provider sets (BENCH_SETS, one per line: `label|KEY=value ...`; default below).
# BENCH_TRACE=1 adds OPENCLAW_GATEWAY_STARTUP_TRACE=1 to every start and prints the
# gateway's phase lines of each variant's last start (stderr).
# E.g. the README's comparison, median of 5 against main's image built as :baseline:
#   BENCH_BEFORE_IMAGE=localhost/clawinit-openclaw:baseline bench/image-start.sh 5
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-1}"
export CONTAINERS_CONF="$PWD/.cache/image/containers.conf"
name="clawinit-bench-$$"
work="$(mktemp -d)"
trap 'podman rm --force --volumes "$name" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

sets="${BENCH_SETS:-OpenAI|OPENAI_API_KEY=sk-fake
Anthropic + OpenRouter|ANTHROPIC_API_KEY=sk-ant-fake OPENROUTER_API_KEY=sk-or-fake
LiteLLM|LITELLM_API_KEY=sk-fake LITELLM_BASE_URL=http://litellm.invalid:4000/v1}"

variants="${BENCH_VARIANTS:-}"
if [ -z "$variants" ]; then
    after="${BENCH_AFTER_IMAGE:-$(scripts/test-image.sh --build-only)}"
    before="${BENCH_BEFORE_IMAGE:-$(CLAWINIT_IMAGE_TAG=localhost/clawinit-openclaw:bench-no-plugins CLAWINIT_IMAGE_PLUGINS='' scripts/test-image.sh --build-only)}"
    variants="before|$before|
after, no compile cache|$after|--env NODE_DISABLE_COMPILE_CACHE=1
after|$after|"
fi
[ -f "$CONTAINERS_CONF" ] || scripts/test-image.sh --build-only >/dev/null

# Seconds from `podman run` to healthy (fake keys: the gateway calls no provider at start),
# or a word for a start that failed.
start_time() {
    local image=$1 t0 t
    shift
    podman rm --force --volumes "$name" >/dev/null 2>&1 || true
    t0="$(date +%s.%N)"
    podman run --detach --name "$name" --network none "$@" "$image" >/dev/null 2>&1
    while :; do
        t="$(date +%s.%N)"
        if podman healthcheck run "$name" >/dev/null 2>&1; then
            break
        fi
        if [ "$(podman inspect --format '{{.State.Running}}' "$name")" != true ]; then
            echo "exited-$(podman inspect --format '{{.State.ExitCode}}' "$name")"
            return
        fi
        if awk -v a="$t" -v b="$t0" 'BEGIN { exit !(a - b > 300) }'; then
            echo "not-ready-in-300-s"
            return
        fi
        sleep 0.5
    done
    if [ "${BENCH_TRACE:-}" = 1 ]; then
        podman logs "$name" 2>&1 | grep -E 'startup trace' >"$work/trace.$variant_index" || true
    fi
    podman rm --force --volumes "$name" >/dev/null 2>&1
    awk -v a="$t" -v b="$t0" 'BEGIN { printf "%.2f", a - b }'
}

# Rounds: every set, every variant in turn. Results: set index, variant index, seconds.
mapfile -t set_lines <<<"$sets"
mapfile -t variant_lines <<<"$variants"
trace_env=()
[ "${BENCH_TRACE:-}" = 1 ] && trace_env=(--env OPENCLAW_GATEWAY_STARTUP_TRACE=1)
for ((round = 1; round <= runs; round++)); do
    for set_index in "${!set_lines[@]}"; do
        IFS='|' read -r set_label keys <<<"${set_lines[$set_index]}"
        env_args=()
        for kv in $keys; do env_args+=(--env "$kv"); done
        for variant_index in "${!variant_lines[@]}"; do
            IFS='|' read -r variant_label image extra <<<"${variant_lines[$variant_index]}"
            # shellcheck disable=SC2086 # extra podman arguments, split on spaces
            s="$(start_time "$image" "${env_args[@]}" "${trace_env[@]}" $extra)"
            echo "$set_index $variant_index $s" >>"$work/results"
            echo "round $round/$runs, $set_label, $variant_label: $s" >&2
        done
    done
done

# The median (the lower middle for an even count) and the range of a variant's starts,
# and how many failed (and how).
stats() {
    awk -v s="$1" -v v="$2" '$1 == s && $2 == v { print $3 }' "$work/results" | sort -g \
        | awk '/^[0-9.]+$/ { a[++n] = $0; next } { bad = bad " " $0 }
            END { if (n) { printf "%s s", a[int((n + 1) / 2)]; if (n > 1) printf " (%s-%s)", a[1], a[n] }
                  if (bad != "") printf "; failed:%s", bad }'
}
median() {
    awk -v s="$1" -v v="$2" '$1 == s && $2 == v && $3 ~ /^[0-9.]+$/ { print $3 }' "$work/results" | sort -g \
        | awk '{ a[NR] = $0 } END { print a[int((NR + 1) / 2)] }'
}

header="| providers (fake keys, \`--network none\`), median of $runs (min-max) |"
rule="|---|"
for line in "${variant_lines[@]}"; do
    IFS='|' read -r variant_label _ _ <<<"$line"
    header+=" $variant_label |"
    rule+="---|"
done
for line in "${variant_lines[@]:1}"; do
    IFS='|' read -r variant_label _ _ <<<"$line"
    header+=" $variant_label / ${variant_lines[0]%%|*} |"
    rule+="---|"
done
echo "$header"
echo "$rule"
for set_index in "${!set_lines[@]}"; do
    row="| ${set_lines[$set_index]%%|*} |"
    for variant_index in "${!variant_lines[@]}"; do
        row+=" $(stats "$set_index" "$variant_index") |"
    done
    first="$(median "$set_index" 0)"
    for ((variant_index = 1; variant_index < ${#variant_lines[@]}; variant_index++)); do
        m="$(median "$set_index" "$variant_index")"
        row+=" $(awk -v a="$m" -v b="$first" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.0f %%", 100 * a / b; else print "-" }') |"
    done
    echo "$row"
done
row="| image size |"
for line in "${variant_lines[@]}"; do
    IFS='|' read -r _ image _ <<<"$line"
    row+=" $(podman image inspect --format '{{.Size}}' "$image" | awk '{ printf "%.0f MB", $1 / 1e6 }') |"
done
echo "$row"

if [ "${BENCH_TRACE:-}" = 1 ]; then
    for variant_index in "${!variant_lines[@]}"; do
        echo "== ${variant_lines[$variant_index]%%|*}: startup trace of the last start" >&2
        cat "$work/trace.$variant_index" >&2 2>/dev/null || true
    done
fi
