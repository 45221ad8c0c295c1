#!/usr/bin/env python3
"""One entry point for newcomers and CI; needs only python3.

    python3 dev.py demo   # set up .venv, then run the whole flow locally on the embedded default
    python3 dev.py test   # set up .venv, then ruff, mypy --strict and the full pytest suite
    python3 dev.py bench  # set up .venv, then run the benchmarks (bench/results/latest.md)

Setup is idempotent: dependencies are reinstalled only when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".exec-assistant-installed"


def run(*cmd: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    result = subprocess.run([str(c) for c in cmd], cwd=ROOT, env=env, check=False)  # noqa: S603 - fixed argv
    if result.returncode != 0:
        sys.exit(result.returncode)


def setup() -> None:
    if not (BIN / "python").exists():
        print(f"creating virtualenv in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == digest:
        return
    run(BIN / "python", "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(BIN / "python", "-m", "pip", "install", "--quiet", "-e", ".[cli,dev]")
    STAMP.write_text(digest)


def demo() -> None:
    env = dict(os.environ)
    data = ROOT / ".demo"
    env.setdefault("EXEC_ASSISTANT_STORE", f"sqlite:///{data / 'exec-assistant.db'}")
    run(BIN / "exec-assistant", "send-test-event", "--local", "--sample", env=env)


def test() -> None:
    run(BIN / "ruff", "check", ".")
    run(BIN / "ruff", "format", "--check", ".")
    run(BIN / "mypy")
    run(BIN / "pytest", "-q", "-p", "no:cacheprovider")


def bench() -> None:
    run(BIN / "python", "-m", "bench")


def main() -> None:
    commands = {"demo": demo, "test": test, "bench": bench}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    setup()
    commands[sys.argv[1]]()


if __name__ == "__main__":
    main()
