"""``exec-assistant store upgrade``: bring a DynamoDB deployment's older items up to date with
the indexes added since (:mod:`exec_assistant.store.index_fill`).

Meetings stored before ``status-prep_opens_at-index`` lack ``prep_opens_at`` (the calendar monitor
never sees them, so their executive is never notified); feeds stored before
``due-next_check_at-index`` lack ``due``/``next_check_at`` (never due again). The command scans
each table and sets what is missing with conditional writes that never overwrite a newer write;
it is idempotent, so an interrupted run resumes by running it again. ``--dry-run`` counts and
writes nothing. A SQLite store needs nothing: its schema migrates when the file is opened.

:func:`index_check` is ``doctor``'s bounded look (one Scan page per table), which names this
command when it finds items to bring up to date.
"""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import BaseModel
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn
from rich.table import Table

from exec_assistant.cli.checks import Check, Status
from exec_assistant.cli.output import err, out, print_json
from exec_assistant.cli.params import JsonFlag
from exec_assistant.config import SettingsModel, get_settings
from exec_assistant.errors import ExecAssistantError, PermanentError
from exec_assistant.store import open_store
from exec_assistant.store.index_fill import (
    DEFAULT_PAGE_SIZE,
    UPGRADE_COMMAND,
    IndexFill,
    IndexFillTarget,
)

app = typer.Typer(
    help="Maintain the store: bring a DynamoDB deployment's older items up to date.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

#: Items ``doctor`` examines per table (one Scan page; a page also ends at 1 MB).
DOCTOR_SAMPLE = 1000


class UpgradeReport(BaseModel):
    """What ``store upgrade`` did (``--json``): every table it reached, in order."""

    store: str
    location: str
    dry_run: bool
    tables: list[IndexFill]


def index_targets(settings: SettingsModel) -> list[IndexFillTarget] | None:
    """The DynamoDB tables whose older items may lack index attributes, or ``None`` for a
    SQLite store (opening it has just run its migration)."""
    from exec_assistant.store.dynamodb import DynamoDBStore
    from exec_assistant.store.feeds import DynamoDBFeedStore, open_feed_store

    store = open_store(settings)
    if not isinstance(store, DynamoDBStore):
        store.close()
        return None
    targets = [store.index_fill_target()]  # (closing a DynamoDB store releases nothing)
    feeds = open_feed_store(settings, None)  # without a SQLite file: the DynamoDB feeds table
    if isinstance(feeds, DynamoDBFeedStore):
        targets.append(feeds.index_fill_target())
    return targets


def _settings(aws: str | None) -> SettingsModel:
    from exec_assistant.cli.deployed import deployed_settings

    get_settings.cache_clear()
    return deployed_settings(aws) if aws is not None else get_settings()


def _command(aws: str | None) -> str:
    return UPGRADE_COMMAND + (f" --aws {aws}" if aws is not None else "")


def index_check(settings: SettingsModel, *, aws: str | None = None) -> Check:
    """``doctor``'s row: of at most :data:`DOCTOR_SAMPLE` items per table, how many lack their
    index attributes (an error naming :data:`UPGRADE_COMMAND`); a bounded look, not a census."""
    targets = index_targets(settings)
    if targets is None:
        return Check(
            check="store indexes", status=Status.READY, detail="SQLite: migrated when opened"
        )
    parts, lacking = [], 0
    for target in targets:
        sample = target.sample(DOCTOR_SAMPLE)
        attrs = "/".join(sample.attributes)
        lacking += sample.missing
        if sample.missing:
            parts.append(
                f"{sample.table_name}: {sample.missing} of {sample.examined} item(s) "
                f"examined lack {attrs}"
            )
        elif sample.complete:
            parts.append(f"{sample.table_name}: all {sample.examined} item(s) have {attrs}")
        else:
            parts.append(
                f"{sample.table_name}: none of the first {sample.examined} item(s) lacks "
                f"{attrs} (the rest not examined: {_command(aws)} --dry-run counts them all)"
            )
    if lacking:
        parts.append(f"older items are missing from the indexes: run {_command(aws)}")
    return Check(
        check="store indexes",
        status=Status.ERROR if lacking else Status.READY,
        detail="; ".join(parts),
    )


def _show(report: UpgradeReport) -> None:
    dry = report.dry_run
    table = Table(title=f"store upgrade ({'dry run, ' if dry else ''}{report.location})")
    for column in ("table", "attributes", "scanned", "lacking"):
        table.add_column(column, overflow="fold")
    table.add_column("would update" if dry else "updated", justify="right")
    table.add_column("changed meanwhile", justify="right")
    table.add_column("unreadable", justify="right")
    for t in report.tables:
        done = "" if t.complete else " (stopped)"
        table.add_row(
            t.table_name,
            ", ".join(t.attributes),
            f"{t.scanned}{done}",
            str(t.missing),
            str(t.missing - t.unreadable if dry else t.updated),
            str(t.changed),
            f"[red]{t.unreadable}[/]" if t.unreadable else "0",
        )
    console = out()
    console.print(table)
    lacking = sum(t.missing - t.unreadable for t in report.tables)
    if dry:
        console.print(
            f"dry run: {lacking} item(s) would be updated; nothing written"
            if lacking
            else "nothing to do: every item has its index attributes"
        )
    else:
        updated = sum(t.updated for t in report.tables)
        changed = sum(t.changed for t in report.tables)
        meanwhile = f"; {changed} left as a newer write left them" if changed else ""
        console.print(f"{updated} item(s) updated{meanwhile}")


def _describe(result: IndexFill) -> str:
    verb = "would update" if result.dry_run else "updated"
    count = result.missing - result.unreadable if result.dry_run else result.updated
    return (
        f"{result.table_name}: {result.scanned} scanned, {result.missing} lacking, {count} {verb}"
    )


def _fill(targets: list[IndexFillTarget], report: UpgradeReport, page_size: int) -> None:
    """Fill each table in turn, its running counts in ``report`` and on a live line (on a
    terminal only: piped output gets the table alone)."""
    console = err()
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        console=console,
        disable=not console.is_terminal,
    )
    with progress:
        for target in targets:
            task = progress.add_task(f"{target.table_name}: scanning")

            def shown(result: IndexFill, task: TaskID = task) -> None:
                if not any(kept is result for kept in report.tables):
                    report.tables.append(result)  # live counts: right even if a call raises
                progress.update(task, description=_describe(result))

            target.fill(dry_run=report.dry_run, page_size=page_size, progress=shown)


