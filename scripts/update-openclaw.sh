#!/usr/bin/env bash
# Bump the pinned OpenClaw: `scripts/update-openclaw.sh 2026.10.1`.
# Rewrites the pin, installs that version into .cache/, refreshes the JSON
# Schema clawinit is checked against, checks the catalog's model ids against
# its model registry, and runs the tests on it.
set -euo pipefail
version="${1:?usage: scripts/update-openclaw.sh VERSION}"
root="$(cd "$(dirname "$0")/.." && pwd)"
sed -i "s/^OPENCLAW_VERSION=\".*\"/OPENCLAW_VERSION=\"$version\"/" "$root/scripts/install-openclaw.sh"
openclaw="$("$root/scripts/install-openclaw.sh")"
"$openclaw" config schema >"$root/schema/openclaw.schema.json.tmp"
mv "$root/schema/openclaw.schema.json.tmp" "$root/schema/openclaw.schema.json"
echo "$version" >"$root/schema/VERSION"
# Stale default model ids show at once (each named), before the long runs.
"$root/scripts/check-model-ids.py" "$(dirname "$openclaw")/node_modules/openclaw"
# The pin is the newest release of the version matrix too (its schema, its real validator);
# then move NEWEST_TESTED in src/openclaw_version.rs (the tests below say so until it is).
"$root/scripts/update-openclaw-releases.sh" "$version"
echo "pinned openclaw@$version; schema refreshed. Running the tests:" >&2
"$root/scripts/test.sh"
