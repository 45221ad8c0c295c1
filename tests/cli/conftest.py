"""CLI fixtures: a CliRunner bound to a fresh SQLite store per test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from exec_assistant.cli import app
from exec_assistant.config import get_settings
from exec_assistant.store.sqlite import SQLiteStore
from tests.fakes.fixtures import fake_slack

__all__ = ["fake_slack"]


@dataclass
class Cli:
    """Runs ``exec-assistant`` in-process against the test's store."""

    runner: CliRunner
    db: Path

    def __call__(self, *args: str, input: str | None = None) -> Result:
        get_settings.cache_clear()
        return self.runner.invoke(app, list(args), input=input, catch_exceptions=False)

    def store(self) -> SQLiteStore:
        return SQLiteStore(self.db)


def assert_one_line_error(result: Result, *, contains: str = "") -> None:
    """A failure ends with exactly one ``error:`` line on stderr, a non-zero code, no traceback."""
    assert result.exit_code != 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert contains in lines[0], lines[0]
    assert "Traceback" not in result.output


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    db = tmp_path / "cli.db"
    monkeypatch.setenv("EXEC_ASSISTANT_STORE", f"sqlite:///{db}")
    monkeypatch.setenv("COLUMNS", "200")
    yield Cli(CliRunner(env={"COLUMNS": "200"}), db)
    get_settings.cache_clear()
