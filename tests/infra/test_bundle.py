"""The Lambda bundle builder: deterministic zips, pruning, the cache key, and one real build whose
handlers import in a clean virtualenv."""

from __future__ import annotations

import glob
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from infra import bundle, bytecode, lambdas


def _site(root: Path) -> Path:
    files = {
        "exec_assistant/__init__.py": "x = 1\n",
        "exec_assistant/models.py": "y = 2\n",
        "pkg/__init__.py": "",
        "pkg/data.bin": "\x00\x01",
        "a.py": "",
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_zip_is_byte_for_byte_reproducible(tmp_path: Path) -> None:
    site = _site(tmp_path / "site")
    first = bundle.write_zip(site, tmp_path / "one.zip")
    for path in site.rglob("*"):
        os.utime(path, (1_900_000_000, 1_900_000_000))
    (site / "a.py").chmod(0o755)
    second = bundle.write_zip(site, tmp_path / "two.zip")
    assert first.sha256 == second.sha256
    assert (tmp_path / "one.zip").read_bytes() == (tmp_path / "two.zip").read_bytes()
    assert first.files == 5 and first.size_bytes == (tmp_path / "one.zip").stat().st_size
    with zipfile.ZipFile(tmp_path / "one.zip") as archive:
        infos = archive.infolist()
    names = [info.filename for info in infos]
    assert names == sorted(names)
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {(info.external_attr >> 16) & 0o777 for info in infos} == {0o644}


def test_zip_changes_when_content_changes(tmp_path: Path) -> None:
    site = _site(tmp_path / "site")
    first = bundle.write_zip(site, tmp_path / "one.zip")
    (site / "exec_assistant" / "models.py").write_text("y = 3\n")
    assert bundle.write_zip(site, tmp_path / "two.zip").sha256 != first.sha256


def test_prune_drops_caches_scripts_test_suites_and_install_records(tmp_path: Path) -> None:
    site = _site(tmp_path / "site")
    extra = [
        "bin/normalizer",
        "pkg/__pycache__/x.cpython-313.pyc",
        "pkg/tests/test_pkg.py",
        "other/test/test_other.py",
        "pkg-1.0.dist-info/RECORD",
        "pkg-1.0.dist-info/INSTALLER",
        "pkg-1.0.dist-info/REQUESTED",
        "pkg-1.0.dist-info/direct_url.json",
        "pkg-1.0.dist-info/METADATA",
        "pkg/deep/tests/kept.py",
        "exec_assistant/tests/kept.py",
    ]
    for name in extra:
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_text("")
    bundle.prune(site)
    left = {p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()}
    assert left == {
        "exec_assistant/__init__.py",
        "exec_assistant/models.py",
        "exec_assistant/tests/kept.py",
        "pkg/__init__.py",
        "pkg/data.bin",
        "pkg/deep/tests/kept.py",
        "pkg-1.0.dist-info/METADATA",
        "a.py",
    }


def test_prune_keeps_only_the_botocore_models_of_services_the_package_calls(
    tmp_path: Path,
) -> None:
    site = _site(tmp_path / "site")
    data = site / "botocore" / "data"
    for name in ["endpoints.json", "dynamodb/2012-08-10/service-2.json.gz", "s3/x.json"]:
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        (data / name).write_text("{}")
    for service in bundle.BOTOCORE_SERVICES:
        (data / service).mkdir(exist_ok=True)
    bundle.prune(site)
    assert (data / "endpoints.json").exists()
    assert (data / "dynamodb/2012-08-10/service-2.json.gz").exists()
    assert {p.name for p in data.iterdir() if p.is_dir()} == bundle.BOTOCORE_SERVICES
    called = set(re.findall(r'client\("([a-z0-9-]+)"', _package_sources()))
    assert called <= bundle.BOTOCORE_SERVICES, "a called service's model would be pruned"


def _package_sources() -> str:
    """The package's modules a function can run: not the CLI (typer and rich are not in the
    bundle; its AWS calls, e.g. ``doctor --aws``, run on the operator's machine)."""
    root = Path(__file__).resolve().parents[2] / "exec_assistant"
    return "\n".join(
        p.read_text() for p in sorted(root.rglob("*.py")) if "cli" not in p.relative_to(root).parts
    )


@pytest.mark.parametrize("forbidden", ["typer", "rich", "pulumi", "moto"])
def test_check_contents_refuses_cli_and_dev_packages(tmp_path: Path, forbidden: str) -> None:
    site = _site(tmp_path / "site")
    (site / forbidden).mkdir()
    with pytest.raises(bundle.BundleError, match=forbidden):
        bundle.check_contents(site)


def test_check_contents_requires_the_package(tmp_path: Path) -> None:
    with pytest.raises(bundle.BundleError, match="exec_assistant"):
        bundle.check_contents(tmp_path)


def _fake_repo(root: Path) -> Path:
    (root / "exec_assistant").mkdir(parents=True)
    (root / "exec_assistant" / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (root / "README.md").write_text("readme\n")
    (root / "requirements").mkdir()
    (root / "requirements" / "lambda.txt").write_text("pydantic==2.0 --hash=sha256:00\n")
    return root


def test_source_digest_tracks_package_pyproject_and_lock_only(tmp_path: Path) -> None:
    root = _fake_repo(tmp_path)
    digest = bundle.source_digest(root)
    assert bundle.source_digest(root) == digest
    (root / "README.md").write_text("other readme\n")
    (root / "exec_assistant" / "__pycache__").mkdir()
    (root / "exec_assistant" / "__pycache__" / "x.pyc").write_bytes(b"\x00")
    assert bundle.source_digest(root) == digest
    assert bundle.source_digest(root, python_version="3.12") != digest
    (root / "exec_assistant" / "new.py").write_text("")
    changed = bundle.source_digest(root)
    assert changed != digest
    (root / "pyproject.toml").write_text("[project]\nname = 'y'\n")
    assert bundle.source_digest(root) != changed
    renamed = bundle.source_digest(root)
    (root / "requirements" / "lambda.txt").write_text("pydantic==2.1 --hash=sha256:01\n")
    assert bundle.source_digest(root) != renamed  # the resolved versions are in the key


def test_cached_bundle_builds_once_per_source_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _fake_repo(tmp_path / "repo")
    builds: list[Path] = []

    def fake_build(out: Path, *, root: Path) -> bundle.Bundle:
        builds.append(out)
        out.write_bytes(b"zip")
        return bundle.Bundle(out, 3, "x", 1)

    monkeypatch.setattr(bundle, "build_bundle", fake_build)
    cache = tmp_path / "cache"
    cache.mkdir()
    first = bundle.cached_bundle(cache, root=root)
    assert bundle.cached_bundle(cache, root=root) == first
    assert len(builds) == 1 and first.read_bytes() == b"zip"
    (root / "exec_assistant" / "__init__.py").write_text("changed = True\n")
    assert bundle.cached_bundle(cache, root=root) != first
    assert len(builds) == 2
    assert not list(cache.glob("*.partial"))


def test_lambda_archive_uses_a_prebuilt_zip_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pulumi

    prebuilt = tmp_path / "lambda.zip"
    prebuilt.write_bytes(b"zip")
    monkeypatch.setenv(bundle.ZIP_OVERRIDE_ENV, str(prebuilt))
    archive = bundle.lambda_archive()
    assert isinstance(archive, pulumi.FileArchive)
    assert archive.path == str(prebuilt)
    monkeypatch.setenv(bundle.ZIP_OVERRIDE_ENV, str(tmp_path / "missing.zip"))
    with pytest.raises(bundle.BundleError, match=r"missing\.zip"):
        bundle.lambda_archive()


# -- the real bundle ---------------------------------------------------------------------------

#: The module of every function the stack deploys (each FunctionSpec in infra/lambdas.py).
HANDLER_MODULES = tuple(
    sorted(
        {
            spec.handler.rpartition(".")[0]
            for spec in vars(lambdas).values()
            if isinstance(spec, lambdas.FunctionSpec)
        }
    )
)
ABSENT = ("typer", "rich", "pulumi", "pulumi_aws", "moto")


def _interpreter_for_the_bundle() -> tuple[str, str]:
    """The Lambda's Python 3.13 if this machine has one, else the interpreter running the tests.

    The bundle is built for that interpreter's version (same manylinux x86_64 platform), so the
    import check exercises real binary wheels either way.
    """
    candidates = [shutil.which("python3.13")]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.13*/bin/python3.13")))
    for candidate in candidates:
        if candidate is None:
            continue
        probe = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info >= (3, 13))"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == "True":
            return candidate, "3.13"
    return sys.executable, f"{sys.version_info.major}.{sys.version_info.minor}"


def _assert_bundle_runs_the_handlers(
    built: bundle.Bundle, python: str, version: str, tmp_path: Path
) -> None:
    """Unzip ``built`` and import every handler from it in a clean virtualenv of ``python``."""
    print(f"\nLambda bundle for Python {version}: {built.describe()}")
    assert built.size_bytes < 50 * 1024 * 1024  # Lambda's limit for a directly uploaded zip

    with zipfile.ZipFile(built.path) as archive:
        names = archive.namelist()
        top_level = {name.split("/", 1)[0] for name in names}
        unzipped = sum(info.file_size for info in archive.infolist())
        archive.extractall(tmp_path / "site")
    assert unzipped < 250 * 1024 * 1024  # Lambda's unzipped limit
    assert not top_level & set(ABSENT)
    assert "exec_assistant" in top_level
    assert not [n for n in names if n.endswith("/RECORD")]
    # every module ships unchecked-hash byte-code for the bundle's Python (magic number + flags)
    assert bytecode.missing_bytecode(tmp_path / "site", version) == []
    # ... which the import system uses without looking at the source: a source that would now
    # fail to import still imports from its .pyc
    models = tmp_path / "site" / "exec_assistant" / "models.py"
    models.write_text(models.read_text() + "\nraise RuntimeError('compiled from source')\n")

    venv = tmp_path / "venv"
    subprocess.run([python, "-m", "venv", "--without-pip", str(venv)], check=True)
    check = (
        "import importlib, importlib.util, sys\n"
        f"for name in {HANDLER_MODULES!r}:\n"
        "    assert callable(importlib.import_module(name).lambda_handler), name\n"
        f"missing = [n for n in {ABSENT!r} if importlib.util.find_spec(n) is not None]\n"
        "assert not missing, missing\n"
        "print(sys.version_info[:2])\n"
    )
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-c", check],
        env={"PYTHONPATH": str(tmp_path / "site"), "PATH": os.environ.get("PATH", "")},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tuple(int(p) for p in version.split(".")))


