"""Build the Lambda code bundle: this repository's package plus its runtime dependencies only.

    python infra/bundle.py --out build/lambda.zip

1. Build the package's wheel from a clean copy of its sources (``pyproject.toml``, ``README.md``,
   ``exec_assistant/``), exactly what ``pip install .`` would install, without the ``cli`` and
   ``dev`` extras: no typer, rich, pulumi or moto.
2. ``pip install --target`` its dependencies from the lock file ``requirements/lambda.txt``
   (every version pinned, every file hash-checked: ``--require-hashes``), then the wheel itself
   (``--no-deps``), all as Lambda wheels (``--platform manylinux2014_x86_64 --implementation cp
   --python-version 3.13 --only-binary=:all:``), so binary dependencies such as
   ``pydantic_core`` match the runtime whatever machine builds the bundle, and two builds of one
   commit get the same versions.
3. Drop what Lambda never reads and what would make two builds differ (``__pycache__``, console
   scripts in ``bin/``, dependencies' own test suites, the dist-info
   ``RECORD``/``INSTALLER``/``REQUESTED``/``direct_url.json``).
4. Compile every module to unchecked-hash byte-code for the runtime's Python 3.13
   (:mod:`infra.bytecode`: this interpreter if it is 3.13, else ``python3.13``, else Pyodide's
   CPython 3.13 run by Node.js, fetched from the npm registry once), so a cold start does not
   compile sources on the read-only ``/var/task``. Without any 3.13 compiler the bundle ships
   sources only and says so (``--bytecode=require`` makes that an error).
5. Write a deterministic zip: sorted entries, fixed timestamps and permissions, so an unchanged
   bundle has the same bytes and hash and ``pulumi up`` does not redeploy the functions.

The Pulumi program calls :func:`lambda_archive`, which reuses a bundle cached under
``build/lambda/`` by a digest of the package sources, ``pyproject.toml`` and the lock file (so the
resolved versions are part of the key) (or takes a prebuilt
zip from ``EXEC_ASSISTANT_LAMBDA_ZIP``). Standard library only, so CI can run it anywhere.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if __package__ in (None, ""):  # run as a script: python infra/bundle.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from infra import bytecode

if TYPE_CHECKING:
    import pulumi

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "exec_assistant"
#: The Lambda's pinned, hashed runtime dependencies (``python3 dev.py lock`` regenerates it).
LOCK_FILE = Path("requirements") / "lambda.txt"
LAMBDA_PYTHON_VERSION = "3.13"
LAMBDA_PLATFORM = "manylinux2014_x86_64"
#: Bump when the bundle layout changes, so cached bundles are rebuilt.
BUNDLE_FORMAT = "3"  # 3: ships unchecked-hash .pyc for the runtime's Python
#: Packages that must never reach the Lambda (CLI, development and deployment tooling).
FORBIDDEN_TOP_LEVEL = ("typer", "rich", "pulumi", "pulumi_aws", "moto", "pytest", "mypy")
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
ZIP_FILE_MODE = 0o644
PRUNED_DIRS = frozenset({"__pycache__"})
PRUNED_TEST_DIRS = ("test", "tests")
PRUNED_DIST_INFO_FILES = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})
ZIP_OVERRIDE_ENV = "EXEC_ASSISTANT_LAMBDA_ZIP"
#: The AWS services the functions call (``exec_assistant.aws.client(...)``, and ``lambda`` for
#: Bolt's lazy listeners). botocore ships a model for every AWS service (about 16 MiB zipped,
#: 60% of the bundle); only these are kept. A client for any other service would fail with
#: ``UnknownServiceError``: add it here when the package starts calling one.
BOTOCORE_SERVICES = frozenset(
    {"dynamodb", "events", "scheduler", "secretsmanager", "sesv2", "sqs", "sts"}
)


#: ``auto``: compile when a compiler for the target version is available, else ship sources and
#: warn; ``require``: fail without one; ``none``: sources only.
BytecodeMode = Literal["auto", "require", "none"]


class BundleError(RuntimeError):
    """The bundle could not be built (pip failed, or a forbidden package got in)."""


@dataclass(frozen=True)
class Bundle:
    path: Path
    size_bytes: int
    sha256: str
    files: int
    bytecode: str = ""

    def describe(self) -> str:
        return (
            f"{self.path}: {self.size_bytes / 1024 / 1024:.1f} MiB, {self.files} files, "
            f"sha256 {self.sha256}" + (f"; {self.bytecode}" if self.bytecode else "")
        )


def _package_files(root: Path) -> list[Path]:
    """The package's files, sorted, without bytecode caches."""
    return sorted(
        path
        for path in (root / PACKAGE).rglob("*")
        if path.is_file() and not PRUNED_DIRS.intersection(path.parts) and path.suffix != ".pyc"
    )


