"""``exec-assistant timeline MEETING_ID [--json]``: each prep cycle of a meeting — when it was
claimed, every channel attempt (provider id, status, error class), how and when the executive
answered — from the delivery ledger."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from exec_assistant.cli.output import out, print_json, when
from exec_assistant.cli.params import JsonFlag, require_meeting, store_session
from exec_assistant.workflows.timeline import Timeline, build_timeline

EPILOG = "Example: exec-assistant timeline mtg-board --json"


def _table(timeline: Timeline) -> Table:
    table = Table(
        title=f"{timeline.title} ({timeline.meeting_id}): {timeline.status.value}",
        title_justify="left",
    )
    for column in ("time", "cycle", "event", "detail"):
        table.add_column(column, overflow="fold")
    for cycle in timeline.cycles:
        name = f"{cycle.kind.value} {cycle.key.rpartition('#')[2]}"
        table.add_row(when(cycle.claimed_at), name, "claimed", cycle.state.value)
        for a in cycle.attempts:
            error = f" {a.error_class.value}/{a.error_code or '?'}" if a.error_class else ""
            detail = f"{a.channel.value} {a.status.value}{error} {a.provider_id or a.reason or ''}"
            table.add_row(when(a.completed_at or a.started_at), name, f"attempt {a.seq}", detail)
        ack = cycle.acknowledgement
        if ack is not None:
            until = f" until {when(ack.remind_at)}" if ack.remind_at else ""
            detail = f"{ack.action.value}{until} from {ack.channel.value}"
            table.add_row(when(ack.at), name, "acknowledged", detail)
    return table


def timeline(
    meeting_id: Annotated[str, typer.Argument(help="The meeting's id.")],
    as_json: JsonFlag = False,
) -> None:
    """Each prep cycle of a meeting: claimed, attempts, acknowledgement, escalations."""
    with store_session() as store:
        meeting = require_meeting(store, meeting_id)
        result = build_timeline(meeting, store.list_notifications_for_meeting(meeting_id))
    if as_json:
        print_json(result)
        return
    console = out()
    console.print(_table(result))
    if not result.cycles:
        console.print("no notification sent yet")
