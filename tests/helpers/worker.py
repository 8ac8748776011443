#!/usr/bin/env python3
"""A stand-in worker: logs "worker start <t>" to FAKE_LOG, exits after
WORKER_EXIT_AFTER seconds with WORKER_EXIT_CODE, or on TERM logs "worker term",
lingers WORKER_TERM_DELAY seconds and exits WORKER_TERM_CODE (default: dies of
TERM). WORKER_IGNORE_TERM=1 ignores TERM."""
import os
import signal
import time

LOG = os.environ.get("FAKE_LOG")


def log(line):
    if LOG:
        with open(LOG, "a") as f:
            f.write(line + "\n")


def on_term(signum, frame):
    log("worker term")
    time.sleep(float(os.environ.get("WORKER_TERM_DELAY", "0")))
    code = os.environ.get("WORKER_TERM_CODE")
    if code is None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
    os._exit(int(code))


log(f"worker start {time.time():.6f}")
if os.environ.get("WORKER_IGNORE_TERM") == "1":
    signal.signal(signal.SIGTERM, lambda *a: log("worker ignores term"))
else:
    signal.signal(signal.SIGTERM, on_term)
after = os.environ.get("WORKER_EXIT_AFTER")
deadline = time.time() + float(after) if after else None
while deadline is None or time.time() < deadline:
    time.sleep(0.02)
os._exit(int(os.environ.get("WORKER_EXIT_CODE", "0")))
