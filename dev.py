#!/usr/bin/env python3
"""One entry point for newcomers and CI; needs only python3.

    python3 dev.py demo   # set up .venv (the package and its CLI only), run the flow locally
    python3 dev.py test   # set up the dev toolchain, then ruff, mypy --strict, docs, pytest
    python3 dev.py docs   # set up the dev toolchain, then build the docs site (--strict, offline)
    python3 dev.py bench  # set up the dev toolchain, then run the benchmarks (bench/results/)

Setup is idempotent: each command installs the extras it needs, and reinstalls only when
pyproject.toml changes or a command needs extras not installed yet.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".exec-assistant-installed"

#: What each command needs installed (extras of the exec-assistant distribution).
DEMO_EXTRAS = ("cli",)
DEV_EXTRAS = ("cli", "dev", "docs")


def run(*cmd: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    result = subprocess.run([str(c) for c in cmd], cwd=ROOT, env=env, check=False)  # noqa: S603 - fixed argv
    if result.returncode != 0:
        sys.exit(result.returncode)


def _installed() -> dict[str, object]:
    try:
        data = json.loads(STAMP.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def setup(extras: tuple[str, ...]) -> None:
    """Create .venv and install the package with ``extras`` (pip shows its progress)."""
    if not (BIN / "python").exists():
        print(f"creating virtualenv in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    stamp = _installed()
    have = stamp.get("extras") if stamp.get("digest") == digest else None
    if isinstance(have, list) and set(extras) <= set(have):
        return
    wanted = sorted(set(extras) | (set(have) if isinstance(have, list) else set()))
    print(f"installing exec-assistant[{','.join(wanted)}] into .venv …", flush=True)
    run(
        BIN / "python",
        "-m",
        "pip",
        "install",
        "--progress-bar",
        "on",
        "-e",
        f".[{','.join(wanted)}]",
    )
    STAMP.write_text(json.dumps({"digest": digest, "extras": wanted}))


def demo() -> None:
    setup(DEMO_EXTRAS)
    env = dict(os.environ)
    data = ROOT / ".demo"
    env.setdefault("EXEC_ASSISTANT_STORE", f"sqlite:///{data / 'exec-assistant.db'}")
    run(BIN / "exec-assistant", "send-test-event", "--local", "--sample", env=env)


def test() -> None:
    setup(DEV_EXTRAS)
    run(BIN / "ruff", "check", ".")
    run(BIN / "ruff", "format", "--check", ".")
    run(BIN / "mypy")
    run(BIN / "pytest", "-q", "-p", "no:cacheprovider")


def docs() -> None:
    setup(DEV_EXTRAS)
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    run(BIN / "mkdocs", "build", "--strict", env=env)
    print(f"built {ROOT / 'build' / 'site' / 'index.html'}", flush=True)


def bench() -> None:
    setup(DEV_EXTRAS)
    run(BIN / "python", "-m", "bench")


def main() -> None:
    commands = {"demo": demo, "test": test, "docs": docs, "bench": bench}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    commands[sys.argv[1]]()


if __name__ == "__main__":
    main()