def test_offline_bundle_imports_every_handler_in_a_clean_virtualenv(tmp_path: Path) -> None:
    """The default suite stays off the network: the bundle is assembled from this interpreter's
    installed runtime dependencies, then pruned, checked, zipped and imported like the real one."""
    built = bundle.build_bundle(tmp_path / "lambda.zip", from_environment=True)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    _assert_bundle_runs_the_handlers(built, sys.executable, version, tmp_path)


def _tree(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("VALUE = {'a', 'b'}\n")
    (root / "top.py").write_text("def f() -> int:\n    return 1\n")
    return root


def test_this_interpreter_compiles_unchecked_hash_bytecode(tmp_path: Path) -> None:
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    site = _tree(tmp_path / "site")
    assert bytecode.missing_bytecode(site, version) == ["pkg/__init__.py", "top.py"]
    done = bytecode.compiler(version)(site)
    assert done.compiled == 2
    assert bytecode.missing_bytecode(site, version) == []
    pyc = site / "pkg" / "__pycache__" / f"__init__.cpython-{version.replace('.', '')}.pyc"
    magic, flags = bytecode.read_header(pyc)
    assert magic == importlib.util.MAGIC_NUMBER == bytecode.magic_number(version)
    assert flags == bytecode.UNCHECKED_HASH_FLAGS
    first = pyc.read_bytes()
    for path in site.rglob("*.py"):  # timestamps do not matter, the source hash does
        os.utime(path, (1_900_000_000, 1_900_000_000))
    bytecode.compiler(version)(site)
    assert pyc.read_bytes() == first


def test_a_file_that_does_not_compile_fails_the_build(tmp_path: Path) -> None:
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    site = _tree(tmp_path / "site")
    (site / "broken.py").write_text("def (:\n")
    with pytest.raises(bytecode.BytecodeError, match=r"broken\.py"):
        bytecode.compiler(version)(site)


def test_bundle_without_a_compiler_ships_sources_or_fails_when_required(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def unavailable(version: str) -> bytecode.Compiler:
        raise bytecode.BytecodeUnavailable(f"no Python {version} here")

    monkeypatch.setattr(bytecode, "compiler", unavailable)
    site = _tree(tmp_path / "site")
    assert "no byte-code" in bundle.compile_bytecode(site, "3.13", "auto")
    assert "warning: bundle without byte-code: no Python 3.13 here" in capsys.readouterr().err
    assert not list(site.rglob("*.pyc"))
    with pytest.raises(bundle.BundleError, match=r"no Python 3\.13 here"):
        bundle.compile_bytecode(site, "3.13", "require")
    assert bundle.compile_bytecode(site, "3.13", "none") == "no byte-code (--bytecode=none)"


def test_unknown_python_versions_have_no_magic_number() -> None:
    with pytest.raises(bytecode.BytecodeUnavailable, match=r"2\.7"):
        bytecode.compiler("2.7")


PYODIDE_CACHED = (bytecode.PYODIDE_CACHE / bytecode.PYODIDE_VERSION / "pyodide.mjs").is_file()


@pytest.mark.bundle
@pytest.mark.skipif(
    not PYODIDE_CACHED and os.environ.get("EXEC_ASSISTANT_NETWORK_TESTS") != "1",
    reason="the Python 3.13 compiler (Pyodide) is fetched from the npm registry: set "
    "EXEC_ASSISTANT_NETWORK_TESTS=1 (or build a bundle once, which caches it in build/pyodide)",
)
@pytest.mark.skipif(shutil.which("node") is None, reason="Pyodide needs Node.js (nodejs)")
def test_pyodide_compiles_for_the_lambda_runtime_python(tmp_path: Path) -> None:
    """The deployed runtime is Python 3.13; this machine's may not be. Pyodide's CPython 3.13
    compiles the bundle's byte-code: read the magic number and flags it wrote."""
    site = _tree(tmp_path / "site")
    done = bytecode._pyodide_compiler(bundle.LAMBDA_PYTHON_VERSION)(site)
    assert done.compiled == 2 and "Pyodide" in done.compiler
    assert bytecode.missing_bytecode(site, "3.13") == []
    magic, flags = bytecode.read_header(site / "__pycache__" / "top.cpython-313.pyc")
    assert magic == (3571).to_bytes(2, "little") + b"\r\n"
    assert flags == bytecode.UNCHECKED_HASH_FLAGS


def test_runtime_distributions_leave_out_the_cli_and_dev_extras() -> None:
    names = {name.lower() for name in bundle.runtime_distributions()}
    assert {"slack-bolt", "boto3", "pydantic", "twilio"} <= {n.replace("_", "-") for n in names}
    assert not names & {"typer", "rich", "pulumi", "moto", "pytest", "mypy"}


@pytest.mark.bundle
@pytest.mark.skipif(
    os.environ.get("EXEC_ASSISTANT_NETWORK_TESTS") != "1",
    reason="downloads Lambda wheels from PyPI: set EXEC_ASSISTANT_NETWORK_TESTS=1",
)
@pytest.mark.skipif(
    not (sys.platform.startswith("linux") and os.uname().machine == "x86_64"),
    reason="the bundle holds manylinux x86_64 wheels",
)
def test_real_bundle_imports_both_handlers_in_a_clean_virtualenv(tmp_path: Path) -> None:
    python, version = _interpreter_for_the_bundle()
    built = bundle.build_bundle(
        tmp_path / "lambda.zip", python_version=version, bytecode_mode="require"
    )
    _assert_bundle_runs_the_handlers(built, python, version, tmp_path)


@pytest.mark.bundle
@pytest.mark.skipif(
    os.environ.get("EXEC_ASSISTANT_NETWORK_TESTS") != "1",
    reason="downloads Lambda wheels (PyPI) and Pyodide (npm): set EXEC_ASSISTANT_NETWORK_TESTS=1",
)
def test_real_bundle_ships_python_3_13_bytecode_for_every_module(tmp_path: Path) -> None:
    built = bundle.build_bundle(tmp_path / "lambda.zip", bytecode_mode="require")
    with zipfile.ZipFile(built.path) as archive:
        archive.extractall(tmp_path / "site")
    assert bytecode.missing_bytecode(tmp_path / "site", "3.13") == []
    assert "compiled by" in built.bytecode


def test_the_import_check_covers_every_deployed_handler() -> None:
    assert {
        "exec_assistant.interfaces.webhooks",
        "exec_assistant.workflows.email_events",
        "exec_assistant.interfaces.slack_bot",
        "exec_assistant.workflows.prep_trigger_handler",
    } <= set(HANDLER_MODULES)
