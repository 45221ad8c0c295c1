#!/usr/bin/env python3
"""One entry point for newcomers and CI; needs only python3.

    python3 dev.py demo   # set up .venv (the package and its CLI only), run the flow locally
    python3 dev.py test   # set up the dev toolchain, then ruff, mypy --strict, docs, pytest
    python3 dev.py docs   # set up the dev toolchain, then build the docs site (--strict, offline)
    python3 dev.py bench  # set up the dev toolchain, then run the benchmarks (bench/results/)

Setup is idempotent and reproducible: each command installs the lock file it needs
(``requirements/demo.txt``: the package and its CLI; ``requirements/dev.txt``: plus the dev and
docs toolchain), every version pinned and every file checked against its hash, then the package
itself (editable). It reinstalls only when pyproject.toml or the lock file changes.
Regenerate the lock files after changing dependencies: ``python3 dev.py lock`` (pip-tools).
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

LOCKS = ROOT / "requirements"
#: What each command installs: a lock file of pinned, hashed requirements (pip-compile output).
DEMO_LOCK = "demo.txt"  # the package's dependencies and the cli extra
DEV_LOCK = "dev.txt"  # plus the dev and docs extras (a superset of demo.txt)
#: The lock files and the extras they are compiled from; dev.txt is compiled first and
#: constrains the others, so every lock pins the same versions.
LOCK_EXTRAS = {DEV_LOCK: ("cli", "dev", "docs"), DEMO_LOCK: ("cli",), "lambda.txt": ()}


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


def _digest(lock: str) -> str:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    digest.update((LOCKS / lock).read_bytes())
    return digest.hexdigest()


def setup(lock_file: str) -> None:
    """Create .venv and install ``requirements/<lock_file>`` (hash-checked), then the package."""
    if not (BIN / "python").exists():
        print(f"creating virtualenv in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = _installed()
    # dev.txt is a superset of demo.txt: a venv set up for the tests runs the demo as it is.
    for have in (lock_file, DEV_LOCK):
        if stamp.get("lock") == have and stamp.get("digest") == _digest(have):
            return
    print(f"installing requirements/{lock_file} into .venv (pinned, hash-checked) …", flush=True)
    pip = (BIN / "python", "-m", "pip", "install", "--disable-pip-version-check")
    run(*pip, "--require-hashes", "--progress-bar", "on", "-r", LOCKS / lock_file)
    run(*pip, "--no-deps", "-e", ".")
    STAMP.write_text(json.dumps({"lock": lock_file, "digest": _digest(lock_file)}))


def lock() -> None:
    """Regenerate requirements/*.txt from pyproject.toml with pip-compile (hashes included).

    Existing pins are kept unless pyproject.toml rules them out; delete a lock file (or pass
    pip-compile's --upgrade by hand) to move to newer versions.
    """
    setup(DEV_LOCK)
    run(BIN / "python", "-m", "pip", "install", "--disable-pip-version-check", "pip-tools>=7.4")
    for name, extras in LOCK_EXTRAS.items():
        constraint = () if name == DEV_LOCK else ("--constraint", LOCKS / DEV_LOCK)
        run(
            BIN / "pip-compile",
            "--quiet",
            "--generate-hashes",
            "--allow-unsafe",
            "--strip-extras",
            "--no-emit-index-url",
            "--no-emit-find-links",
            *(f"--extra={extra}" for extra in extras),
            *constraint,
            "--output-file",
            LOCKS / name,
            "pyproject.toml",
        )


def demo() -> None:
    setup(DEMO_LOCK)
    env = dict(os.environ)
    data = ROOT / ".demo"
    env.setdefault("EXEC_ASSISTANT_STORE", f"sqlite:///{data / 'exec-assistant.db'}")
    run(BIN / "exec-assistant", "send-test-event", "--local", "--sample", env=env)


def test() -> None:
    setup(DEV_LOCK)
    run(BIN / "ruff", "check", ".")
    run(BIN / "ruff", "format", "--check", ".")
    run(BIN / "mypy")
    run(BIN / "pytest", "-q", "-p", "no:cacheprovider")


def docs() -> None:
    setup(DEV_LOCK)
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    run(BIN / "mkdocs", "build", "--strict", env=env)
    print(f"built {ROOT / 'build' / 'site' / 'index.html'}", flush=True)


def bench() -> None:
    setup(DEV_LOCK)
    run(BIN / "python", "-m", "bench")


def main() -> None:
    commands = {"demo": demo, "test": test, "docs": docs, "bench": bench, "lock": lock}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    commands[sys.argv[1]]()


if __name__ == "__main__":
    main()
