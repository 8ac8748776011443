#!/usr/bin/env python3
"""Reload: what a SIGHUP costs, in one run.

    bench/reload.py [--runs N]

clawinit (the static release binary) as PID 1 of a fresh PID namespace runs
the fake gateway (tests/helpers/fake_gateway.py) with a 20-key SOPS file made
by the real sops 3.11 and an overlay. Then:

- nothing changed: N SIGHUPs, each waited for; clawinit's own time per reload
  (`took_us` of its "reload: nothing changed" line: read every source, decrypt
  and verify the MAC, render openclaw.json, compare 20+ values);
- rotation: N times, one value changed in the SOPS file, SIGHUP; the
  not-ready window clawinit logs (`not_ready_ms`), against the gateway's own
  restart time measured inside it (TERM to its exit, plus its start to the
  moment /readyz turns ready): what is left is clawinit's.
"""
import argparse
import datetime
import os
import re
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from common import tool

ROOT = Path(__file__).resolve().parent.parent
HELPERS = ROOT / "tests/helpers"
KEY = ROOT / "tests/fixtures/keys/key1.txt"
PY = "/usr/bin/python3"


def encrypt(sops, plain, out):
    recipient = next(l.split(": ")[1] for l in KEY.read_text().splitlines() if l.startswith("# public key: "))
    src = out.with_suffix(".plain.env")
    src.write_text(plain)
    enc = subprocess.run([sops, "encrypt", "--age", recipient, "--input-type", "dotenv", "--output-type", "dotenv",
                          str(src)], check=True, capture_output=True, env={"HOME": str(out.parent)})
    src.unlink()
    out.write_bytes(enc.stdout)


def document(round_):
    keys = [f"OPENAI_API_KEY=sk-bench-{round_}", "ANTHROPIC_API_KEY=sk-ant-bench"]
    keys += [f"EXTRA_{i:02}=value-{i}" for i in range(18)]
    return "\n".join(keys) + "\n"


class Stderr:
    """clawinit's stderr, read line by line from a file it appends to."""

    def __init__(self, path):
        self.file = open(path)
        self.seen = []

    def wait_for(self, needle, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.file.readline()
            if not line:
                time.sleep(0.005)
                continue
            self.seen.append(line)
            if needle in line:
                return line
        raise SystemExit(f"no {needle!r} within {timeout} s:\n" + "".join(self.seen[-20:]))


def field(line, name):
    return int(re.search(rf"{name}=(\d+)", line).group(1))


def stamps(log, name):
    return [float(l.split()[2]) for l in open(log) if l.startswith(f"stamp {name} ")]


def ready_ats(log):
    return [float(l.split()[2]) for l in open(log) if l.startswith("gateway ready-at ")]


def clock(line):
    """The log line's RFC 3339 timestamp as epoch seconds."""
    stamp = line.split()[0].rstrip("Z")
    return datetime.datetime.fromisoformat(stamp).replace(tzinfo=datetime.timezone.utc).timestamp()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    sops = tool("install-peers.sh")
    binary = tool("build-static.sh")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        secrets = tmp / "secrets.env"
        encrypt(sops, document(0), secrets)
        overlay = tmp / "overlay.json5"
        overlay.write_text("{ agents: { defaults: { timeoutSeconds: 120 } } }")
        log, err = tmp / "fake.log", tmp / "stderr"
        env = {
            "PATH": "/usr/bin:/bin", "HOME": str(tmp), "OPENCLAW_STATE_DIR": str(tmp / "state"),
            "CLAWINIT_SECRETS_FILE": str(secrets), "SOPS_AGE_KEY_FILE": str(KEY),
            "CLAWINIT_CONFIG_OVERLAY": str(overlay), "CLAWINIT_LOG_FORMAT": "text",
            "CLAWINIT_GATEWAY_CMD": f"{PY} {HELPERS / 'fake_gateway.py'}", "FAKE_LOG": str(log),
        }
        argv = ["unshare", "--pid", "--fork", "--mount-proc", "--net", "sh", "-c",
                'ip link set lo up && exec "$0" "$@"', binary, "run", "--", PY, str(HELPERS / "worker.py")]
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=open(err, "w"))
        try:
            out = Stderr(err)
            out.wait_for("spawned role=\"worker\"")
            pid = int(open(f"/proc/{proc.pid}/task/{proc.pid}/children").read().split()[0])

            took = []
            for _ in range(args.runs):
                os.kill(pid, signal.SIGHUP)
                took.append(field(out.wait_for("reload: nothing changed"), "took_us") / 1000)

            windows, own, starts = [], [], []
            for round_ in range(1, args.runs + 1):
                encrypt(sops, document(round_), secrets)
                os.kill(pid, signal.SIGHUP)
                term = clock(out.wait_for("stopping for the reload"))
                line = out.wait_for("gateway ready again after the reload")
                window = field(line, "not_ready_ms")
                exit_at, start_at, ready_at = stamps(log, "exit")[-1], stamps(log, "start")[-1], ready_ats(log)[-1]
                gateway_own = (exit_at - term) + (ready_at - start_at)
                windows.append(window)
                own.append(gateway_own * 1000)
                starts.append(field(line, "start_ms"))
        finally:
            os.kill(pid, signal.SIGTERM)
            proc.wait(timeout=20)

    med = statistics.median
    print(f"reload, nothing changed (20 keys, overlay, {args.runs} HUPs): clawinit {med(took):.2f} ms median, "
          f"{max(took):.2f} ms max")
    # The fake gateway's clock starts after Python has started and imported
    # its modules: that time is the gateway's own too, measured apart.
    imports = "import json, os, signal, socket, sys, threading, time; from http.server import ThreadingHTTPServer"
    boot = []
    for _ in range(10):
        t = time.perf_counter()
        subprocess.run([PY, "-c", imports], check=True)
        boot.append((time.perf_counter() - t) * 1000)
    extra = [w - o - med(boot) for w, o in zip(windows, own)]
    print(f"rotation ({args.runs} rounds): not ready {med(windows):.0f} ms median (start_ms {med(starts):.0f}); "
          f"the gateway's own stop + start {med(own):.0f} ms + {med(boot):.0f} ms interpreter start; "
          f"left to clawinit {med(extra):.0f} ms median, {max(extra):.0f} ms max")

if __name__ == "__main__":
    main()
