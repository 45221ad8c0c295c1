"""``exec-assistant timeline MEETING_ID [--json]``: each prep cycle of a meeting — when it was
claimed, every channel attempt (provider id, status, error class), its delivery receipt (status,
error code, when), how and when the executive answered — from the delivery ledger, and the
escalation checks and reminders still pending on the scheduler."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from exec_assistant.cli.output import out, print_json, when
from exec_assistant.cli.params import JsonFlag, require_meeting
from exec_assistant.workflows.timeline import Timeline, build_timeline, pending_follow_ups

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
            r = a.receipt
            if r is not None:
                error = f" {r.error_class.value}/{r.error_code or '?'}" if r.error_class else ""
                detail = f"{a.channel.value} {r.status.value} ({r.provider_status}){error}"
                table.add_row(when(r.at), name, f"receipt {a.seq}", detail)
        ack = cycle.acknowledgement
        if ack is not None:
            until = f" until {when(ack.remind_at)}" if ack.remind_at else ""
            detail = f"{ack.action.value}{until} from {ack.channel.value}"
            table.add_row(when(ack.at), name, "acknowledged", detail)
    for item in timeline.pending:
        table.add_row(when(item.fire_at), item.kind.value, "pending", item.name)
    return table


def timeline(
    meeting_id: Annotated[str, typer.Argument(help="The meeting's id.")],
    as_json: JsonFlag = False,
) -> None:
    """Each prep cycle of a meeting: claimed, attempts, receipts, acknowledgement, and the
    escalations and reminders still pending."""
    from exec_assistant.runtime import build_runtime

    runtime = build_runtime()
    try:
        meeting = require_meeting(runtime.store, meeting_id)
        result = build_timeline(
            meeting,
            runtime.store.list_notifications_for_meeting(meeting_id),
            pending_follow_ups(runtime.scheduler, meeting_id),
        )
    finally:
        runtime.close()
    if as_json:
        print_json(result)
        return
    console = out()
    console.print(_table(result))
    if not result.cycles:
        console.print("no notification sent yet")
