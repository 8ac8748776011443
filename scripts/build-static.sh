#!/usr/bin/env bash
# Build a static release binary and print its path.
#   scripts/build-static.sh [--bloat] [x86_64|aarch64|TRIPLE]   (default: this machine's)
# --bloat prints `cargo bloat --crates` for the same build instead (unstripped, in
# target/bloat so the release artifacts stay cached; cargo-bloat goes into .cache/).
# An arch name picks the libc measured best for it (README "Size and libc");
# a full triple (e.g. x86_64-unknown-linux-musl) builds exactly that, for measuring.
# aarch64 on an x86_64 host gets its cross toolchain from scripts/install-cross.sh first.
set -euo pipefail
cd "$(dirname "$0")/.."
bloat=false
if [ "${1:-}" = --bloat ]; then
    bloat=true
    shift
fi
case "${1:-$(uname -m)}" in
    x86_64) target=x86_64-unknown-linux-gnu ;;
    aarch64) target=aarch64-unknown-linux-gnu ;;
    *-linux-*) target=$1 ;;
    *) echo "usage: $0 [x86_64|aarch64|TRIPLE]" >&2; exit 64 ;;
esac
host=$(rustc -vV | sed -n 's/^host: //p')
triple_env=$(echo "$target" | tr 'a-z-' 'A-Z_')
if [ "${target%%-*}" != "${host%%-*}" ]; then
    case "$target" in
        aarch64-*) scripts/install-cross.sh ;;
        *) echo "build-static.sh: no cross toolchain for $target on $host" >&2; exit 69 ;;
    esac
    export "CARGO_TARGET_${triple_env}_LINKER=aarch64-linux-gnu-gcc" "CC_${target//-/_}=aarch64-linux-gnu-gcc"
fi
rustup target list --installed | grep -qx "$target" || rustup target add "$target" >/dev/null 2>&1
# glibc links dynamically unless asked; musl targets are static by default.
export "CARGO_TARGET_${triple_env}_RUSTFLAGS=-C target-feature=+crt-static"
if $bloat; then
    [ -x .cache/cargo-bloat/bin/cargo-bloat ] \
        || cargo install --quiet --locked --root .cache/cargo-bloat cargo-bloat@0.12.1 >/dev/null 2>&1
    PATH="$PWD/.cache/cargo-bloat/bin:$PATH" CARGO_PROFILE_RELEASE_STRIP=false CARGO_TARGET_DIR=target/bloat \
        cargo bloat --release --locked --target "$target" --crates -n 12
    exit 0
fi
cargo build --release --locked --quiet --target "$target"
echo "$PWD/target/$target/release/clawinit"
