#!/usr/bin/env bash
# Build the static release binary (glibc, crt-static) and print its path.
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-gnu
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --quiet --target "$target"
echo "$PWD/target/$target/release/clawinit"