def source_digest(
    root: Path = REPO_ROOT,
    *,
    python_version: str = LAMBDA_PYTHON_VERSION,
    platform: str = LAMBDA_PLATFORM,
) -> str:
    """A digest of everything that decides the bundle's content (cache key)."""
    digest = hashlib.sha256(f"{BUNDLE_FORMAT}|{python_version}|{platform}".encode())
    for path in [root / "pyproject.toml", root / LOCK_FILE, *_package_files(root)]:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _copy_sources(root: Path, dest: Path) -> None:
    """Just what building the wheel needs, so stray files in the checkout cannot leak in."""
    dest.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (root / name).exists():
            shutil.copy2(root / name, dest / name)
    for path in _package_files(root):
        target = dest / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)


def _pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet", *args]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BundleError(f"pip {args[0]} failed:\n{result.stdout}{result.stderr}")


def install_runtime(root: Path, site: Path, *, python_version: str, platform: str) -> None:
    """Install the package and its runtime dependencies for Lambda into ``site``."""
    with tempfile.TemporaryDirectory(prefix="exec-assistant-wheel-") as tmp:
        src, wheels = Path(tmp) / "src", Path(tmp) / "wheels"
        _copy_sources(root, src)
        _pip("wheel", "--no-deps", "--wheel-dir", str(wheels), str(src))
        (wheel,) = wheels.glob("*.whl")
        target = ("--target", str(site), "--platform", platform, "--implementation", "cp")
        lambda_wheels = (*target, "--python-version", python_version, "--only-binary=:all:")
        _pip(
            "install",
            *lambda_wheels,
            "--no-compile",
            "--require-hashes",
            "-r",
            str(root / LOCK_FILE),
        )
        _pip("install", *lambda_wheels, "--no-compile", "--no-deps", str(wheel))


