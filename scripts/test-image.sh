#!/usr/bin/env bash
# The image, built and run: podman + runc (Debian packages), the Dockerfile built against
# a stand-in for node:24-bookworm-slim (scripts/image-base.sh) with the static binary from
# scripts/build-static.sh as the `binary` build context, then tests/image.rs against it:
# the real gateway in real containers, the compose example under podman-compose and the
# Kubernetes example under `podman kube play`. CI runs it (.ci/run). Quiet on success.
#   scripts/test-image.sh [--build-only] [-- CARGO_TEST_ARGS...]
# Prints the image name with --build-only (bench/image-start.sh uses that).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
build_only=false
if [ "${1:-}" = --build-only ]; then
    build_only=true
    shift
fi
[ "${1:-}" = -- ] && shift

# The engine. podman 4.3 from Debian, runc (crun fails on this machine's hybrid cgroups),
# podman-compose for the compose example, catatonit for the pause image of `podman kube
# play` pods, debootstrap for the base, sops/age for fixtures.
need=()
for tool in podman runc podman-compose debootstrap catatonit; do
    command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
if [ "${#need[@]}" -gt 0 ]; then
    apt-get install -y "${need[@]}" >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y "${need[@]}" >/dev/null; }
fi
scripts/install-peers.sh >/dev/null

# The project's own containers.conf instead of editing /etc: runc; ulimits within this
# machine's hard limits (podman's defaults ask for more, which fails without
# CAP_SYS_RESOURCE: "error setting rlimit"; nproc above 4096 failed here even under the
# hard limit); no systemd for cgroups or events. Every podman call below and in the
# tests inherits CONTAINERS_CONF.
mkdir -p .cache/image
conf=.cache/image/containers.conf
nofile="$(ulimit -Hn)"
nproc="$(ulimit -Hu)"
[ "$nofile" = unlimited ] || [ "$nofile" -gt 65536 ] && nofile=65536
[ "$nproc" = unlimited ] || [ "$nproc" -gt 4096 ] && nproc=4096
cat >"$conf.tmp" <<CONF
# Written by scripts/test-image.sh.
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
mv "$conf.tmp" "$conf"
export CONTAINERS_CONF="$root/$conf"

base="$(scripts/image-base.sh)"
binary="$(scripts/build-static.sh)"
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
cp "$binary" "$context/clawinit"

# One image for every test. NODE_IMAGE swaps the base; the binary context replaces the
# Rust stage; layers are cached in podman's store, so only what changed is rebuilt.
# --format docker: the OCI format has no HEALTHCHECK. CLAWINIT_IMAGE_TAG and
# CLAWINIT_IMAGE_PLUGINS and CLAWINIT_IMAGE_COMPILE_CACHE (the OPENCLAW_PLUGINS and
# OPENCLAW_COMPILE_CACHE build arguments) are for bench/image-start.sh.
image="${CLAWINIT_IMAGE_TAG:-localhost/clawinit-openclaw:test}"
log="$context/build.log"
podman build --format docker --target gateway \
    --build-arg "NODE_IMAGE=$base" \
    --build-context "binary=$context" \
    ${CLAWINIT_IMAGE_PLUGINS+--build-arg "OPENCLAW_PLUGINS=$CLAWINIT_IMAGE_PLUGINS"} \
    ${CLAWINIT_IMAGE_COMPILE_CACHE+--build-arg "OPENCLAW_COMPILE_CACHE=$CLAWINIT_IMAGE_COMPILE_CACHE"} \
    --tag "$image" . >"$log" 2>&1 || { tail -n 40 "$log" >&2; exit 1; }
podman image prune --force >/dev/null
if $build_only; then
    echo "$image"
    exit 0
fi

# Whatever a test run leaves (an aborted run skips its Drop), by the tests' name prefix.
cleanup() {
    podman pod ps --quiet --filter name=clawinit-test- 2>/dev/null | xargs -r podman pod rm --force >/dev/null 2>&1 || true
    podman ps --all --quiet --filter name=clawinit-test- 2>/dev/null | xargs -r podman rm --force --volumes >/dev/null 2>&1 || true
    podman volume ls --quiet --filter name=clawinit-test- 2>/dev/null | xargs -r podman volume rm --force >/dev/null 2>&1 || true
    rm -rf "$context"
}
trap cleanup EXIT
cleanup

# One test at a time: each starts the real gateway, and two cores are shared.
CLAWINIT_IMAGE="$image" cargo test --quiet --test image -- --test-threads=1 "$@"
