"""The house rules, checked by parsing every module's imports (``ast``, nothing is imported).

Layers, lowest first (docs/architecture.md): a module may import its own layer and the layers
below it, never one above. The composition root (``runtime``) sits above everything it builds;
only the entry points (``cli``, ``interfaces``, the package facade) sit above it. The Lambda
entry functions that live in ``workflows`` (contract paths such as
``exec_assistant.workflows.prep_trigger_handler.lambda_handler``) are the one exception: inside the
function — and nowhere else in their module — they import the root to get the process's runtime.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "exec_assistant"

#: Layer of each module, by longest matching dotted prefix (without ``exec_assistant.``).
LAYERS: dict[str, int] = {
    # 0 foundation: the vocabulary, configuration and SDK plumbing
    "_version": 0,
    "models": 0,
    "errors": 0,
    "logs": 0,
    "metrics": 0,
    "aws": 0,
    "config": 0,
    "config_fields": 0,
    "config_settings": 0,
    "slack_http": 0,
    "sqlite_file": 0,
    "snapshots": 0,
    "coldstart": 0,
    # 1 adapters: persistence and events
    "store": 1,
    "events": 1,
    # 2 services
    "notifications": 2,
    # 3 the pieces a runtime is made of (the Runtime type), importable by workflows
    "components": 3,
    # 4 workflow logic
    "workflows": 4,
    # 5 the composition root
    "runtime": 5,
    # 6 entry points
    "interfaces": 6,
    "cli": 6,
    "": 6,  # the package facade (exec_assistant/__init__.py)
}
LAYER_NAMES = ["foundation", "adapters", "services", "components", "workflows", "root", "entry"]

#: Function names inside which a lower module may import the root (the Lambda entry functions).
ENTRY_FUNCTIONS = frozenset({"lambda_handler", "before_snapshot"})
ROOT = "runtime"


@dataclass(frozen=True)
class Import:
    importer: str  # dotted, without the package prefix ("" for the package itself)
    imported: str
    line: int
    function: str | None  # the enclosing top-level function, if any


def layer_of(module: str) -> int:
    best = ""
    for prefix in LAYERS:
        if (module == prefix or module.startswith(prefix + ".")) and len(prefix) >= len(best):
            best = prefix
    if best == "" and module != "" and module not in LAYERS:
        raise AssertionError(f"module {module!r} has no layer: add it to LAYERS and the docs")
    return LAYERS[best]


def _strip(name: str) -> str | None:
    if name == "exec_assistant":
        return ""
    if name.startswith("exec_assistant."):
        return name.removeprefix("exec_assistant.")
    return None


def imports_of(module: str, source: str, *, is_package: bool = False) -> Iterator[Import]:
    """Every import of the package's own modules in ``source`` (TYPE_CHECKING ones included)."""
    tree = ast.parse(source)
    parts = module.split(".") if module else []
    package = parts if is_package else parts[:-1]

    def visit(node: ast.AST, function: str | None) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            inner = function
            if function is None and isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                inner = child.name
            if isinstance(child, ast.Import):
                for alias in child.names:
                    name = _strip(alias.name)
                    if name is not None:
                        yield Import(module, name, child.lineno, function)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package[: len(package) - child.level + 1]
                    target = ".".join([*base, *([child.module] if child.module else [])])
                else:
                    stripped = _strip(child.module or "")
                    if stripped is None:
                        continue
                    target = stripped
                # ``from exec_assistant.x import y`` may name a submodule y: count x.y if it is one
                for alias in child.names:
                    sub = f"{target}.{alias.name}" if target else alias.name
                    name = sub if _is_module(sub) else target
                    yield Import(module, name, child.lineno, function)
            yield from visit(child, inner)

    yield from visit(tree, None)


def _is_module(dotted: str) -> bool:
    path = PACKAGE.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def package_imports() -> list[Import]:
    found: list[Import] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).with_suffix("")
        is_package = rel.name == "__init__"
        parts = list(rel.parts[:-1] if is_package else rel.parts)
        found.extend(imports_of(".".join(parts), path.read_text(), is_package=is_package))
    return found


def allowed(imp: Import) -> bool:
    if imp.importer == imp.imported:
        return True
    if imp.imported == ROOT and imp.function in ENTRY_FUNCTIONS:
        return True
    return layer_of(imp.importer) >= layer_of(imp.imported)


