#!/usr/bin/env bash
# Install what the aarch64 build and its tests need on an x86_64 Debian host:
# the Rust std for aarch64 Linux (glibc), the aarch64 GNU cross linker and
# glibc (for crt-static), qemu-user-static to run the result, and PyYAML for
# tests/cross/binary_suite.py (YAML fixtures are compared as data). Idempotent and
# quiet; build-static.sh calls it for a cross target, so a clean clone needs no
# hand-installed step. Prints nothing on success.
set -euo pipefail

rustup target list --installed | grep -qx aarch64-unknown-linux-gnu \
    || rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1

if ! command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || [ ! -e /usr/aarch64-linux-gnu/lib/libc.a ] \
    || ! command -v qemu-aarch64-static >/dev/null 2>&1 || ! python3 -c 'import yaml' >/dev/null 2>&1; then
    pkgs="gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static python3-yaml"
    # shellcheck disable=SC2086
    apt-get install -y --no-install-recommends $pkgs >/dev/null 2>&1 \
        || { apt-get update >/dev/null && apt-get install -y --no-install-recommends $pkgs >/dev/null; }
fi
