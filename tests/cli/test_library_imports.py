"""The library never imports the CLI's dependencies (typer, rich, click): Lambdas don't pay."""

from __future__ import annotations

import subprocess
import sys

LIBRARY_MODULES = (
    "exec_assistant",
    "exec_assistant.runtime",
    "exec_assistant.workflows.prep_trigger_handler",
    "exec_assistant.workflows.calendar_monitor",
    "exec_assistant.workflows.ics_import",
    "exec_assistant.notifications.service",
    "exec_assistant.notifications.channels.console",
    "exec_assistant.interfaces.slack_bot",
    "exec_assistant.store.sqlite",
    "exec_assistant.events.local",
)
CLI_ONLY = ("typer", "rich", "click")


def _imported_after(modules: tuple[str, ...]) -> set[str]:
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return set(completed.stdout.split())


def test_library_modules_do_not_import_typer_or_rich() -> None:
    loaded = _imported_after(LIBRARY_MODULES)
    assert "exec_assistant" in loaded
    assert loaded.isdisjoint(CLI_ONLY), loaded & set(CLI_ONLY)


def test_the_cli_does_import_them() -> None:  # the check above can fail
    assert {"typer", "rich"} <= _imported_after(("exec_assistant.cli",))