def runtime_distributions(root: Path = REPO_ROOT) -> list[str]:
    """Names of the installed distributions the package needs at run time (no extras)."""
    import tomllib
    from importlib.metadata import PackageNotFoundError, distribution

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pending = list(tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"])
    seen: dict[str, str] = {}
    while pending:
        requirement = Requirement(pending.pop())
        name = canonicalize_name(requirement.name)
        if name in seen or (requirement.marker and not requirement.marker.evaluate({"extra": ""})):
            continue
        try:
            dist = distribution(name)
        except PackageNotFoundError as exc:
            raise BundleError(f"{name} is not installed: install the package first") from exc
        seen[name] = dist.metadata["Name"]
        pending.extend(dist.requires or [])
    return sorted(seen.values())


def install_from_environment(root: Path, site: Path) -> None:
    """Offline variant of :func:`install_runtime` for tests: the package's sources plus its
    runtime dependencies *as installed in this interpreter* (so for its Python version and
    platform, not Lambda's). It exercises everything after the download — pruning, the
    content checks, the deterministic zip, the handlers importing — without any network."""
    from importlib.metadata import distribution

    site.mkdir(parents=True)
    for name in runtime_distributions(root):
        dist = distribution(name)
        if dist.files is None:
            raise BundleError(f"{name} has no file list (RECORD); reinstall it")
        for file in dist.files:
            if file.parts[0] == "..":  # console scripts and data outside site-packages
                continue
            source = Path(str(dist.locate_file(file)))
            if source.is_file():
                target = site / file
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
    for path in _package_files(root):
        target = site / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


def prune(site: Path) -> None:
    """Remove bytecode, console scripts, install bookkeeping, dependencies' own test suites and
    the botocore models of services the functions never call (:data:`BOTOCORE_SERVICES`).

    A ``tests``/``test`` directory directly inside a third-party package (``icalendar/tests``) is
    its test suite, which the package never imports at run time.
    """
    shutil.rmtree(site / "bin", ignore_errors=True)
    models = site / "botocore" / "data"
    if models.is_dir():
        for service in sorted(models.iterdir()):
            if service.is_dir() and service.name not in BOTOCORE_SERVICES:
                shutil.rmtree(service)
    for top in sorted(site.iterdir()):
        if top.is_dir() and top.name != PACKAGE:
            for name in PRUNED_TEST_DIRS:
                shutil.rmtree(top / name, ignore_errors=True)
    for path in sorted(site.rglob("*"), reverse=True):
        if path.is_dir() and path.name in PRUNED_DIRS:
            shutil.rmtree(path)
        elif path.is_file() and (
            path.suffix == ".pyc"
            or (path.parent.name.endswith(".dist-info") and path.name in PRUNED_DIST_INFO_FILES)
        ):
            path.unlink()


def check_contents(site: Path) -> None:
    present = sorted(name for name in FORBIDDEN_TOP_LEVEL if (site / name).exists())
    if present:
        raise BundleError(f"the bundle must not contain {', '.join(present)}")
    if not (site / PACKAGE / "__init__.py").exists():
        raise BundleError(f"the bundle has no {PACKAGE} package")


def _walk(site: Path) -> Iterator[tuple[str, Path]]:
    for path in sorted(site.rglob("*"), key=lambda p: p.relative_to(site).as_posix()):
        if path.is_file():
            yield path.relative_to(site).as_posix(), path


def write_zip(site: Path, out: Path) -> Bundle:
    """Zip ``site`` deterministically: same files and bytes → same archive, byte for byte."""
    out.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, path in _walk(site):
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so the permission bits below are honoured
            info.external_attr = (0o100000 | ZIP_FILE_MODE) << 16
            archive.writestr(info, path.read_bytes())
            count += 1
    data = out.read_bytes()
    return Bundle(
        path=out, size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest(), files=count
    )


def compile_bytecode(site: Path, python_version: str, mode: BytecodeMode) -> str:
    """Add unchecked-hash ``.pyc`` files for ``python_version`` to ``site``; returns what was
    done, for the build's output."""
    if mode == "none":
        return "no byte-code (--bytecode=none)"
    try:
        done = bytecode.compiler(python_version)(site)
    except bytecode.BytecodeUnavailable as exc:
        if mode == "require":
            raise BundleError(f"no byte-code for Python {python_version}: {exc}") from exc
        print(f"warning: bundle without byte-code: {exc}", file=sys.stderr)
        return f"no byte-code ({exc})"
    except bytecode.BytecodeError as exc:
        raise BundleError(str(exc)) from exc
    missing = bytecode.missing_bytecode(site, python_version)
    if missing:
        raise BundleError(f"modules without byte-code: {', '.join(missing[:10])}")
    return f"{done.compiled} modules compiled by {done.compiler}"


def build_bundle(
    out: Path,
    *,
    root: Path = REPO_ROOT,
    python_version: str = LAMBDA_PYTHON_VERSION,
    platform: str = LAMBDA_PLATFORM,
    from_environment: bool = False,
    bytecode_mode: BytecodeMode = "auto",
) -> Bundle:
    """Build the bundle at ``out``: Lambda wheels downloaded through pip, or, with
    ``from_environment``, offline from this interpreter's installed dependencies (then the
    byte-code is this interpreter's too)."""
    if from_environment:
        python_version = f"{sys.version_info.major}.{sys.version_info.minor}"
    with tempfile.TemporaryDirectory(prefix="exec-assistant-bundle-") as tmp:
        site = Path(tmp) / "site"
        if from_environment:
            install_from_environment(root, site)
        else:
            install_runtime(root, site, python_version=python_version, platform=platform)
        prune(site)
        check_contents(site)
        compiled = compile_bytecode(site, python_version, bytecode_mode)
        built = write_zip(site, out)
        return Bundle(built.path, built.size_bytes, built.sha256, built.files, compiled)


def cached_bundle(cache_dir: Path, *, root: Path = REPO_ROOT) -> Path:
    """The bundle for the current sources, built only when they changed since the last build."""
    path = cache_dir / f"lambda-{source_digest(root)[:16]}.zip"
    if not path.exists():
        partial = path.with_suffix(f".{os.getpid()}.partial")
        build_bundle(partial, root=root)
        partial.replace(path)
    return path


def lambda_archive() -> pulumi.Archive:
    """The code the Pulumi program deploys: ``$EXEC_ASSISTANT_LAMBDA_ZIP`` or a cached build."""
    import pulumi

    override = os.environ.get(ZIP_OVERRIDE_ENV)
    path = Path(override) if override else cached_bundle(REPO_ROOT / "build" / "lambda")
    if not path.is_file():
        raise BundleError(f"{ZIP_OVERRIDE_ENV}={override} is not a file")
    return pulumi.FileArchive(str(path))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "build" / "lambda.zip")
    parser.add_argument("--python-version", default=LAMBDA_PYTHON_VERSION)
    parser.add_argument("--platform", default=LAMBDA_PLATFORM)
    parser.add_argument(
        "--bytecode",
        choices=["auto", "require", "none"],
        default="auto",
        help="compile .pyc for --python-version (auto: if a compiler is available)",
    )
    args = parser.parse_args(argv)
    try:
        bundle = build_bundle(
            args.out,
            python_version=args.python_version,
            platform=args.platform,
            bytecode_mode=args.bytecode,
        )
    except BundleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(bundle.describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
