# syntax=docker/dockerfile:1
# clawinit + the pinned OpenClaw gateway. Targets:
#   gateway (default, last): OpenClaw on Node 24 with clawinit as PID 1
#   binary: only /clawinit, for `COPY --from=<this image> /clawinit /usr/local/bin/clawinit`
# Keep OPENCLAW_VERSION equal to scripts/install-openclaw.sh (a test checks it).
ARG RUST_IMAGE=rust:1.95-bookworm
ARG NODE_IMAGE=node:24-bookworm-slim
ARG OPENCLAW_VERSION=2026.9.6

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
# A static binary (glibc crt-static): it runs in any image, distroless and scratch included.
RUN RUSTFLAGS="-C target-feature=+crt-static" \
        cargo build --release --locked --target x86_64-unknown-linux-gnu \
    && cp target/x86_64-unknown-linux-gnu/release/clawinit /clawinit

FROM scratch AS binary
COPY --from=build /clawinit /clawinit

FROM ${NODE_IMAGE} AS gateway
ARG OPENCLAW_VERSION
RUN npm install --global --no-audit --no-fund "openclaw@${OPENCLAW_VERSION}" \
    && npm cache clean --force \
    && install -d -o node -g node /data
COPY --from=build /clawinit /usr/local/bin/clawinit
# clawinit starts as root only to hand /data to `node` and write openclaw.json,
# then runs the gateway and the worker as `node` (the gosu pattern).
ENV OPENCLAW_STATE_DIR=/data \
    OPENCLAW_GATEWAY_BIND=lan \
    CLAWINIT_USER=node \
    CLAWINIT_STOP_TIMEOUT=9
VOLUME ["/data"]
EXPOSE 18789
# OpenClaw can take minutes to become ready on a cold start.
HEALTHCHECK --interval=30s --timeout=5s --start-period=300s --retries=3 CMD ["clawinit", "probe"]
ENTRYPOINT ["clawinit"]
# The gateway alone; give a worker instead: CMD ["node", "/app/worker.mjs"].
CMD ["run"]
