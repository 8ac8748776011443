#!/usr/bin/env bash
# Cold start of the image with no registry access: `podman run --network none` to the
# first healthy `podman healthcheck run`, for three provider sets, with the Dockerfile's
# default OPENCLAW_PLUGINS ("after") and with none ("before": what the gateway then
# npm-installs at start), plus both images' sizes. Prints a Markdown table (README
# "Offline plugins"). Builds both images through scripts/test-image.sh --build-only.
#   bench/image-start.sh [RUNS]   (default 1; the median is shown)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-1}"
after="$(scripts/test-image.sh --build-only)"
before="$(CLAWINIT_IMAGE_TAG=localhost/clawinit-openclaw:bench-no-plugins CLAWINIT_IMAGE_PLUGINS='' scripts/test-image.sh --build-only)"
export CONTAINERS_CONF="$PWD/.cache/image/containers.conf"
name="clawinit-bench-$$"
trap 'podman rm --force --volumes "$name" >/dev/null 2>&1 || true' EXIT

# Seconds from `podman run` to healthy (fake keys: the gateway calls no provider at start).
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
            echo "exited $(podman inspect --format '{{.State.ExitCode}}' "$name")"
            return
        fi
        if awk -v a="$t" -v b="$t0" 'BEGIN { exit !(a - b > 300) }'; then
            echo "not ready in 300 s"
            return
        fi
        sleep 0.5
    done
    podman rm --force --volumes "$name" >/dev/null 2>&1
    awk -v a="$t" -v b="$t0" 'BEGIN { printf "%.1f s", a - b }'
}

median() {
    local image=$1 i
    shift
    for ((i = 0; i < runs; i++)); do start_time "$image" "$@"; echo; done | sort -n | awk '{ a[NR] = $0 } END { print a[int((NR + 1) / 2)] }'
}

size() {
    podman image inspect --format '{{.Size}}' "$1" | awk '{ printf "%.0f MB", $1 / 1e6 }'
}

echo "| providers (fake keys, \`--network none\`) | before: no plugins in the image | after: default OPENCLAW_PLUGINS |"
echo "|---|---|---|"
# The sets on fd 3: podman would read the loop's stdin.
while IFS='|' read -r label keys <&3; do
    # shellcheck disable=SC2086
    set -- $keys
    env_args=()
    for kv in "$@"; do env_args+=(--env "$kv"); done
    echo "| $label | $(median "$before" "${env_args[@]}") | $(median "$after" "${env_args[@]}") |"
done 3<<'SETS'
OpenAI|OPENAI_API_KEY=sk-fake
Anthropic + OpenRouter|ANTHROPIC_API_KEY=sk-ant-fake OPENROUTER_API_KEY=sk-or-fake
LiteLLM|LITELLM_API_KEY=sk-fake LITELLM_BASE_URL=http://litellm.invalid:4000/v1
SETS
echo "| image size | $(size "$before") | $(size "$after") |"
