#!/usr/bin/env bash
# The main job, until the supervisor issue lands: build clawinit, decrypt the
# committed demo SOPS file with the committed DEMO-ONLY age key, and run a
# worker under `clawinit exec` that reports what it sees (names, never values).
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s%N)
stage() { printf '\n\033[1m==> %s\033[0m (%d ms)\n' "$1" $((($(date +%s%N) - t0) / 1000000)); }

stage "building clawinit (release)"
cargo build --release --quiet
bin=target/release/clawinit

export SOPS_AGE_KEY_FILE=demo/demo-age-key.txt
stage "decrypting demo/secrets.env.enc (names only)"
"$bin" decrypt demo/secrets.env.enc | sed -E 's/=.*/=<redacted>/'

stage "running a worker under clawinit exec"
"$bin" exec --secrets demo/secrets.env.enc -- sh -c '
  echo "worker pid $$ sees:"
  for v in OPENAI_API_KEY ANTHROPIC_API_KEY OPENCLAW_GATEWAY_TOKEN LOG_LEVEL_unencrypted; do
    eval "val=\${$v:-}"; printf "  %-24s %s\n" "$v" "$([ -n "$val" ] && echo "set (${#val} chars)" || echo missing)"
  done
  env | grep -q "^SOPS_AGE_" && echo "  SOPS_AGE_* LEAKED" || echo "  SOPS_AGE_* identity variables: not passed (good)"
  exit 0'
stage "done: the worker exited 0 and clawinit passed its code on"
