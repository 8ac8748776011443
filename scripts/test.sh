#!/usr/bin/env bash
# The test command: unit and integration tests (fixtures are committed, so this
# needs no sops; when sops is installed the live-parity test also runs it),
# then a short fuzz smoke run when cargo-fuzz and a nightly toolchain exist.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --quiet
