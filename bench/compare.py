#!/usr/bin/env python3
"""One comparison run: clawinit against what it replaces, in one table, plus
a chart (bench/results.svg, shown in the README).

    bench/compare.py [--runs N]

- vs sops 3.11: `decrypt` vs `sops -d`, `exec` vs `sops exec-env` at 10, 1 000
  and 10 000 keys (bench/secrets.py);
- vs tini and dumb-init: start-up overhead, idle RSS, 2000-orphan reaping
  (bench/pid1.py);
- vs the shell entrypoint it replaces: the pre-spawn pipeline (`sops -d` into
  the environment + a `jq` merge of openclaw.json + exec of the gateway) and
  the ready -> worker latency (`until curl .../readyz; do sleep 1; done`);
- binary sizes side by side;
- a sanity column: the aarch64 release binary under qemu-user on this x86_64
  host, for the secrets and pipeline rows. Emulation makes it many times slower
  than a real arm64 machine: it shows the binary does the work, not its speed.
"""
import argparse
import json
import os
import subprocess
import tempfile
from pathlib import Path

from common import tool, median_seconds

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
FIX = ROOT / "tests/fixtures"

SHELL_ENTRYPOINT = r"""
set -e
# decrypt into the environment, merge the keys' providers into openclaw.json, start the gateway
eval "$(sops -d --output-type dotenv "$SECRETS" | sed 's/^/export /')"
mkdir -p "$OPENCLAW_STATE_DIR"
[ -f "$OPENCLAW_STATE_DIR/openclaw.json" ] || echo '{}' > "$OPENCLAW_STATE_DIR/openclaw.json"
jq --arg model "$OPENCLAW_AGENT_MODEL" \
   '.gateway.mode = "local" | .gateway.port = 18789 | .agents.defaults.model.primary = $model' \
   "$OPENCLAW_STATE_DIR/openclaw.json" > "$OPENCLAW_STATE_DIR/openclaw.json.tmp"
mv "$OPENCLAW_STATE_DIR/openclaw.json.tmp" "$OPENCLAW_STATE_DIR/openclaw.json"
exec true
"""


def run_json(script, runs):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([str(HERE / script), "--runs", str(runs), "--json", out.name], check=True,
                       stdout=subprocess.DEVNULL)
        return json.load(open(out.name))


def pipeline(clawinit, sops, runs, runner=()):
    """Start to gateway exec: clawinit run (secrets, render, write, spawn, reap)
    vs the shell entrypoint, both with a gateway that is /bin/true. With a
    runner (qemu), only clawinit's figure is measured."""
    with tempfile.TemporaryDirectory() as tmp:
        secrets = Path(tmp) / "secrets.env"
        secrets.write_bytes((FIX / "ok/keys_10.enc").read_bytes())
        sops_dir = Path(tmp) / "bin"
        sops_dir.mkdir()
        (sops_dir / "sops").symlink_to(sops)
        env = {"PATH": f"{sops_dir}:/usr/bin:/bin", "HOME": tmp, "OPENCLAW_STATE_DIR": f"{tmp}/state",
               "SOPS_AGE_KEY_FILE": str(FIX / "keys/key1.txt"), "SECRETS": str(secrets),
               "OPENCLAW_AGENT_MODEL": "anthropic/claude-opus-5", "CLAWINIT_SECRETS_FILE": str(secrets),
               "CLAWINIT_GATEWAY_CMD": "true", "CLAWINIT_READY_PROBE": "none", "CLAWINIT_LOG": "warn"}
        ours = median_seconds([*runner, clawinit, "run"], env, runs)
        if runner:
            return ours, None
        script = Path(tmp) / "entrypoint.sh"
        script.write_text(SHELL_ENTRYPOINT)
        theirs = median_seconds(["/bin/sh", script], env, runs)
        return ours, theirs


def aarch64_column(binary, runs):
    """The secrets cases of bench/secrets.py, for the aarch64 binary under qemu."""
    column = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = {"PATH": os.environ["PATH"], "HOME": tmp, "SOPS_AGE_KEY_FILE": str(FIX / "keys/key1.txt")}
        for n in (10, 1000, 10000):
            f = FIX / f"ok/keys_{n}.enc"
            qemu = ["qemu-aarch64-static", binary]
            column[f"decrypt {n} keys"] = median_seconds([*qemu, "decrypt", f], env, runs)
            column[f"exec {n} keys"] = median_seconds([*qemu, "exec", "--secrets", f, "--", "true"], env, runs)
    return column


