# syntax=docker/dockerfile:1
# clawinit + the pinned OpenClaw gateway. Targets:
#   gateway (default, last): OpenClaw on Node 24 with clawinit as PID 1
#   binary: only /clawinit, for `COPY --from=<this image> /clawinit /usr/local/bin/clawinit`
# Keep OPENCLAW_VERSION equal to scripts/install-openclaw.sh (a test checks it).
ARG RUST_IMAGE=rust:1.95-bookworm
ARG NODE_IMAGE=node:24-bookworm-slim
ARG OPENCLAW_VERSION=2026.9.6

# Multi-arch: `docker buildx build --platform linux/amd64,linux/arm64 .` runs this
# stage once per platform (natively, or under QEMU via binfmt), so each builds for its
# own architecture and no cross toolchain is needed here (under QEMU the LTO build is
# slow; scripts/release.sh cross-builds both in minutes). BuildKit sets TARGETARCH;
# the classic builder leaves it empty and the build machine's architecture is used.
FROM ${RUST_IMAGE} AS build
ARG TARGETARCH
# The commit for `clawinit --version` (the build context has no .git):
# --build-arg CLAWINIT_GIT_COMMIT=$(git rev-parse --short=10 HEAD)
ARG CLAWINIT_GIT_COMMIT=unknown
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
# A static binary (glibc crt-static, the libc measured best for both targets; README
# "Size and libc"): it runs in any image, distroless and scratch included.
RUN arch="${TARGETARCH:-$(dpkg --print-architecture)}" \
    && case "$arch" in \
        amd64) target=x86_64-unknown-linux-gnu ;; \
        arm64) target=aarch64-unknown-linux-gnu ;; \
        *) echo "unsupported architecture $arch (amd64 or arm64)" >&2; exit 1 ;; \
    esac \
    && CLAWINIT_GIT_COMMIT="${CLAWINIT_GIT_COMMIT}" RUSTFLAGS="-C target-feature=+crt-static" \
        cargo build --release --locked --target "$target" \
    && cp "target/$target/release/clawinit" /clawinit

# Per platform: the binary of that platform's architecture. A static binary built
# elsewhere (scripts/build-static.sh, a release download) replaces this stage, and then
# no Rust toolchain is needed: `--build-context binary=DIR` with DIR holding `clawinit`
# (BuildKit and podman both let a named context stand in for the stage of that name).
FROM scratch AS binary
COPY --from=build /clawinit /clawinit

FROM ${NODE_IMAGE} AS gateway
ARG OPENCLAW_VERSION
# OpenClaw plugins the gateway would otherwise npm-install at its first start, for the
# providers in clawinit's catalog (src/config/catalog.rs), installed here as bundled
# plugins so a container starts offline. Space-separated npm specs; "" for none. Covered:
# OPENAI_API_KEY (the codex runtime, which 2026.9.6 requires for openai/* models),
# OPENROUTER_API_KEY (it also enables the perplexity web-search plugin), DEEPSEEK_,
# MISTRAL_, VENICE_API_KEY. Moonshot, Z.AI, Groq, Cerebras and Kimi plugins
# are published on ClawHub only, not npm (README "The image"). @openclaw/codex
# 2026.9.6 is not on npm either; 2026.9.5 is the newest there (plugin API >=2026.9.5).
ARG OPENCLAW_PLUGINS="@openclaw/codex@2026.9.5 @openclaw/deepseek-provider@2026.9.5 @openclaw/mistral-provider@2026.9.5 @openclaw/venice-provider@2026.9.3 @openclaw/perplexity-plugin@2026.9.5"
COPY docker/openclaw-plugins.sh docker/openclaw-prune.sh /usr/local/lib/clawinit/
# /data: node's, group 0 and group-writable, so a container started with an arbitrary
# uid in group 0 (OpenShift) can write it too (README "The image"). The prune runs in this
# same layer, or its deletions would not shrink the image (README "Image size").
RUN npm install --global --no-audit --no-fund --loglevel=error "openclaw@${OPENCLAW_VERSION}" \
    && /usr/local/lib/clawinit/openclaw-plugins.sh ${OPENCLAW_PLUGINS} \
    && /usr/local/lib/clawinit/openclaw-prune.sh \
    && npm cache clean --force \
    && rm -rf /tmp/* /root/.npm /root/.cache \
    && install -d -o node -g 0 -m 0775 /data
COPY --from=binary /clawinit /usr/local/bin/clawinit
# A tiny real worker for the examples: waits for nothing but readiness, exits 0 on SIGTERM.
COPY docker/worker.mjs /usr/local/lib/clawinit/worker.mjs
# clawinit starts as root only to hand /data to `node` and write openclaw.json,
# then runs the gateway and the worker as `node` (the gosu pattern).
ENV OPENCLAW_STATE_DIR=/data \
    OPENCLAW_GATEWAY_BIND=lan \
    CLAWINIT_USER=node \
    CLAWINIT_STOP_TIMEOUT=9

# Node's compile cache, baked here by starting the gateway once, instead of openclaw.mjs's
# own under os.tmpdir(), which is empty in every fresh container (README "Start-up"). Set
# for openclaw.mjs and node, not clawinit: OPENCLAW_PACKAGED_COMPILE_CACHE_RESPAWNED tells
# openclaw.mjs not to respawn itself to move a NODE_COMPILE_CACHE from the environment
# to a subdirectory of its own (two node processes); with it the gateway stays one
# process and uses the cache as set.
# OPENCLAW_COMPILE_CACHE=none skips the bake (44 MB less; each container then compiles
# cold into the empty directory, as before the cache).
ARG OPENCLAW_COMPILE_CACHE=bake
ENV NODE_COMPILE_CACHE=/var/cache/openclaw/compile-cache \
    OPENCLAW_PACKAGED_COMPILE_CACHE_RESPAWNED=1
COPY docker/openclaw-bake-cache.sh /usr/local/lib/clawinit/openclaw-bake-cache.sh
RUN /usr/local/lib/clawinit/openclaw-bake-cache.sh "$OPENCLAW_COMPILE_CACHE"

VOLUME ["/data"]
EXPOSE 18789
# OpenClaw can take minutes to become ready on a cold start.
HEALTHCHECK --interval=30s --timeout=5s --start-period=300s --retries=3 CMD ["clawinit", "probe"]
ENTRYPOINT ["clawinit"]
# The gateway alone; with the example worker: CMD ["node", "/usr/local/lib/clawinit/worker.mjs"].
CMD ["run"]
