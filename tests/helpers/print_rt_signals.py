#!/usr/bin/env python3
"""Print every real-time signal received (SIGRTMIN..SIGRTMAX), one number per
line, forever; other signals keep their default action. Writes "ready" first
so the harness knows the handlers are installed."""
import os
import signal
import time

for s in range(signal.SIGRTMIN, signal.SIGRTMAX + 1):
    signal.signal(s, lambda n, f: os.write(1, f"{n}\n".encode()))
os.write(1, b"ready\n")
while True:
    time.sleep(3600)
