#!/usr/bin/env bash
# Release artifacts in dist/: the static binary for each architecture, named
# clawinit-VERSION-ARCH-linux, a SHA256SUMS file to check a download against
# (`sha256sum -c SHA256SUMS`), and SIZES.txt with each binary's size line
# (bytes and its sections as `size` counts them), its `--version`, and the
# `cargo bloat --crates` table of the same build (where the bytes go).
# Builds through build-static.sh, so the libc per target is the measured one.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
rm -rf dist
mkdir dist
: >dist/SIZES.txt
for arch in x86_64 aarch64; do
    binary=$(scripts/build-static.sh "$arch")
    name="clawinit-$version-$arch-linux"
    cp "$binary" "dist/$name"
    case "$arch" in
        x86_64) size_tool=size run=() ;;
        aarch64) size_tool=aarch64-linux-gnu-size run=(qemu-aarch64-static) ;;
    esac
    bytes=$(stat -c %s "dist/$name")
    sections=$("$size_tool" "dist/$name" | awk 'NR == 2 {print "text " $1 ", data " $2 ", bss " $3}')
    printf '%s: %s bytes (%s MiB); %s; %s\n' "$name" "$bytes" "$(awk "BEGIN {printf \"%.2f\", $bytes / 1048576}")" \
        "$sections" "$("${run[@]}" "dist/$name" --version)" >>dist/SIZES.txt
    scripts/build-static.sh --bloat "$arch" 2>/dev/null | grep -v '^ *Analyzing\|^$\|^Note:' | sed 's/^/    /' >>dist/SIZES.txt
done
(cd dist && sha256sum clawinit-* >SHA256SUMS && sha256sum --quiet -c SHA256SUMS)
cat dist/SIZES.txt
echo "$PWD/dist"
