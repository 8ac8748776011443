#!/usr/bin/env python3
"""The demo worker: prints what it sees once clawinit starts it (after the
gateway is ready): the gateway's /readyz, which providers openclaw.json enables,
which secrets it received (names and lengths, never values), then idles until
clawinit stops it."""
import json
import os
import signal
import sys
import time
import urllib.request

port = os.environ.get("OPENCLAW_GATEWAY_PORT", "18789")
started = time.time()
ready = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5).read())
print(f"  worker: gateway /readyz says ready={ready.get('ready')} (I was started only after that)")
config_path = os.environ.get("OPENCLAW_CONFIG_PATH") or os.path.join(os.environ["OPENCLAW_STATE_DIR"], "openclaw.json")
config = json.load(open(config_path))
model = config.get("agents", {}).get("defaults", {}).get("model", {})
print(f"  worker: openclaw.json primary={model.get('primary')} fallbacks={model.get('fallbacks')}")
for name in ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENCLAW_GATEWAY_TOKEN"]:
    value = os.environ.get(name, "")
    print(f"  worker: {name:24} {'set (%d chars)' % len(value) if value else 'missing'}")
leaked = [k for k in os.environ if k.startswith("SOPS_AGE_")]
print(f"  worker: SOPS_AGE_* identity variables: {'LEAKED ' + str(leaked) if leaked else 'not passed (good)'}")
sys.stdout.flush()
signal.signal(signal.SIGTERM, lambda *a: (print("  worker: got SIGTERM, exiting 0", flush=True), sys.exit(0)))
while True:
    time.sleep(1)
