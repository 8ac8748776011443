#!/usr/bin/env bash
# The main job: the real OpenClaw gateway under clawinit.
#
# Builds clawinit, installs Node 24 and the pinned openclaw from npm into
# .cache/ (once), then runs clawinit as PID 1 (in a new PID namespace when
# root; otherwise as a subreaper): it decrypts demo/secrets.env.enc with the
# committed DEMO-ONLY age key, seeds openclaw.json, starts the gateway, waits
# until /readyz says ready, starts demo/worker.py, and after DEMO_SECONDS
# (default 10; Ctrl-C works too) sends SIGTERM and shows the ordered shutdown.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s%N)
stage() { printf '\n\033[1m==> %s\033[0m (+%d ms)\n' "$1" $((($(date +%s%N) - t0) / 1000000)); }

stage "building clawinit (static release binary)"
bin="$(scripts/build-static.sh)"
ls -lh "$bin" | awk '{print "    " $5 " " $9}'

stage "installing Node 24 + openclaw (pinned) into .cache/ (first run only)"
openclaw="$(scripts/install-openclaw.sh)"
echo "    $openclaw"

demo_home="$(mktemp -d /tmp/clawinit-demo.XXXXXX)"
trap 'rm -rf "$demo_home"' EXIT
export HOME="$demo_home" OPENCLAW_STATE_DIR="$demo_home/state" OPENCLAW_GATEWAY_PORT="${OPENCLAW_GATEWAY_PORT:-18789}"
export OPENCLAW_GATEWAY_BIND=loopback OPENCLAW_AGENT_MODEL=anthropic/claude-opus-5
export CLAWINIT_SECRETS_FILE=demo/secrets.env.enc SOPS_AGE_KEY_FILE=demo/demo-age-key.txt   # DEMO-ONLY key
export CLAWINIT_GATEWAY_CMD="$openclaw gateway run" CLAWINIT_STOP_TIMEOUT=20
export npm_config_offline=true   # no plugin downloads at gateway start

stage "what clawinit would write (clawinit render)"
"$bin" render 2>&1 >/dev/null | sed 's/^/    /'

if [ "$(id -u)" = 0 ] && unshare --pid --fork --mount-proc true 2>/dev/null; then
    launch=(unshare --pid --fork --mount-proc "$bin" run -- python3 demo/worker.py)
    stage "starting clawinit as PID 1 of a new PID namespace: gateway, readiness gate, worker"
else
    launch=("$bin" run -- python3 demo/worker.py)
    stage "starting clawinit (not root: as a child subreaper): gateway, readiness gate, worker"
fi
"${launch[@]}" &
launcher=$!
clawinit_pid() { cat "/proc/$launcher/task/$launcher/children" 2>/dev/null | awk '{print $1}'; }
stop() {
    stage "SIGTERM to clawinit: worker first, then the gateway"
    pid="$(clawinit_pid)"; kill -TERM "${pid:-$launcher}" 2>/dev/null || true
}
trap 'stop' INT
# Wait until ready (the worker prints then), plus the demo time.
until "$bin" probe 2>/dev/null; do
    if ! kill -0 "$launcher" 2>/dev/null; then
        code=0; wait "$launcher" || code=$?
        stage "clawinit exited $code before the gateway was ready"; exit "$code"
    fi
    sleep 0.5
done
stage "gateway ready (clawinit probe = 0); letting it run ${DEMO_SECONDS:-10} s"
sleep "${DEMO_SECONDS:-10}" || true
stop
code=0; wait "$launcher" || code=$?
stage "clawinit exited $code; probe now: $("$bin" probe 2>/dev/null && echo ready || echo 'not answering (gateway stopped)')"
