"""Byte-code for the Lambda bundle, compiled for the deployed runtime's Python (3.13).

Why: ``/var/task`` is read-only, so a bundle of ``.py`` files only is compiled from source on
every cold start (617 ms of the Slack bot's cold start, 442 ms of the prep trigger's, measured in
issue 16). The bundle therefore ships ``__pycache__/*.cpython-313.pyc`` next to each module.

The ``.pyc`` files are *unchecked-hash* based (PEP 552): the header holds a hash of the source
and a flag telling the import system not to check it, so neither the zip's fixed 1980 timestamps
nor Lambda's extraction can make them stale, and two builds of the same sources give the same
bytes.

Byte-code is specific to a Python minor version (the *magic number*), so it must come from a
3.13 compiler. :func:`compiler` picks, in order:

1. this interpreter, if it is 3.13;
2. a ``python3.13`` on ``PATH`` (Debian 13 ``apt-get install python3.13``, pyenv, …);
3. Pyodide — CPython 3.13 compiled to WebAssembly, published on the npm registry as ``pyodide``
   (:data:`PYODIDE_VERSION`) — run by Node.js. It is fetched once with ``npm pack`` into
   ``build/pyodide/`` and needs only ``node`` and ``npm`` (Debian's ``nodejs`` and ``npm``).
   Byte-code does not depend on the platform the compiler runs on, only on its version.

If none is available the bundle is built without byte-code (still correct, slower to start) and
:class:`BytecodeUnavailable` says why. Standard library only.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
#: Pyodide 0.29.x embeds CPython 3.13.2; bump together with the Lambda runtime's minor version.
PYODIDE_VERSION = "0.29.5"
PYODIDE_PYTHON = "3.13"
PYODIDE_CACHE = REPO_ROOT / "build" / "pyodide"
#: Magic numbers (the first two bytes of a ``.pyc``, little-endian) of the versions we target.
MAGIC_NUMBERS = {"3.11": 3495, "3.12": 3531, "3.13": 3571}
#: PEP 552 header flags: bit 0 = hash-based, bit 1 = check the source. Unchecked hash = 0b01.
UNCHECKED_HASH_FLAGS = 0b01
#: Where Lambda unpacks the bundle: compiled-in file names point there in tracebacks.
TASK_ROOT = "/var/task"

#: Runs inside the compiler (any CPython): compiles every ``.py`` under argv[1] to an
#: unchecked-hash ``.pyc`` in ``__pycache__``, prints {"compiled": n, "failed": [...]} as JSON.
COMPILE_SCRIPT = """
import importlib.util, json, os, py_compile, sys
root, task_root = sys.argv[1], sys.argv[2]
compiled, failed = 0, []
for folder, dirs, files in os.walk(root):
    dirs.sort()
    for name in sorted(files):
        if not name.endswith(".py"):
            continue
        path = os.path.join(folder, name)
        relative = os.path.relpath(path, root)
        try:
            py_compile.compile(
                path,
                cfile=importlib.util.cache_from_source(path),
                dfile=task_root + "/" + relative.replace(os.sep, "/"),
                doraise=True,
                invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
            )
            compiled += 1
        except py_compile.PyCompileError as exc:
            failed.append(relative + ": " + str(exc.exc_value).splitlines()[0])
