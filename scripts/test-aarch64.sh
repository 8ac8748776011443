#!/usr/bin/env bash
# The aarch64 tests: cargo test cannot run an aarch64 binary on this x86_64
# host, so build the aarch64 release binary (the one release.sh ships, so the
# slow LTO build is shared) and drive it under qemu-user through the fixtures,
# the golden renders, exec and PID 1 (tests/cross/binary_suite.py). qemu runs
# it directly: binfmt_misc may not be registered in a container.
# What qemu cannot emulate is listed in the README ("aarch64 and qemu").
set -euo pipefail
cd "$(dirname "$0")/.."
sops=$(scripts/install-peers.sh | tail -n 1)
binary=$(scripts/build-static.sh aarch64)
python3 tests/cross/binary_suite.py --runner qemu-aarch64-static --sops "$sops" "$binary"
