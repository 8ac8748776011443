#!/usr/bin/env python3
"""A stand-in for the OpenClaw gateway, configured by environment variables:

FAKE_LISTEN_AFTER  seconds before the port accepts (default 0)
FAKE_READY_AFTER   seconds after listening before /readyz says ready (default 0; "never")
FAKE_HTML          1: answer every path with an HTML 200 (a build without the route)
FAKE_EXIT_AFTER    seconds after start to exit on its own, with FAKE_EXIT_CODE (default 0)
FAKE_TERM_DELAY    seconds to linger after SIGTERM before exiting (cleanup time)
FAKE_LOG           file to append events to: "gateway start", "gateway ready-at <t>" (when
                   /readyz turns ready), "gateway ready <t>" (first ready answer), "gateway term";
                   and "stamp start <t>", "stamp exit <t>" (the benchmark's clock)
FAKE_DAEMONS       spawn this many short-lived daemonized helpers per second (orphans)
FAKE_STATE_LISTING file to write the state dir's entries to at start, one per line (what
                   OpenClaw's new-install test sees)
Port: OPENCLAW_GATEWAY_PORT, else the config's gateway.port, else 18789.
"""
import json
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

START = time.time()
LOG = os.environ.get("FAKE_LOG")


def log(line):
    if LOG:
        with open(LOG, "a") as f:
            f.write(line + "\n")


def num(name, default):
    value = os.environ.get(name, "")
    return default if value == "" else (None if value == "never" else float(value))


listen_after = num("FAKE_LISTEN_AFTER", 0)
ready_after = num("FAKE_READY_AFTER", 0)
html = os.environ.get("FAKE_HTML") == "1"
exit_after = num("FAKE_EXIT_AFTER", None)
term_delay = num("FAKE_TERM_DELAY", 0)


def configured_port():
    """OpenClaw's precedence: OPENCLAW_GATEWAY_PORT, then the config's gateway.port."""
    if os.environ.get("OPENCLAW_GATEWAY_PORT"):
        return int(os.environ["OPENCLAW_GATEWAY_PORT"])
    config = os.environ.get("OPENCLAW_CONFIG_PATH") or os.path.join(os.environ.get("OPENCLAW_STATE_DIR", ""), "openclaw.json")
    try:
        with open(config) as f:
            return int(json.load(f)["gateway"]["port"])
    except (OSError, ValueError, KeyError, TypeError):
        return 18789


port = configured_port()
if os.environ.get("FAKE_STATE_LISTING"):
    with open(os.environ["FAKE_STATE_LISTING"], "w") as f:
        f.write("".join(name + "\n" for name in sorted(os.listdir(os.environ["OPENCLAW_STATE_DIR"]))))
listening_at = None
announced = False


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        global announced
        if html:
            body, kind, status = b"<!doctype html><title>OpenClaw</title>", "text/html", 200
        elif self.path == "/healthz":
            body, kind, status = json.dumps({"ok": True, "status": "live"}).encode(), "application/json", 200
        else:
            ready = ready_after is not None and time.time() - listening_at >= ready_after
            if ready and not announced:
                announced = True
                log(f"gateway ready {time.time():.6f}")
            body = json.dumps({"ready": ready, "failing": [] if ready else ["startup-sidecars"]}).encode()
            kind, status = "application/json", 200 if ready else 503
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def on_term(signum, frame):
    log("gateway term")
    time.sleep(term_delay)
    log("gateway done")
    log(f"stamp exit {time.time():.6f}")
    os._exit(0)


def daemons(rate):
    while True:
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(0.05)
            os._exit(0)
        time.sleep(1 / rate)


signal.signal(signal.SIGTERM, on_term)
log("gateway start")
log(f"stamp start {START:.6f}")
if os.environ.get("FAKE_DAEMONS"):
    threading.Thread(target=daemons, args=(float(os.environ["FAKE_DAEMONS"]),), daemon=True).start()
if exit_after is not None:
    threading.Timer(exit_after, lambda: os._exit(int(os.environ.get("FAKE_EXIT_CODE", "0")))).start()
if listen_after is None:
    while True:
        time.sleep(1)
time.sleep(listen_after)
ThreadingHTTPServer.allow_reuse_address = True
server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
listening_at = time.time()
if ready_after is not None:
    log(f"gateway ready-at {listening_at + ready_after:.6f}")
server.serve_forever()
