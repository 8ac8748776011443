#!/bin/sh
# Build-time step of the Dockerfile: fill Node's compile cache ($NODE_COMPILE_CACHE, set in
# the image's ENV) by starting the gateway once the way a container does (`clawinit run`,
# the gateway as `node`), with a fake key for every provider whose plugin the image
# carries, until `clawinit probe` says ready, then stopping it (Node writes the cache as
# it exits). Without it every fresh container compiles OpenClaw's modules cold: openclaw.mjs
# keeps its own cache under os.tmpdir(), empty in a new container and hidden by a tmpfs
# /tmp (README "Start-up"). Leaves nothing but the cache: the state directory, the home
# directory's caches, /tmp and clawinit's socket are removed.
#   openclaw-bake-cache.sh [bake|none]   (as root, after /usr/local/bin/clawinit is in place;
#   none: only the empty directory, for the smallest image)
set -eu
cache="${NODE_COMPILE_CACHE:?openclaw-bake-cache.sh: NODE_COMPILE_CACHE is not set}"
# node's, group 0 and group-writable like /data: an arbitrary uid in group 0 may add to it.
install -d -o node -g 0 -m 0775 "$cache"
case "${1:-bake}" in
    bake) ;;
    none) echo "openclaw-bake-cache.sh: not baked (OPENCLAW_COMPILE_CACHE=none)" >&2; exit 0 ;;
    *) echo "openclaw-bake-cache.sh: OPENCLAW_COMPILE_CACHE must be bake or none, not $1" >&2; exit 64 ;;
esac
state="$(mktemp -d)"
log="$(mktemp)"
# A fake key per provider whose plugin is in the image (bundled, or added by
# OPENCLAW_PLUGINS): with a key whose plugin is missing the gateway would try to install it.
extensions="$(npm root --global)/openclaw/dist/extensions"
keys="ANTHROPIC_API_KEY=sk-ant-bake"
for pair in codex:OPENAI_API_KEY perplexity:OPENROUTER_API_KEY deepseek:DEEPSEEK_API_KEY \
    mistral:MISTRAL_API_KEY venice:VENICE_API_KEY; do
    if [ -d "$extensions/${pair%%:*}" ]; then keys="$keys ${pair#*:}=bake"; fi
done
echo "openclaw-bake-cache.sh: starting the gateway with $keys" >&2
# The gateway must not reach for the network at build time: no npm, no update check.
# shellcheck disable=SC2086 # the KEY=value pairs, one word each
env OPENCLAW_STATE_DIR="$state" npm_config_offline=true OPENCLAW_NO_AUTO_UPDATE=1 $keys \
    clawinit run >"$log" 2>&1 &
pid=$!
waited=0
until clawinit probe >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null || [ "$waited" -ge 600 ]; then
        echo "openclaw-bake-cache.sh: the gateway did not become ready (${waited} s):" >&2
        tail -n 40 "$log" >&2
        kill -TERM "$pid" 2>/dev/null || true
        exit 1
    fi
    sleep 1
    waited=$((waited + 1))
done
echo "openclaw-bake-cache.sh: ready after ~${waited} s; stopping" >&2
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" = 0 ] || { echo "openclaw-bake-cache.sh: clawinit exited $rc:" >&2; tail -n 40 "$log" >&2; exit 1; }
files="$(find "$cache" -type f | wc -l)"
[ "$files" -gt 0 ] || { echo "openclaw-bake-cache.sh: nothing was written to $cache" >&2; exit 1; }
echo "openclaw-bake-cache.sh: $files files, $(du -sm "$cache" | cut -f1) MB in $cache" >&2
rm -rf "$state" "$log" /tmp/* /run/clawinit /home/node/.cache /home/node/.openclaw /home/node/.npm /home/node/.config
