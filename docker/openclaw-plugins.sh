#!/bin/sh
# Build-time step of the Dockerfile: install OpenClaw plugins into the OpenClaw package
# as bundled plugins (dist/extensions/<id>, each with its own production dependencies:
# the layout OpenClaw's own images use for OPENCLAW_EXTENSIONS), so the gateway never
# npm-installs them at start. Without this, openclaw 2026.9.6 runs `npm view
# @openclaw/codex@2026.9.6` on the first start with an OpenAI key: exit 78 with no npm,
# ~80 s of retries with npm but no registry (README "The image").
#   openclaw-plugins.sh SPEC...   (npm specs, e.g. @openclaw/codex@2026.9.5; none: nothing)
set -eu
root="$(npm root --global)/openclaw/dist/extensions"
[ -d "$root" ] || { echo "openclaw-plugins.sh: no OpenClaw at $root" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for spec in $(echo "$@" | tr ',' ' '); do
    rm -rf "$work/package"
    tarball="$(cd "$work" && npm pack --silent "$spec")"
    tar -xzf "$work/$tarball" -C "$work"
    id="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).id)' "$work/package/openclaw.plugin.json")"
    case "$id" in
        "" | *[!a-z0-9-]*) echo "openclaw-plugins.sh: $spec has no usable plugin id ($id)" >&2; exit 1 ;;
    esac
    if [ -e "$root/$id" ]; then
        echo "openclaw-plugins.sh: $id is already bundled with OpenClaw; $spec skipped" >&2
        continue
    fi
    # devDependencies name the plugin SDK as `workspace:*`, which npm cannot resolve
    # even with --omit=dev; bundled plugins have no use for them.
    node -e 'const fs = require("fs"), f = process.argv[1], p = JSON.parse(fs.readFileSync(f));
        delete p.devDependencies; fs.writeFileSync(f, JSON.stringify(p, null, 2) + "\n")' "$work/package/package.json"
    (cd "$work/package" && npm install --omit=dev --no-package-lock --no-audit --no-fund --loglevel=error >&2)
    mv "$work/package" "$root/$id"
    echo "openclaw-plugins.sh: $spec -> $root/$id" >&2
done
