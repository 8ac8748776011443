#!/usr/bin/env bash
# The test command. Installs the real peers the tests run against (sops 3.11
# and age for secrets fixtures; Node 24 + the pinned OpenClaw, whose
# `openclaw config validate` checks every config the tests write) into
# system packages and the ignored .cache/, once; then unit and integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-peers.sh >/dev/null
scripts/install-openclaw.sh >/dev/null
cargo test --quiet
