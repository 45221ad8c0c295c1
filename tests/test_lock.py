"""The lock files: every dependency pinned and hashed, consistent across locks, matching
pyproject.toml, and what dev.py and the Lambda bundle install."""

from __future__ import annotations

import importlib.metadata
import json
import re
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCKS = ROOT / "requirements"
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s\\;]+)")


def pins(name: str) -> dict[str, str]:
    """``{canonical name: version}`` of a lock file; every pin must carry a hash."""
    found: dict[str, str] = {}
    entries = re.split(r"\n(?=\S)", (LOCKS / name).read_text())
    for entry in entries:
        match = PIN.match(entry)
        if match is None:
            continue
        assert "--hash=sha256:" in entry, f"{name}: {match.group(1)} has no hash"
        found[canonicalize_name(match.group(1))] = match.group(2)
    assert found, name
    return found


def requirements(*extras: str) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in extras:
        lines += project["optional-dependencies"][extra]
    return [Requirement(line) for line in lines]


@pytest.mark.parametrize(
    ("lock", "extras"),
    [("lambda.txt", ()), ("demo.txt", ("cli",)), ("dev.txt", ("cli", "dev", "docs"))],
)
def test_each_lock_satisfies_pyproject(lock: str, extras: tuple[str, ...]) -> None:
    pinned = pins(lock)
    for requirement in requirements(*extras):
        version = pinned.get(canonicalize_name(requirement.name))
        assert version is not None, f"{requirement.name} is not in {lock}: python3 dev.py lock"
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{lock} pins {requirement.name}=={version}, pyproject wants {requirement}"
        )


def test_locks_agree_and_cli_tools_stay_out_of_the_lambda() -> None:
    dev, demo, lam = pins("dev.txt"), pins("demo.txt"), pins("lambda.txt")
    assert set(lam) <= set(demo) <= set(dev)
    assert {n: v for n, v in dev.items() if n in demo} == demo
    assert {"typer", "rich", "pytest", "mypy", "moto", "pulumi"}.isdisjoint(lam)


def test_this_environment_is_installed_from_dev_lock() -> None:
    mismatched = {}
    for name, version in pins("dev.txt").items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            mismatched[name] = "missing"
            continue
        if installed != version:
            mismatched[name] = f"{installed} (lock {version})"
    assert mismatched == {}, "run python3 dev.py test (it installs requirements/dev.txt)"


@pytest.fixture
def dev(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, list[list[str]]]:
    """dev.py with its venv in tmp_path and its commands recorded instead of run."""
    monkeypatch.syspath_prepend(str(ROOT))
    sys.modules.pop("dev", None)
    import dev as module

    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").write_text("")
    monkeypatch.setattr(module, "VENV", tmp_path / "venv")
    monkeypatch.setattr(module, "BIN", bin_dir)
    monkeypatch.setattr(module, "STAMP", tmp_path / "venv" / "stamp")
    calls: list[list[str]] = []

    def record(*cmd: Any, env: Any = None) -> None:
        calls.append([str(c) for c in cmd])

    monkeypatch.setattr(module, "run", record)
    return module, calls


def test_dev_py_installs_the_lock_with_hashes_once(
    dev: tuple[ModuleType, list[list[str]]],
) -> None:
    module, calls = dev
    module.setup(module.DEMO_LOCK)
    assert len(calls) == 2
    assert "--require-hashes" in calls[0]
    assert calls[0][-1].endswith("requirements/demo.txt")
    assert calls[1][-3:] == ["--no-deps", "-e", "."]
    assert json.loads(module.STAMP.read_text())["lock"] == "demo.txt"
    module.setup(module.DEMO_LOCK)  # unchanged: nothing to do
    assert len(calls) == 2
    module.setup(module.DEV_LOCK)  # the tests need more
    assert calls[2][-1].endswith("requirements/dev.txt")
    module.setup(module.DEMO_LOCK)  # dev.txt is a superset: the demo runs as it is
    assert len(calls) == 4


def test_the_bundle_installs_the_lambda_lock_with_hashes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from infra import bundle

    calls: list[tuple[str, ...]] = []

    def fake_pip(*args: str) -> None:
        calls.append(args)
        if args[0] == "wheel":
            wheel_dir = Path(args[args.index("--wheel-dir") + 1])
            wheel_dir.mkdir(parents=True, exist_ok=True)
            (wheel_dir / "exec_assistant-0-py3-none-any.whl").write_bytes(b"")

    monkeypatch.setattr(bundle, "_pip", fake_pip)
    bundle.install_runtime(ROOT, tmp_path / "site", python_version="3.13", platform="p")
    deps, package = calls[1], calls[2]
    assert "--require-hashes" in deps and deps[-1] == str(ROOT / "requirements" / "lambda.txt")
    assert "--no-deps" in package and package[-1].endswith(".whl")
    assert "--only-binary=:all:" in deps and "--only-binary=:all:" in package
