#!/usr/bin/env python3
"""clawinit as PID 1 beside tini and dumb-init, in one run.

    bench/pid1.py [--runs N]

- start-up overhead: `INIT -- /bin/true` (hyperfine -N medians) vs `/bin/true` alone;
- RSS while supervising two idle children (`clawinit run` with a gateway and a
  worker that sleep; tini/dumb-init with `sh -c 'sleep & sleep'`), from /proc;
- 2000 orphans: time for PID 1 to reap a burst of 2000 exited orphans, each init
  as PID 1 of a fresh PID namespace (unshare);
- readiness latency: from the fake gateway turning ready to the worker's start
  (clawinit's gate; the shell entrypoint's `until curl ...; do sleep 1; done`).
Uses the static release binary (scripts/build-static.sh).
"""
import argparse
import datetime
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from common import median_seconds

ROOT = Path(__file__).resolve().parent.parent
HELPERS = ROOT / "tests/helpers"
PY = "/usr/bin/python3"


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def idle_rss(argv, env):
    """RSS of the init process after its children have settled."""
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    rss = rss_kib(proc.pid)
    proc.terminate()
    proc.wait(timeout=15)
    return rss


ORPHANS = (
    "import os, time, sys\n"
    "t = time.time()\n"
    "for _ in range(2000):\n"
    "    if os.fork() == 0:\n"
    "        os._exit(0)\n"
    "os.write(1, f'{t}\\n'.encode())\n"
)
COUNT = (
    "import os, sys, time\n"
    "start = float(sys.argv[1])\n"
    "while True:\n"
    "    z = 0\n"
    "    for p in os.listdir('/proc'):\n"
    "        if p.isdigit():\n"
    "            try:\n"
    "                z += open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()[0] == 'Z'\n"
    "            except OSError:\n"
    "                pass\n"
    "    if z == 0:\n"
    "        print(time.time() - start)\n"
    "        break\n"
    "    time.sleep(0.001)\n"
)


def orphan_reap_seconds(init_argv):
    script = f'start=$({PY} -c "$BURST"); {PY} -c "$COUNT" "$start"'
    env = {"PATH": "/usr/bin:/bin", "BURST": ORPHANS, "COUNT": COUNT, "HOME": "/tmp", "CLAWINIT_LOG": "warn"}
    out = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", *init_argv, "sh", "-c", script],
                         env=env, capture_output=True, text=True, timeout=60)
    return float(out.stdout.strip().splitlines()[-1])


def readiness_latency_ms(binary, mode, tmp):
    """From /readyz turning ready (the fake gateway's own clock) to the worker's
    first line (so the worker's interpreter start-up is in both columns)."""
    log = Path(tmp) / f"ready-{mode}.log"
    log.unlink(missing_ok=True)
    env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "HOME": tmp, "OPENCLAW_STATE_DIR": f"{tmp}/state",
           "FAKE_LOG": str(log), "FAKE_READY_AFTER": "1.3", "WORKER_EXIT_AFTER": "0.1", "CLAWINIT_LOG_FORMAT": "json",
           "CLAWINIT_GATEWAY_CMD": f"{PY} {HELPERS}/fake_gateway.py"}
    gateway = f"{PY} {HELPERS}/fake_gateway.py"
    worker = f"{PY} {HELPERS}/worker.py"
    if mode == "clawinit":
        inner = f'exec "$0" run -- {worker}'
    else:  # the shell entrypoint it replaces
        inner = (f"{gateway} & until curl -fsS http://127.0.0.1:18789/readyz 2>/dev/null | grep -q '\"ready\": true'; "
                 f"do sleep 1; done; {worker}; kill %1")
    out = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "--net", "sh", "-c",
                          f"ip link set lo up && {inner}", binary], env=env, timeout=60, capture_output=True, text=True)
    lines = log.read_text().splitlines()
    ready = next(float(l.split()[2]) for l in lines if l.startswith("gateway ready-at"))
    start = next(float(l.split()[2]) for l in lines if l.startswith("worker start"))
    noticed = None
    for line in out.stderr.splitlines():
        if line.startswith("{") and json.loads(line).get("message") == "gateway ready":
            stamp = json.loads(line)["timestamp"].replace("Z", "+00:00")
            noticed = (datetime.datetime.fromisoformat(stamp).timestamp() - ready) * 1000
    return (start - ready) * 1000, noticed


def worker_startup_ms():
    """The worker's own interpreter start-up, to subtract."""
    t = time.time()
    out = subprocess.run([PY, "-c", "import time; print(time.time())"], capture_output=True, text=True)
    return (float(out.stdout) - t) * 1000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--json", help="also write the results to this file (for bench/compare.py)")
    args = parser.parse_args()
    results = {}
    binary = subprocess.run([str(ROOT / "scripts/build-static.sh")], check=True, capture_output=True,
                            text=True).stdout.strip().splitlines()[-1]
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "CLAWINIT_LOG": "warn"}
    inits = {"clawinit": [binary, "exec", "--"], "tini": ["/usr/bin/tini-static", "-s", "--"],
             "dumb-init": ["/usr/bin/dumb-init", "--"]}
    true_s = median_seconds(["/bin/true"], env, args.runs)
    print(f"{'':12} {'start-up':>10} {'overhead':>9} {'idle RSS':>9} {'2000 orphans':>13} {'binary':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, argv in inits.items():
            t = median_seconds([*argv, "/bin/true"], env, args.runs)
            if name == "clawinit":
                rss = idle_rss([binary, "run", "--", "sleep", "600"],
                               {**env, "OPENCLAW_STATE_DIR": f"{tmp}/state", "CLAWINIT_READY_PROBE": "none",
                                "CLAWINIT_GATEWAY_CMD": "sleep 600"})
            else:
                rss = idle_rss([*argv, "sh", "-c", "sleep 600 & sleep 600"], env)
            reap = statistics.median(orphan_reap_seconds(argv) for _ in range(3))
            size = os.path.getsize(argv[0]) / 1024 / 1024
            results[name] = {"startup_s": t, "overhead_s": t - true_s, "idle_rss_kib": rss, "reap_2000_s": reap,
                             "binary_mib": size}
            print(f"{name:12} {t * 1000:8.2f}ms {(t - true_s) * 1000:7.2f}ms {rss / 1024:7.1f}MiB "
                  f"{reap * 1000:11.0f}ms {size:7.2f}MiB")
        print(f"{'/bin/true':12} {true_s * 1000:8.2f}ms")
        python = statistics.median(worker_startup_ms() for _ in range(5))
        for mode in ["clawinit", "shell"]:
            runs = [readiness_latency_ms(binary, mode, tmp) for _ in range(9)]
            latency = statistics.median(r[0] for r in runs)
            label = "clawinit gate" if mode == "clawinit" else "shell `until curl; do sleep 1` loop"
            print(f"/readyz ready -> worker running, {label}: median {latency:.0f} ms "
                  f"(the worker's interpreter start is {python:.0f} ms of it)")
            results[f"ready_to_worker_{mode}_s"] = latency / 1000
            if mode == "clawinit":
                noticed = statistics.median(r[1] for r in runs)
                results["ready_noticed_s"] = noticed / 1000
                print(f"/readyz ready -> clawinit logs 'gateway ready': median {noticed:.0f} ms")
    if args.json:
        Path(args.json).write_text(json.dumps(results))


if __name__ == "__main__":
    main()
