"""Measurement helpers shared by the bench scripts: hyperfine medians without a
shell, and peak RSS from GNU time."""
import json
import shlex
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def median_seconds(argv, env, runs):
    """Median wall time from hyperfine without a shell (-N), so the figure is
    the program's own, not a shell's start-up."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = " ".join(shlex.quote(str(a)) for a in argv)
        subprocess.run(["hyperfine", "-N", "--warmup", "3", "--runs", str(runs), "--export-json", out.name, command],
                       env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return json.load(open(out.name))["results"][0]["median"]


def peak_rss_kib(argv, env):
    """Peak RSS via GNU time: the kernel's figure for the exec'd program alone
    (a fork's rusage would include the Python image it was forked from)."""
    out = subprocess.run(["/usr/bin/time", "-f", "%M", *map(str, argv)], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, check=True)
    return int(out.stderr.strip().splitlines()[-1])


def measure(argv, env, runs):
    return median_seconds(argv, env, runs), peak_rss_kib(argv, env)


def tool(script, *args):
    """The path one of the project's scripts prints last: install-peers.sh
    (sops), build-static.sh (the static release binary)."""
    out = subprocess.run([str(ROOT / "scripts" / script), *args], check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]