@app.command(
    "upgrade",
    epilog="Examples: exec-assistant store upgrade --aws prod --dry-run; "
    "exec-assistant store upgrade --aws prod",
)
def upgrade(
    aws: Annotated[
        str | None,
        typer.Option(
            "--aws",
            metavar="STACK_ENV",
            help="The deployed stack of this environment (its tables by their conventional "
            "names) instead of the configured store.",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be written; write nothing.")
    ] = False,
    page_size: Annotated[
        int, typer.Option(min=1, max=10_000, help="Items per Scan page (default 500).")
    ] = DEFAULT_PAGE_SIZE,
    as_json: JsonFlag = False,
) -> None:
    """Set the index attributes that items written by older versions lack (meetings'
    prep_opens_at, feeds' due/next_check_at), so the calendar monitor sees them. Conditional
    writes: a newer write is never overwritten. Safe to run again; exits 1 on any failure."""
    from exec_assistant.cli.params import store_location

    settings = _settings(aws)
    targets = index_targets(settings)
    location = store_location(settings)
    if targets is None:
        if as_json:
            print_json(UpgradeReport(store="sqlite", location=location, dry_run=dry_run, tables=[]))
        else:
            out().print(f"nothing to do: {location} migrates when opened (and now has)")
        return
    report = UpgradeReport(store="dynamodb", location=location, dry_run=dry_run, tables=[])
    try:
        _fill(targets, report, page_size)
    except ExecAssistantError as exc:
        _report(report, as_json)
        raise type(exc)(
            f"{exc}; what was written stays: run the command again, it writes only what is "
            "still missing",
            code=exc.code,
        ) from exc
    _report(report, as_json)
    unreadable = [k for t in report.tables for k in t.unreadable_keys]
    if any(t.unreadable for t in report.tables):
        count = sum(t.unreadable for t in report.tables)
        raise PermanentError(
            f"{count} item(s) could not be read and were left as they are "
            f"({', '.join(unreadable)}; logged as index_fill.unreadable_item)",
            code="unreadable_items",
        )


def _report(report: UpgradeReport, as_json: bool) -> None:
    if as_json:
        print_json(report)
    else:
        _show(report)
