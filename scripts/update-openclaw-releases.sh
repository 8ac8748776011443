#!/usr/bin/env bash
# The OpenClaw releases clawinit is tested against: the version matrix.
#
#   scripts/update-openclaw-releases.sh                  # every release in schema/releases/
#   scripts/update-openclaw-releases.sh 2026.10.1 ...    # add (or refresh) these
#
# For each release: install it into .cache/openclaw/<version> (once, with
# scripts/install-openclaw.sh), write its `openclaw config schema` to
# schema/releases/<version>.schema.json, then run that release's real
# `openclaw config validate` on every scenario's config (the ignored test of
# tests/versions.rs). CI needs no install for the matrix: commit schema/.
# Widening the range also means OLDEST_TESTED / NEWEST_TESTED in
# src/openclaw_version.rs and the README's table (tests/versions.rs says what
# to write).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
mkdir -p schema/releases
if [ "$#" -gt 0 ]; then
    releases=("$@")
else
    mapfile -t releases < <(ls schema/releases | sed -n 's/\.schema\.json$//p')
fi
for version in "${releases[@]}"; do
    openclaw="$(scripts/install-openclaw.sh "$version")"
    # `config schema` reads no config, but keep it off this machine's ~/.openclaw.
    scratch="$(mktemp -d)"
    HOME="$scratch" OPENCLAW_STATE_DIR="$scratch" npm_config_offline=true \
        "$openclaw" config schema >"schema/releases/$version.schema.json.tmp"
    rm -rf "$scratch"
    python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "schema/releases/$version.schema.json.tmp"
    mv "schema/releases/$version.schema.json.tmp" "schema/releases/$version.schema.json"
    echo "openclaw@$version: schema/releases/$version.schema.json" >&2
done
echo "the real validators of ${releases[*]} on every scenario:" >&2
CLAWINIT_OPENCLAW_RELEASES="${releases[*]}" \
    cargo test --quiet --test versions -- --ignored --nocapture real_openclaw_accepts
