#!/usr/bin/env python3
"""Drive a built clawinit binary (any architecture) through the contract, for a
binary that `cargo test` cannot run: the aarch64 release binary under qemu-user.

    tests/cross/binary_suite.py [--runner 'qemu-aarch64-static'] --sops SOPS BINARY

The same data as the Rust tests, asserted the same way: every fixture in
tests/fixtures/manifest.json (decrypt bytes equal to the recorded `sops -d`
output, or the contract exit code with one stderr line), `render` of the five
golden scenarios byte for byte (tests/config.rs sets them up), and an `exec`
smoke test (secrets reach the child, exit codes and signals pass through, and
as PID 1 of a new PID namespace: reaping and SIGTERM forwarding). Prints one
line per group; exits 1 on the first failure.
"""
import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests/fixtures"
MANIFEST = json.loads((FIX / "manifest.json").read_text())
CANARY = MANIFEST["canary"]


class Suite:
    def __init__(self, runner, binary, sops, work):
        self.argv0 = [*runner, str(binary)]
        self.sops = sops
        self.work = work
        self.checks = 0

    def check(self, ok, what):
        self.checks += 1
        if not ok:
            sys.exit(f"FAIL: {what}")

    def env(self, home, identity="key1.txt", **extra):
        env = {"PATH": os.environ["PATH"], "HOME": str(home)}
        if identity.startswith("ssh:"):
            env["SOPS_AGE_SSH_PRIVATE_KEY_FILE"] = str(FIX / "keys" / identity[4:])
        else:
            env["SOPS_AGE_KEY_FILE"] = str(FIX / "keys" / identity)
        env.update(extra)
        return env

    def run(self, args, env, **kw):
        return subprocess.run([*self.argv0, *map(str, args)], env=env, capture_output=True, timeout=120, **kw)

    def home(self, name):
        home = self.work / name
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        return home

    def fixtures(self):
        home = self.home("fixtures")
        for entry in MANIFEST["fixtures"]:
            args = ["decrypt"]
            if entry.get("output_type") == "json":
                args += ["--output-type", "json"]
            out = self.run([*args, FIX / entry["file"]], self.env(home, entry["identity"]))
            name = entry["file"]
            if entry["expect"] == "ok":
                self.check(out.returncode == 0, f"{name}: exit {out.returncode}: {out.stderr.decode()}")
                if "expected_output" not in entry:  # accepted like sops; nothing recorded
                    continue
                expected = (FIX / entry["expected_output"]).read_bytes()
                if entry["output_type"] == "dotenv":
                    self.check(out.stdout == expected, f"{name}: output differs from sops -d")
                else:  # sops formats JSON and YAML its own way: compare the documents, as tests/secrets.rs does
                    theirs = yaml_as_data(expected) if entry["store"] == "yaml" else json.loads(expected)
                    self.check(json.loads(out.stdout) == theirs, f"{name}: document differs from sops -d")
            else:
                lines = [l for l in out.stderr.decode().splitlines() if l.strip()]
                self.check(out.returncode == entry["expect"], f"{name} ({entry['why']}): exit {out.returncode}, "
                           f"want {entry['expect']}")
                self.check(len(lines) == 1 and out.stdout == b"", f"{name}: not one error line: {lines}")
                self.check(CANARY.encode() not in out.stderr, f"{name}: the canary reached stderr")
        missing = self.run(["decrypt", self.work / "nonexistent.env"], self.env(home))
        self.check(missing.returncode == 66, "a missing file exits 66")
        print(f"fixtures: {len(MANIFEST['fixtures'])} files, output bytes and exit codes as the manifest says")

    def golden(self):
        secret = lambda name: f"{name}-{CANARY}"  # noqa: E731
        k8s_file = (ROOT / "tests/config.rs").read_text().split('const K8S_FILE: &str = r#"', 1)[1].split('"#;', 1)[0]
        minimax_file = json.dumps({"gateway": {"mode": "local"}, "agents": {"defaults": {"model": {
            "primary": "minimax/MiniMax-M3", "fallbacks": ["openrouter/auto"]}}}}, indent=2)
        scenarios = {
            "1-fly": ({"MOONSHOT_API_KEY": secret("moonshot"), "OPENAI_API_KEY": secret("openai"),
                       "OPENCLAW_AGENT_MODEL": "moonshot/kimi-k2.5"}, None),
            "2-k8s-litellm": ({
                "LITELLM_MASTER_KEY": secret("litellm"),
                "LITELLM_BASE_URL": "http://litellm.ml.svc.cluster.local:4000/v1",
                "LITELLM_MODELS": "cloud-kimi,cloud-minimax,cloud-qwen3-coder,vllm-qwen,ollama-qwen",
                "OPENCLAW_AGENT_MODEL": "litellm/cloud-kimi",
                "OPENCLAW_AGENT_FALLBACKS": "litellm/cloud-minimax,litellm/vllm-qwen,litellm/ollama-qwen",
                "OPENCLAW_SUBAGENT_MODEL": "litellm/cloud-qwen3-coder"}, k8s_file),
            "3-compose-sops": (None, None),  # built below: it decrypts a sops file first
            "4-ec2-ollama": ({"GEMINI_API_KEY": secret("gem"), "OLLAMA_BASE_URL": "http://host.docker.internal:11434",
                              "OLLAMA_MODELS": "qwen2.5:3b,qwen2.5:1.5b"}, None),
            "5-minimax-openrouter": ({"MINIMAX_API_KEY": secret("mm")}, minimax_file),
        }
        for name, (extra, existing) in scenarios.items():
            home = self.home(f"golden-{name}")
            if name == "3-compose-sops":
                plain = "".join(f"{k}={secret(v)}\n" for k, v in [("OPENROUTER_API_KEY", "or"), (
                    "GEMINI_API_KEY", "gem"), ("OPENAI_API_KEY", "oai"), ("ANTHROPIC_API_KEY", "ant")])
                secrets = home / "secrets.env.enc"
                secrets.write_bytes(self.sops_encrypt(plain, home))
                overlay = home / "overlay.json5"
                overlay.write_text("{ plugins: { entries: { 'llm-task': { enabled: true } } } }\n")
                extra = {"CLAWINIT_SECRETS_FILE": str(secrets), "CLAWINIT_CONFIG_OVERLAY": str(overlay),
                         "OPENCLAW_AGENT_MODEL": "anthropic/claude-opus-4-5",
                         "OPENCLAW_AGENT_FALLBACKS": "openrouter/moonshotai/kimi-k2.5,google/gemini-2.5-pro,openai/gpt-5.2",
                         "OPENCLAW_MODEL_ALIASES": "opus=anthropic/claude-opus-4-5,kimi=openrouter/moonshotai/kimi-k2.5,"
                                                   "gemini=google/gemini-2.5-pro,gpt=openai/gpt-5.2"}
            if existing is not None:
                (home / ".openclaw").mkdir()
                (home / ".openclaw/openclaw.json").write_text(existing)
            env = {"PATH": os.environ["PATH"], "HOME": str(home), **extra}
            if name == "3-compose-sops":
                env["SOPS_AGE_KEY_FILE"] = str(FIX / "keys/key1.txt")
            out = self.run(["render"], env)
            self.check(out.returncode == 0, f"render {name}: exit {out.returncode}: {out.stderr.decode()}")
            self.check(out.stdout == (ROOT / f"tests/golden/{name}.json").read_bytes(),
                       f"render {name}: differs from tests/golden/{name}.json")
            self.check(CANARY.encode() not in out.stdout + out.stderr, f"render {name}: a secret reached the output")
        print(f"render: {len(scenarios)} golden scenarios byte for byte")

    def sops_encrypt(self, plain, home):
        key = (FIX / "keys/key1.txt").read_text()
        recipient = next(l.split(": ", 1)[1] for l in key.splitlines() if l.startswith("# public key: "))
        src = home / "plain.env"
        src.write_text(plain)
        out = subprocess.run([self.sops, "encrypt", "--age", recipient, "--input-type", "dotenv", "--output-type",
                              "dotenv", src], env={"HOME": str(home)}, capture_output=True, check=True)
        src.unlink()
        return out.stdout

    def exec_smoke(self):
        home = self.home("exec")
        env = self.env(home)
        canary = ["exec", "--secrets", FIX / "ok/canary.enc", "--"]
        out = self.run(["exec", "--secrets", FIX / "ok/basic.enc", "--", "env", "-0"], env)
        self.check(out.returncode == 0, f"exec env: exit {out.returncode}: {out.stderr.decode()}")
        seen = dict(e.split("=", 1) for e in out.stdout.decode().split("\0") if "=" in e)
        want = {"OPENAI_API_KEY": "sk-test-0123456789abcdef", "WITH_EQUALS": "a=b=c==", "EMPTY": "", "DUP": "second",
                "MULTILINE": "line one\nline two\nline three", "UNICODE": "héllo wörld ✓ 日本語 🦀",
                "KEY WITH SPACE": "spaced", "my.dotted-key": "dotted"}
        for key, value in want.items():
            self.check(seen.get(key) == value, f"exec: the child's {key!r} is {seen.get(key)!r}, want {value!r}")
        self.check(not any(k.startswith("SOPS_AGE_") for k in seen), "exec: the identity reached the child")
        for cmd, code in [(["true"], 0), (["sh", "-c", "exit 7"], 7), (["sh", "-c", "kill -TERM $$"], 143),
                          (["sh", "-c", "kill -KILL $$"], 137), (["definitely-not-a-command-xyz"], 127),
                          ([FIX / "manifest.json"], 126)]:
            got = self.run([*canary, *cmd], env).returncode
            self.check(got == code, f"exec {cmd}: exit {got}, want {code}")
        self.check(self.run(["exec", "--secrets", FIX / "bad/empty.enc", "--", "true"], env).returncode == 65,
                   "exec of a malformed file exits 65")
        # SIGTERM to clawinit reaches the child, whose trap decides the exit code.
        ready = home / "ready"
        script = f"trap 'exit 42' TERM; touch {ready}; while :; do sleep 0.05; done"
        self.check(self.signalled([*self.argv0, *map(str, canary), "sh", "-c", script], env, ready) == 42,
                   "exec: SIGTERM forwarded, the child's code returned")
        print("exec: secrets in the child, exit codes 0/7/143/137/127/126/65, SIGTERM forwarded")

    def pid1(self):
        """As PID 1 of a new PID namespace (needs root and unshare, as tests/pid1.rs)."""
        if os.geteuid() != 0 or not shutil.which("unshare"):
            print("pid1: SKIPPED (needs root and unshare)")
            return
        home = self.home("pid1")
        env = self.env(home, CLAWINIT_LOG="warn")
        ns = ["unshare", "--pid", "--fork", "--mount-proc", *self.argv0]
        out = subprocess.run([*ns, "exec", "--", "sh", "-c", "exit 5"], env=env, capture_output=True, timeout=60)
        self.check(out.returncode == 5, f"pid1: exit code passes through ({out.returncode}): {out.stderr.decode()}")
        # 50 orphans left to PID 1; with no reaping their zombies would remain in /proc.
        script = ("for i in $(seq 50); do (sleep 0.2 &) ; done; sleep 1; "
                  "z=$(grep -l '^State:.*Z' /proc/[0-9]*/status 2>/dev/null | wc -l); echo zombies=$z")
        out = subprocess.run([*ns, "exec", "--", "sh", "-c", script], env=env, capture_output=True, timeout=60)
        self.check(out.returncode == 0 and b"zombies=0" in out.stdout,
                   f"pid1: orphans reaped: {out.stdout.decode()} {out.stderr.decode()}")
        # The check can tell: a PID 1 that waits only for its own child (Python's subprocess) leaves all 50.
        control = ["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c",
                   "import subprocess, sys; subprocess.run(['sh', '-c', sys.argv[1]])", script]
        out = subprocess.run(control, capture_output=True, timeout=60)
        self.check(b"zombies=50" in out.stdout, f"pid1: the zombie count cannot tell: {out.stdout.decode()}")
        ready = home / "ready"
        script = f"trap 'exit 42' TERM; touch {ready}; while :; do sleep 0.05; done"
        code = self.signalled([*ns, "exec", "--", "sh", "-c", script], env, ready, to_pid1=True)
        self.check(code == 42, f"pid1: SIGTERM to PID 1 forwarded, the child's code returned ({code})")
        print("pid1: exit code, 50 orphans reaped (a non-reaping control leaves 50), SIGTERM forwarded (new PID namespace)")

    def signalled(self, argv, env, ready, to_pid1=False):
        ready.unlink(missing_ok=True)
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while not ready.exists():
            self.check(time.monotonic() < deadline and proc.poll() is None, f"{argv}: the child never started")
            time.sleep(0.02)
        pid = proc.pid
        if to_pid1:  # unshare --fork: PID 1 is unshare's child
            pid = int(subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()[0])
        os.kill(pid, signal.SIGTERM)
        return proc.wait(timeout=60)


def yaml_as_data(text):
    import yaml  # python3-yaml, from scripts/install-cross.sh

    return yaml.safe_load(text)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runner", default="", help="a command to run the binary with, e.g. qemu-aarch64-static")
    parser.add_argument("--sops", required=True, help="the sops ELF (scripts/install-peers.sh prints it)")
    parser.add_argument("binary")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="clawinit-binary-suite-") as tmp:
        suite = Suite(shlex.split(args.runner), Path(args.binary).resolve(), args.sops, Path(tmp))
        out = suite.run(["--version"], {"PATH": os.environ["PATH"]})
        suite.check(out.returncode == 0, "--version exits 0")
        print(out.stdout.decode().strip())
        suite.fixtures()
        suite.golden()
        suite.exec_smoke()
        suite.pid1()
        print(f"ok: {suite.checks} checks")


if __name__ == "__main__":
    main()
