"""Where the CLI writes: rich consoles (stdout for results, stderr for errors) and plain JSON.

Consoles are built per call, so they always write to the current ``sys.stdout``/``sys.stderr``
(Typer's CliRunner swaps them per invocation). ``--json`` output is plain ``json.dumps`` on
stdout, never passed through rich, so highlighting and wrapping cannot corrupt it.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from enum import IntEnum
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape


class ExitCode(IntEnum):
    """Exit codes of every command (documented in the README)."""

    OK = 0
    FAILED = 1  # the command ran and something failed (AWS, store, provider, not delivered)
    USAGE = 2  # bad arguments or input (click's own convention)
    CONFIG = 3  # a required setting is missing or invalid
    INTERRUPTED = 130  # Ctrl-C


def out() -> Console:
    return Console(file=sys.stdout, highlight=False, soft_wrap=False)


def err() -> Console:
    return Console(file=sys.stderr, highlight=False, soft_wrap=True)


def error_line(message: str) -> None:
    """The one line every failure ends with (never a traceback)."""
    first = " ".join(message.split()) or "unknown error"
    err().print(f"[bold red]error:[/] {escape(first)}")


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def print_json(payload: Any) -> None:
    """Machine-readable output for ``--json``: one JSON document on stdout."""
    if isinstance(payload, BaseModel):
        payload = payload.model_dump(mode="json")
    elif isinstance(payload, list):
        payload = [p.model_dump(mode="json") if isinstance(p, BaseModel) else p for p in payload]
    sys.stdout.write(json.dumps(payload, indent=2, default=_default) + "\n")


def when(value: datetime | None) -> str:
    """A compact, unambiguous timestamp for tables (UTC offset kept)."""
    return value.isoformat(timespec="minutes") if value else "-"