def violations(found: list[Import]) -> list[str]:
    return [
        f"exec_assistant.{i.importer or '__init__'}:{i.line} ({LAYER_NAMES[layer_of(i.importer)]}) "
        f"imports exec_assistant.{i.imported} ({LAYER_NAMES[layer_of(i.imported)]})"
        for i in found
        if not allowed(i)
    ]


def cycles(found: list[Import]) -> list[list[str]]:
    """Import circles among modules, leaving out the entry functions' import of the root."""
    graph: dict[str, set[str]] = {}
    for imp in found:
        if imp.importer == imp.imported or (
            imp.imported == ROOT and imp.function in ENTRY_FUNCTIONS
        ):
            continue
        graph.setdefault(imp.importer, set()).add(imp.imported)
    circles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def dfs(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                circles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                dfs(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            dfs(node)
    return circles


def test_every_import_points_down() -> None:
    found = package_imports()
    assert len(found) > 100  # the scan sees the package
    assert violations(found) == []


def test_no_import_circles() -> None:
    assert cycles(package_imports()) == []


def test_only_entry_functions_reach_the_root() -> None:
    below_root = [
        i for i in package_imports() if i.imported == ROOT and layer_of(i.importer) < layer_of(ROOT)
    ]
    assert below_root, "the Lambda entry functions in workflows import the root"
    assert {(i.importer, i.function) for i in below_root} == {
        ("workflows.prep_trigger_handler", "lambda_handler"),
        ("workflows.prep_trigger_handler", "before_snapshot"),  # SnapStart builds the runtime
        ("workflows.calendar_monitor", "lambda_handler"),
        ("workflows.digest", "lambda_handler"),  # the morning digest's Lambda (docs/digest.md)
        ("workflows.email_events", "lambda_handler"),  # SES events (docs/acknowledgements.md)
    }


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("workflows.reminders", "from exec_assistant.runtime import get_runtime\n", 1),
        ("workflows.reminders", "from exec_assistant import runtime\n", 1),
        ("store.sqlite", "from ..notifications import service\n", 1),
        ("models", "import exec_assistant.cli.output\n", 1),
        ("notifications.service", "def f():\n    from exec_assistant.runtime import x\n", 1),
        ("workflows.x", "def lambda_handler(e, c):\n    from exec_assistant.runtime import g\n", 0),
        ("workflows.x", "def lambda_handler(e, c):\n    from exec_assistant.cli import g\n", 1),
        ("runtime", "from exec_assistant.workflows import prep_trigger_handler\n", 0),
        ("interfaces.slack_bot", "from exec_assistant.runtime import Runtime\n", 0),
    ],
)
def test_the_checker_sees_a_wrong_direction(module: str, source: str, expected: int) -> None:
    assert len(violations(list(imports_of(module, source)))) == expected


def test_the_checker_sees_a_circle() -> None:
    found = [
        *imports_of("store.base", "from exec_assistant.store import sqlite\n"),
        *imports_of("store.sqlite", "from exec_assistant.store.base import Store\n"),
    ]
    assert cycles(found) == [["store.base", "store.sqlite", "store.base"]]


def test_every_module_has_a_layer() -> None:
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        layer_of(".".join(parts))  # raises for a module no layer names


#: The size rule: a module over this many lines says why in its docstring ("over 400 lines").
MAX_LINES = 400
REASON = "over 400 lines"
#: Modules over the limit whose owners are splitting or justifying them in their own issues (the
#: files are theirs while they work). An entry must be removed once its module complies: the
#: test below fails on a stale entry.
PENDING: dict[str, str] = {}


def _long_modules() -> dict[str, tuple[int, str]]:
    found: dict[str, tuple[int, str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        lines = text.count("\n")
        if lines > MAX_LINES:
            doc = ast.get_docstring(ast.parse(text)) or ""
            found[path.relative_to(PACKAGE).as_posix()] = (lines, doc)
    return found


def test_long_modules_say_why() -> None:
    unexplained = {
        name: lines
        for name, (lines, doc) in _long_modules().items()
        if REASON not in doc and name not in PENDING
    }
    assert unexplained == {}, f"say why in the docstring ({REASON!r}) or split: {unexplained}"


def test_pending_size_exceptions_are_not_stale() -> None:
    long = _long_modules()
    stale = [name for name in PENDING if name not in long or REASON in long[name][1]]
    assert stale == [], f"these modules comply now: remove them from PENDING: {stale}"
