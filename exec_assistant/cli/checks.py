"""The rows ``doctor`` prints (locally and with ``--aws``) and how a run of checks ends.

"missing" is not a failure (an unconfigured channel is simply off), "warning" needs a look,
"error" needs action: any error row makes the command exit 1.
"""

from __future__ import annotations

from enum import StrEnum

import typer
from pydantic import BaseModel
from rich.table import Table

from exec_assistant.cli.output import ExitCode, out, print_json


class Status(StrEnum):
    READY = "ready"
    MISSING = "missing"
    WARNING = "warning"
    ERROR = "error"


class Check(BaseModel):
    check: str
    status: Status
    detail: str


_COLOUR = {
    Status.READY: "green",
    Status.MISSING: "yellow",
    Status.WARNING: "yellow",
    Status.ERROR: "red",
}


def show(checks: list[Check], *, title: str, as_json: bool) -> None:
    """Print the rows (a table, or JSON), then exit 1 if any row is an error."""
    if as_json:
        print_json(checks)
    else:
        table = Table(title=title)
        table.add_column("check")
        table.add_column("status")
        table.add_column("detail", overflow="fold")
        for c in checks:
            table.add_row(c.check, f"[{_COLOUR[c.status]}]{c.status.value}[/]", c.detail)
        out().print(table)
    if any(c.status is Status.ERROR for c in checks):
        raise typer.Exit(int(ExitCode.FAILED))
