#!/usr/bin/env bash
# The test command. Installs the real peers the tests run against (sops 3.11
# and age for secrets fixtures; Node 24 + the pinned OpenClaw (and the oldest
# tested release, for its e2e start), whose
# `openclaw config validate` checks every config the tests write) into
# system packages and the ignored .cache/, once; then unit and integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-peers.sh >/dev/null
scripts/install-openclaw.sh >/dev/null
# The oldest tested release too: the e2e tests start its real gateway once.
oldest="$(sed -n 's/^pub const OLDEST_TESTED: &str = "\(.*\)";$/\1/p' src/openclaw_version.rs)"
scripts/install-openclaw.sh "${oldest:?OLDEST_TESTED not found in src/openclaw_version.rs}" >/dev/null
cargo test --quiet
