"""``exec-assistant replay``: re-emit MeetingPrepRequired for chosen meetings (after an outage).

Only meetings whose prep window is open now are sent; the others are listed as ``not due`` (the
window opens later, or the meeting has started). Safe to run twice: a meeting already delivered
gets its delivered cycle again, which the ledger turns into a no-op; a meeting whose cycle was
exhausted gets a fresh cycle, so it is sent again. ``--force`` sends every chosen meeting, due or
not, with a fresh cycle (notify again even if delivered).

``--aws STACK_ENV`` replays against a deployed stack: meetings and ledger come from its DynamoDB
tables (``exec-assistant-{table}-{env}``) and the events go to its bus
(``exec-assistant-bus-{env}``), so the deployed prep trigger and its ledger give the same
guarantees as a local replay.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from pydantic import BaseModel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from exec_assistant.cli.deployed import bus_name, deployed_settings
from exec_assistant.cli.events import (
    new_cycle,
    prep_bus_event,
    publish_to_bus,
    replay_cycle,
)
from exec_assistant.cli.local import LocalRun, cli_logging, local_runtime
from exec_assistant.cli.output import ExitCode, err, out, print_json, when
from exec_assistant.cli.params import JsonFlag, parse_when, store_session
from exec_assistant.cli.selection import STATUS_HELP, select_meetings
from exec_assistant.errors import ExecAssistantError
from exec_assistant.events.base import BusEvent
from exec_assistant.models import Meeting

EPILOG = (
    "Example: exec-assistant replay --status failed --since 2026-11-24T08:00 "
    "--until 2026-11-26 --bus exec-assistant-prod --dry-run"
)

#: Replays look at most this far back and ahead by default (the longest prep window).
DEFAULT_BACK = timedelta(days=1)
DEFAULT_AHEAD = timedelta(days=14)


class ReplayItem(BaseModel):
    meeting_id: str
    user_id: str
    start_time: datetime
    cycle: str | None
    # planned | not due | published | notified | duplicate | skipped | failed | rejected | error
    action: str
    detail: str = ""


class ReplaySummary(BaseModel):
    mode: str
    dry_run: bool
    counts: dict[str, int]
    items: list[ReplayItem]


def replay(  # noqa: PLR0917 - Typer passes options by keyword
    since: Annotated[
        datetime | None,
        typer.Option(parser=parse_when, help="Meetings starting at or after (default -1d)."),
    ] = None,
    until: Annotated[
        datetime | None,
        typer.Option(parser=parse_when, help="Meetings starting before (default +14d)."),
    ] = None,
    status: Annotated[list[str] | None, typer.Option(help=STATUS_HELP)] = None,
    user: Annotated[list[str] | None, typer.Option(help="Owner's user id. Repeatable.")] = None,
    local: Annotated[
        bool, typer.Option(help="Run the events through the embedded runtime.")
    ] = False,
    bus: Annotated[
        str | None, typer.Option(help="Publish to this EventBridge bus (name or ARN).")
    ] = None,
    aws: Annotated[
        str | None,
        typer.Option(
            "--aws",
            metavar="STACK_ENV",
            help="Replay on the deployed stack of this environment (its tables and bus).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option(help="List the meetings and cycles; send nothing.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            help="Send every chosen meeting with a new prep cycle, even one whose prep window "
            "is not open or that was delivered."
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Re-emit MeetingPrepRequired for the meetings matching every filter whose prep window is open.

    Meetings not due (window not open yet, or started) are listed, not sent, unless --force.
    Delivered meetings stay no-ops through the ledger unless --force; meetings whose every
    channel failed get a new cycle and are sent again. Dates: ISO (2026-11-25T09:30), now, +2h.
    """
    targets = sum((local, bus is not None, aws is not None))
    if targets > 1 or (not dry_run and targets == 0):
        raise typer.BadParameter(
            "give exactly one of --local, --bus NAME or --aws STACK_ENV (or --dry-run)"
        )
    settings = None
    if aws is not None:
        settings = deployed_settings(aws)
        bus = bus_name(aws)
    now = datetime.now(UTC)
    start, end = since or now - DEFAULT_BACK, until or now + DEFAULT_AHEAD
    fresh = new_cycle() if force else None
    mode = "local" if local else (f"bus {bus}" if bus else "no target")
    with store_session(settings) as store:
        meetings = select_meetings(
            store, since=start, until=end, users=user or [], statuses=status or []
        )
        due = {m.meeting_id for m in meetings if force or m.in_prep_window(now)}
        plan = [(m, replay_cycle(store, m, force=fresh)) for m in meetings if m.meeting_id in due]
    waiting = [
        _item(m, None, "not due", _not_due(m, now)) for m in meetings if m.meeting_id not in due
    ]
    if dry_run:
        items = [_item(m, cycle, "planned") for m, cycle in plan]
    elif local:
        with cli_logging(), local_runtime(console=sys.stderr if as_json else None) as run:
            items = _run(plan, lambda e: _local(run, e), as_json)
    else:
        items = _run(plan, lambda e: _remote(str(bus), e), as_json)
    items = sorted([*items, *waiting], key=lambda i: (i.start_time, i.meeting_id))
    summary = ReplaySummary(
        mode=mode, dry_run=dry_run, counts=dict(Counter(i.action for i in items)), items=items
    )
    if as_json:
        print_json(summary)
    else:
        _show(summary)
    if any(i.action in ("failed", "error") for i in items):
        raise typer.Exit(int(ExitCode.FAILED))


