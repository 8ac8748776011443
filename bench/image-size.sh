#!/usr/bin/env bash
# What an image's size is made of (README "Image size"): its size as podman reports it,
# the main parts (the base system, Node and npm, OpenClaw's dist and dependencies, the
# plugins the Dockerfile adds, the codex runtime's native binaries, the compile cache),
# and the 20 directories holding the most bytes in their own files (`du -S`: a directory
# without its subdirectories, so no directory is counted twice). Markdown on stdout.
#   bench/image-size.sh IMAGE [IMAGE...]
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$#" -gt 0 ] || { echo "usage: bench/image-size.sh IMAGE [IMAGE...]" >&2; exit 64; }
[ -f .cache/image/containers.conf ] && export CONTAINERS_CONF="$PWD/.cache/image/containers.conf"

# Run in the image as root, no network, no entrypoint. Sizes in MB (du -m, apparent
# blocks of the image's files; /proc, /sys and /dev are other file systems: -x).
# shellcheck disable=SC2016 # expanded inside the container
inside='
set -eu
oc=/usr/local/lib/node_modules/openclaw
mb() { if [ -e "$1" ]; then du -smx "$@" 2>/dev/null | awk "{ s += \$1 } END { print s + 0 }"; else echo 0; fi; }
total=$(mb /)
node=$(mb /usr/local/bin/node)
npm=$(mb /usr/local/lib/node_modules/npm)
dist=$(du -smx --exclude=extensions "$oc/dist" | cut -f1)
ext=$(mb "$oc/dist/extensions")
deps=$(mb "$oc/node_modules")
docs=$(mb "$oc/docs")
codex=$(find "$oc" -type d -path "*/@openai/codex*" -prune -print 2>/dev/null | xargs -r du -smcx 2>/dev/null | tail -n1 | cut -f1)
cache=$(mb /var/cache/openclaw)
echo "| part | MB |"
echo "|---|---|"
echo "| everything (du -x /) | $total |"
echo "| Node (/usr/local/bin/node) | $node |"
echo "| npm | $npm |"
echo "| OpenClaw dist/ without extensions/ | $dist |"
echo "| OpenClaw dist/extensions/ (bundled and added plugins) | $ext |"
echo "| of which the codex runtime (@openai/codex*) | ${codex:-0} |"
echo "| OpenClaw node_modules/ (its dependencies) | $deps |"
echo "| OpenClaw docs/ | $docs |"
echo "| compile cache (/var/cache/openclaw) | $cache |"
echo "| the rest (Debian, /usr/local/lib/clawinit, ...) | $((total - node - npm - dist - ext - deps - docs - cache)) |"
echo
echo "| directory (own files only, du -S) | MB |"
echo "|---|---|"
du -xSm / 2>/dev/null | sort -rn | head -n 20 | awk "{ printf \"| %s | %s |\\n\", \$2, \$1 }"
'
for image in "$@"; do
    echo "### $image: $(podman image inspect --format '{{.Size}}' "$image" | awk '{ printf "%.0f MB", $1 / 1e6 }')"
    echo
    # (podman's complaint that no systemd schedules the health check: dropped)
    podman run --rm --network none --user 0 --entrypoint sh "$image" -c "$inside" 2>/dev/null
    echo
done
