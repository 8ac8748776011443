#!/bin/sh
# Build-time step of the Dockerfile, in the same RUN as the npm install (a deletion in a
# later layer does not shrink the image): remove from the OpenClaw package, its
# dependencies and the bundled plugins what the gateway never loads on the platform it
# runs on (README "Image size"). Only under node_modules directories: OpenClaw's own files
# (dist/, docs/, skills/) are listed with their hashes in
# dist/postinstall-content-inventory.json, which `openclaw doctor` and updates check, and
# docs/ and skills/ are read at run time; they stay as published.
#   - native binaries of other platforms and architectures (ELF of another machine,
#     Mach-O, PE), by their headers, not their names;
#   - source maps and TypeScript declarations (Node loads neither);
#   - tests, examples and docs directories at the top of a dependency, and its README,
#     CHANGELOG and HISTORY files (licences and notices stay).
# TypeScript stays whole: OpenClaw compiles plugins with it at run time.
# Prints what each step removed (MB) to stderr.
#   openclaw-prune.sh   (no arguments; the global OpenClaw install)
set -eu
root="$(npm root --global)/openclaw"
[ -d "$root" ] || { echo "openclaw-prune.sh: no OpenClaw at $root" >&2; exit 1; }
# The ELF machine of this platform (e_machine, little-endian): 62 x86-64, 183 AArch64.
case "$(node -p process.arch)" in
    x64) machine=62 ;;
    arm64) machine=183 ;;
    *) echo "openclaw-prune.sh: unsupported architecture $(node -p process.arch)" >&2; exit 1 ;;
esac

mb() { du -sm "$root" | cut -f1; }
step() {
    echo "openclaw-prune.sh: $1: $(($2 - $(mb))) MB" >&2
}

# 1. Native code the gateway cannot load here. Candidates: shared objects by name, and
# every executable file (the codex runtime's binaries have no extension).
size="$(mb)"
find "$root" -type f \( -path "$root/node_modules/*" -o -path "$root/*/node_modules/*" \) \( -name '*.node' -o -name '*.so' -o -name '*.so.*' -o -name '*.dylib' \
    -o -name '*.dll' -o -name '*.exe' -o -perm -u+x \) -print | while IFS= read -r f; do
    # The first 20 bytes: magic (4), class, data, ..., e_machine at offset 18.
    # shellcheck disable=SC2046 # the bytes, one word each
    set -- $(od -An -tu1 -N20 "$f" 2>/dev/null)
    [ "$#" -ge 20 ] || continue
    magic="$1 $2 $3 $4"
    case "$magic" in
        "127 69 76 70")
            # ELF, little-endian (data=1 in byte 6): e_machine = byte 19 + 256 * byte 20.
            if [ "$6" = 1 ] && [ $(( ${19} + 256 * ${20} )) != "$machine" ]; then
                rm -f "$f"
            fi
            ;;
        "207 250 237 254" | "206 250 237 254" | "202 254 186 190")
            rm -f "$f" # Mach-O (64, 32, universal)
            ;;
        "77 90 "*)
            rm -f "$f" # PE (MZ)
            ;;
    esac
done
# Directories left empty by that (prebuilds/darwin-arm64/ and the like).
find "$root" -depth -type d -empty -path '*/prebuilds/*' -delete
step "native binaries of other platforms" "$size"

# 2. Source maps and TypeScript declarations.
size="$(mb)"
find "$root" -type f \( -path "$root/node_modules/*" -o -path "$root/*/node_modules/*" \) \
    ! -path '*/node_modules/typescript/*' \( -name '*.map' \
    -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.tsbuildinfo' \) -delete
step "source maps and type declarations" "$size"

# 3. In dependencies only (under a node_modules directory): tests, examples and docs at a
# package's top, and its README/CHANGELOG/HISTORY.
size="$(mb)"
find "$root" -type d -name node_modules | while IFS= read -r modules; do
    [ -d "$modules" ] || continue # inside a directory removed before
    # $modules/PKG/DIR or $modules/@SCOPE/PKG/DIR, whose parent holds package.json.
    find "$modules" -mindepth 2 -maxdepth 3 -type d \( -name test -o -name tests -o -name __tests__ \
        -o -name example -o -name examples -o -name docs -o -name doc -o -name .github \
        -o -name benchmark -o -name benchmarks -o -name coverage \) -print \
        | while IFS= read -r dir; do
            if [ -f "$(dirname "$dir")/package.json" ]; then rm -rf "$dir"; fi
        done
    find "$modules" -mindepth 2 -maxdepth 3 -type f \( -iname 'README' -o -iname 'README.*' \
        -o -iname 'CHANGELOG' -o -iname 'CHANGELOG.*' -o -iname 'HISTORY.*' \) \
        -exec sh -c 'for f; do [ -f "$(dirname "$f")/package.json" ] && rm -f "$f"; done; true' sh {} +
done
step "tests, examples, docs and READMEs of dependencies" "$size"