magic = importlib.util.MAGIC_NUMBER.hex()
print(json.dumps({"compiled": compiled, "failed": failed, "magic": magic}))
"""

#: Node.js side of the Pyodide compiler: load Pyodide, mount the site directory, run the script.
NODE_SCRIPT = """
const [pyodideDir, site, taskRoot, script] = process.argv.slice(2);
const { loadPyodide } = await import(pyodideDir + "/pyodide.mjs");
const py = await loadPyodide({
  indexURL: pyodideDir + "/",
  env: { PYTHONHASHSEED: "0" },
  stdout: (line) => process.stdout.write(line + "\\n"),
  stderr: (line) => process.stderr.write(line + "\\n"),
});
py.FS.mkdirTree("/site");
py.FS.mount(py.FS.filesystems.NODEFS, { root: site }, "/site");
py.globals.set("argv", py.toPy(["compile", "/site", taskRoot]));
py.runPython("import sys; sys.argv = list(argv)\\n" + script);
"""


class BytecodeUnavailable(RuntimeError):
    """No compiler for the target Python version could be found or installed here."""


class BytecodeError(RuntimeError):
    """The compiler ran and failed (a source file that does not compile, a crashed compiler)."""


@dataclass(frozen=True)
class Compiled:
    compiled: int
    compiler: str


Compiler = Callable[[Path], Compiled]


def magic_number(version: str) -> bytes:
    """The 4-byte ``.pyc`` header start for ``version`` (``"3.13"``)."""
    try:
        return MAGIC_NUMBERS[version].to_bytes(2, "little") + b"\r\n"
    except KeyError:
        raise BytecodeUnavailable(f"no known magic number for Python {version}") from None


def _parse(output: str, compiler: str, version: str) -> Compiled:
    try:
        result = json.loads(output.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError) as exc:
        raise BytecodeError(f"{compiler} printed no result: {output[-500:]!r}") from exc
    if bytes.fromhex(result["magic"]) != magic_number(version):
        raise BytecodeError(f"{compiler} compiled for magic {result['magic']}, not {version}")
    if result["failed"]:
        raise BytecodeError(f"{compiler} could not compile: {'; '.join(result['failed'][:10])}")
    return Compiled(compiled=int(result["compiled"]), compiler=compiler)


def _interpreter_compiler(python: str, version: str) -> Compiler:
    def compile_site(site: Path) -> Compiled:
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as script:
            script.write(COMPILE_SCRIPT)
        try:
            proc = subprocess.run(  # noqa: S603 - fixed argv
                [python, "-I", script.name, str(site), TASK_ROOT],
                capture_output=True,
                text=True,
                check=False,
                env={"PYTHONHASHSEED": "0"},
            )
        finally:
            Path(script.name).unlink()
        if proc.returncode != 0:
            raise BytecodeError(f"{python} failed:\n{proc.stderr[-2000:]}")
        return _parse(proc.stdout, f"{python} (Python {version})", version)

    return compile_site


def _python_on_path(version: str) -> str | None:
    candidate = shutil.which(f"python{version}")
    if candidate is None:
        return None
    probe = subprocess.run(  # noqa: S603 - fixed argv
        [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=False,
    )
    return candidate if probe.stdout.strip() == version else None


def install_pyodide(cache: Path = PYODIDE_CACHE, version: str = PYODIDE_VERSION) -> Path:
    """Pyodide's npm package unpacked under ``cache/<version>`` (``npm pack`` once); returns the
    directory holding ``pyodide.mjs``."""
    target = cache / version
    if (target / "pyodide.mjs").is_file():
        return target
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise BytecodeUnavailable(
            "no Python 3.13 here and no Node.js to run Pyodide's: install python3.13, or "
            "node and npm (apt-get install nodejs npm)"
        )
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pyodide-", dir=cache) as tmp:
        proc = subprocess.run(  # noqa: S603 - fixed argv
            [npm, "pack", f"pyodide@{version}", "--silent", "--pack-destination", tmp],
            capture_output=True,
            text=True,
            check=False,
        )
        tarballs = list(Path(tmp).glob("pyodide-*.tgz"))
        if proc.returncode != 0 or len(tarballs) != 1:
            raise BytecodeUnavailable(f"npm pack pyodide@{version} failed: {proc.stderr[-500:]}")
        unpacked = Path(tmp) / "unpacked"
        with tarfile.open(tarballs[0]) as archive:
            archive.extractall(unpacked, filter="data")
        if target.exists():  # another build finished first
            return target
        (unpacked / "package").rename(target)
    return target


def _pyodide_compiler(version: str) -> Compiler:
    if version != PYODIDE_PYTHON:
        raise BytecodeUnavailable(f"Pyodide {PYODIDE_VERSION} is Python {PYODIDE_PYTHON}")

    def compile_site(site: Path) -> Compiled:
        node = shutil.which("node")
        if node is None:
            raise BytecodeUnavailable("Pyodide needs Node.js (apt-get install nodejs)")
        pyodide = install_pyodide()
        with tempfile.NamedTemporaryFile("w", suffix=".mjs", delete=False) as runner:
            runner.write(NODE_SCRIPT)
        try:
            proc = subprocess.run(  # noqa: S603 - fixed argv
                [node, runner.name, str(pyodide), str(site.resolve()), TASK_ROOT, COMPILE_SCRIPT],
                capture_output=True,
                text=True,
                check=False,
            )
        finally:
            Path(runner.name).unlink()
        if proc.returncode != 0:
            raise BytecodeError(f"Pyodide failed:\n{proc.stderr[-2000:]}")
        return _parse(proc.stdout, f"Pyodide {PYODIDE_VERSION} (Python {version})", version)

    return compile_site


def compiler(version: str) -> Compiler:
    """A compiler for Python ``version`` (see the module docstring for the order)."""
    magic_number(version)  # unknown versions fail here
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return _interpreter_compiler(sys.executable, version)
    python = _python_on_path(version)
    if python is not None:
        return _interpreter_compiler(python, version)
    if shutil.which("node") is None:
        raise BytecodeUnavailable(
            f"no Python {version} interpreter and no Node.js for Pyodide: install python{version}"
            ", or node and npm (apt-get install nodejs npm)"
        )
    return _pyodide_compiler(version)


def read_header(pyc: Path) -> tuple[bytes, int]:
    """The magic number (4 bytes) and the PEP 552 flags of a ``.pyc``."""
    header = pyc.read_bytes()[:8]
    return header[:4], int.from_bytes(header[4:8], "little")


def missing_bytecode(site: Path, version: str) -> list[str]:
    """Modules under ``site`` without a matching unchecked-hash ``.pyc`` for ``version``."""
    tag = f"cpython-{version.replace('.', '')}"
    magic = magic_number(version)
    missing = []
    for source in sorted(site.rglob("*.py")):
        pyc = source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc"
        if not pyc.is_file() or read_header(pyc) != (magic, UNCHECKED_HASH_FLAGS):
            missing.append(source.relative_to(site).as_posix())
    return missing