def svg(bars, path):
    """Horizontal bars: how many times faster (or smaller) clawinit is; a line at 1x."""
    import math
    width, left, row = 760, 330, 26
    height = 50 + row * len(bars)
    top = max(math.log10(max(b[1] for b in bars)), 1.0)
    scale = (width - left - 70) / (top + 0.5)
    x1 = left + 0.5 * scale  # log10(1) = 0 sits half a decade in, so < 1x bars show too
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="13">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="20" font-weight="bold">clawinit vs what it replaces (× better, log scale)</text>']
    for i, (label, ratio) in enumerate(bars):
        y = 36 + i * row
        end = left + (math.log10(ratio) + 0.5) * scale
        colour = "#2a7" if ratio >= 1 else "#d84"
        out.append(f'<text x="{left - 8}" y="{y + 14}" text-anchor="end">{label}</text>')
        out.append(f'<rect x="{min(x1, end):.1f}" y="{y}" width="{abs(end - x1):.1f}" height="{row - 8}" fill="{colour}"/>')
        out.append(f'<text x="{max(x1, end) + 6:.1f}" y="{y + 14}">{ratio:.1f}×</text>')
    out.append(f'<line x1="{x1:.1f}" y1="30" x2="{x1:.1f}" y2="{height - 6}" stroke="#333" stroke-dasharray="3,3"/>')
    out.append("</svg>")
    path.write_text("\n".join(out) + "\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    sops = tool("install-peers.sh")
    clawinit = tool("build-static.sh")
    secrets = run_json("secrets.py", args.runs)
    pid1 = run_json("pid1.py", args.runs)
    ours, theirs = pipeline(clawinit, sops, args.runs)
    # After every x86_64 figure, so the emulator's load cannot touch them.
    arm = subprocess.run([str(ROOT / "scripts/build-static.sh"), "aarch64"], check=True, capture_output=True,
                         text=True).stdout.strip().splitlines()[-1]
    arm_column = aarch64_column(arm, args.runs)
    arm_column["pipeline to gateway exec"] = pipeline(arm, sops, args.runs, runner=["qemu-aarch64-static"])[0]

    rows = [(r["case"], r["peer"], r["ours_s"], r["peer_s"]) for r in secrets]
    for peer in ["tini", "dumb-init"]:
        rows.append(("start-up overhead", peer, pid1["clawinit"]["overhead_s"], pid1[peer]["overhead_s"]))
        rows.append(("reap 2000 orphans", peer, pid1["clawinit"]["reap_2000_s"], pid1[peer]["reap_2000_s"]))
    rows.append(("pipeline to gateway exec", "shell: sops -d + jq + exec", ours, theirs))
    rows.append(("ready -> worker running", "shell: until curl; sleep 1", pid1["ready_to_worker_clawinit_s"],
                 pid1["ready_to_worker_shell_s"]))

    print(f"\n{'case':<26} {'peer':<28} {'clawinit':>10} {'peer':>10} {'ratio':>7} {'aarch64 (qemu)':>15}")
    for case, peer, a, b in rows:
        arm_s = arm_column.get(case)
        arm_text = f"{arm_s * 1000:>13.2f}ms" if arm_s is not None else f"{'-':>15}"
        print(f"{case:<26} {peer:<28} {a * 1000:>8.2f}ms {b * 1000:>8.2f}ms {b / a:>6.1f}x {arm_text}")
    print("aarch64 (qemu): the aarch64 binary emulated on this x86_64 host; a sanity figure, not comparable to native")
    print(f"\n{'idle RSS, 2 children':<26} clawinit {pid1['clawinit']['idle_rss_kib'] / 1024:.1f} MiB, "
          f"tini {pid1['tini']['idle_rss_kib'] / 1024:.1f} MiB, dumb-init {pid1['dumb-init']['idle_rss_kib'] / 1024:.1f} MiB")
    print(f"{'readiness noticed':<26} {pid1['ready_noticed_s'] * 1000:.0f} ms after /readyz turns ready")
    sizes = {"clawinit": os.path.getsize(clawinit), "clawinit aarch64": os.path.getsize(arm), "sops": os.path.getsize(sops),
             "tini-static": os.path.getsize("/usr/bin/tini-static"), "dumb-init": os.path.getsize("/usr/bin/dumb-init")}
    print("binaries: " + ", ".join(f"{k} {v / 1024 / 1024:.2f} MiB" for k, v in sizes.items()))

    bars = [(f"{case} vs {peer.split(':')[0]}", b / a) for case, peer, a, b in rows]
    svg(bars, HERE / "results.svg")
    print(f"\nchart: {HERE / 'results.svg'}")


if __name__ == "__main__":
    main()