def _not_due(meeting: Meeting, now: datetime) -> str:
    if meeting.start_time <= now:
        return "meeting has started (--force to send anyway)"
    return f"prep window opens {when(meeting.prep_window_start)} (--force to send now)"


def _item(meeting: Meeting, cycle: str | None, action: str, detail: str = "") -> ReplayItem:
    return ReplayItem(
        meeting_id=meeting.meeting_id,
        user_id=meeting.user_id,
        start_time=meeting.start_time,
        cycle=cycle,
        action=action,
        detail=detail,
    )


#: Sends one event and says what became of it: (action, detail).
Sender = Callable[[BusEvent], tuple[str, str]]


def _local(run: LocalRun, event: BusEvent) -> tuple[str, str]:
    seen = len(run.results)
    run.bus.publish([event])
    result = run.results[seen]
    return result.action, result.reason


def _remote(bus: str, event: BusEvent) -> tuple[str, str]:
    (event_id,) = publish_to_bus(bus, [event])
    return "published", f"event {event_id}"


def _run(plan: list[tuple[Meeting, str | None]], send: Sender, quiet: bool) -> list[ReplayItem]:
    """Send one event per meeting with a progress bar; one failure does not stop the rest."""
    items: list[ReplayItem] = []
    progress = Progress(
        TextColumn("replaying"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err(),
        disable=quiet,
        transient=False,
    )
    with progress:
        task = progress.add_task("replay", total=len(plan))
        for meeting, cycle in plan:
            try:
                action, detail = send(prep_bus_event(meeting, cycle=cycle))
            except ExecAssistantError as exc:
                action, detail = "error", str(exc)
            items.append(_item(meeting, cycle, action, detail))
            progress.advance(task)
    return items


def _show(summary: ReplaySummary) -> None:
    table = Table(title=f"replay ({'dry run, ' if summary.dry_run else ''}{summary.mode})")
    for column in ("meeting", "user", "start", "cycle", "action", "detail"):
        table.add_column(column, overflow="fold")
    colour = {
        "notified": "green",
        "published": "green",
        "duplicate": "cyan",
        "planned": "white",
        "not due": "yellow",
    }
    for i in summary.items:
        table.add_row(
            i.meeting_id,
            i.user_id,
            when(i.start_time),
            i.cycle or "prep",
            f"[{colour.get(i.action, 'red')}]{i.action}[/]",
            i.detail,
        )
    console = out()
    console.print(table)
    counts = ", ".join(f"{n} {action}" for action, n in sorted(summary.counts.items()))
    verb = "would replay" if summary.dry_run else "replayed"
    sent = len(summary.items) - summary.counts.get("not due", 0)
    console.print(f"{verb} {sent} meeting(s){': ' + counts if counts else ''}")
