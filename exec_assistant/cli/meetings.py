"""``exec-assistant meetings add|list|show|cancel|remove|import``: the meetings that need prep."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import BaseModel
from rich.markup import escape
from rich.table import Table

from exec_assistant.cli.output import out, print_json, when
from exec_assistant.cli.params import (
    WHEN_HELP,
    JsonFlag,
    YesFlag,
    confirm_or_refuse,
    parse_duration,
    parse_when,
    require_meeting,
    require_user,
    runtime_session,
    store_session,
)
from exec_assistant.cli.selection import STATUS_HELP, select_meetings
from exec_assistant.errors import RefusedError
from exec_assistant.models import LedgerRecord, Meeting, MeetingSource
from exec_assistant.workflows.brief import Brief

if TYPE_CHECKING:
    from exec_assistant.workflows.removal import MeetingRemoval

app = typer.Typer(
    help="Manage meetings: add one by hand, import a calendar, list, show, cancel or remove them.",
    rich_markup_mode=None,
)

When = Annotated[datetime, typer.Option(parser=parse_when, help=WHEN_HELP)]


def new_meeting_id() -> str:
    return f"mtg-{uuid.uuid4().hex[:20]}"


@app.command(
    "add",
    epilog="Example: exec-assistant meetings add --user usr-ceo --title 'Board prep' "
    "--start 2026-11-27T15:00+00:00 --duration 1h --prep-hours 24",
)
def add(  # noqa: PLR0917 - Typer passes options by keyword
    user: Annotated[str, typer.Option(help="Owner's user id.")],
    title: Annotated[str, typer.Option(help="Meeting title.")],
    start: When,
    end: Annotated[
        datetime | None,
        typer.Option(parser=parse_when, help="End time (default: start + duration)."),
    ] = None,
    duration: Annotated[
        timedelta | None,
        typer.Option(parser=parse_duration, help="Length when --end is not given (default 30m)."),
    ] = None,
    prep_hours: Annotated[
        float, typer.Option(help="Hours before start the prep window opens.")
    ] = 24,
    meeting_type: Annotated[
        str, typer.Option("--type", help="Meeting type (qbr, 1on1…).")
    ] = "general",
    location: Annotated[str, typer.Option(help="Where it takes place.")] = "",
    description: Annotated[str, typer.Option(help="Agenda or notes.")] = "",
    attendee: Annotated[
        list[str] | None, typer.Option(help="Attendee email or name. Repeatable.")
    ] = None,
    meeting_id: Annotated[
        str | None, typer.Option("--id", help="Meeting id (default: new).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Add one meeting by hand (status DISCOVERED)."""
    meeting = Meeting(
        meeting_id=meeting_id or new_meeting_id(),
        user_id=user,
        source=MeetingSource.MANUAL,
        title=title,
        description=description,
        location=location,
        start_time=start,
        end_time=end or start + (duration or timedelta(minutes=30)),
        attendees=attendee or [],
        meeting_type=meeting_type,
        prep_hours_before=prep_hours,
    )
    with store_session() as store:
        require_user(store, user)
        if store.get_meeting(meeting.meeting_id) is not None:
            raise RefusedError(f"meeting {meeting.meeting_id} already exists")
        stored = store.upsert_meeting_calendar(meeting)
    if as_json:
        print_json(stored)
    else:
        out().print(
            f"[green]saved[/] meeting {stored.meeting_id} '{stored.title}' at "
            f"{when(stored.start_time)}; prep window opens {when(stored.prep_window_start)}"
        )


@app.command(
    "list",
    epilog="Example: exec-assistant meetings list --user usr-ceo --status failed --from -1d --json",
)
def list_meetings(
    user: Annotated[list[str] | None, typer.Option(help="Owner's user id. Repeatable.")] = None,
    status: Annotated[list[str] | None, typer.Option(help=STATUS_HELP)] = None,
    start_from: Annotated[
        datetime | None,
        typer.Option("--from", parser=parse_when, help="Starting at or after (default -1d)."),
    ] = None,
    until: Annotated[
        datetime | None, typer.Option(parser=parse_when, help="Starting before (default +30d).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """List meetings by start time (default: from a day ago to 30 days ahead)."""
    with store_session() as store:
        now = datetime.now(UTC)
        meetings = select_meetings(
            store,
            since=start_from or now - timedelta(days=1),
            until=until or now + timedelta(days=30),
            users=user or [],
            statuses=status or [],
        )
    if as_json:
        print_json(meetings)
        return
    table = Table(title=f"{len(meetings)} meeting(s)")
    for column in ("meeting_id", "user", "start", "title", "status", "notification"):
        table.add_column(column, overflow="fold")
    for m in meetings:
        channel = f" via {m.notification_channel.value}" if m.notification_channel else ""
        table.add_row(
            m.meeting_id,
            m.user_id,
            when(m.start_time),
            m.title,
            m.status.value,
            f"{m.notification_status.value}{channel}",
        )
    out().print(table)


class MeetingDetails(BaseModel):
    """What ``meetings show`` shows: the meeting and its delivery records (``--json``)."""

    meeting: Meeting
    notifications: list[LedgerRecord]
    brief: Brief | None = None  # the prep brief, once prep is completed


def _detail_table(meeting: Meeting) -> Table:
    table = Table(title=f"meeting {meeting.meeting_id}", show_header=False, title_justify="left")
    table.add_column("field")
    table.add_column("value", overflow="fold")
    rows = [
        ("title", meeting.title),
        ("owner", meeting.user_id),
        ("start", when(meeting.start_time)),
        ("end", when(meeting.end_time)),
        ("prep window opens", when(meeting.prep_window_start)),
        ("type", meeting.meeting_type),
        ("location", meeting.location or "-"),
        ("attendees", ", ".join(meeting.attendees) or "-"),
        ("source", f"{meeting.source.value} {meeting.external_id or ''}".strip()),
        ("status", meeting.status.value),
        ("notification", meeting.notification_status.value),
    ]
    for field_name, value in rows:
        table.add_row(field_name, value)
    return table


@app.command("show", epilog="Example: exec-assistant meetings show mtg-board --json")
def show(
    meeting_id: Annotated[str, typer.Argument(help="The meeting's id.")],
    as_json: JsonFlag = False,
) -> None:
    """Show one meeting: its details, status, every delivery record with its attempts, and its
    prep brief once prep is completed."""
    from exec_assistant.cli.events import attempts_table
    from exec_assistant.workflows.brief_history import meeting_brief

    with store_session() as store:
        meeting = require_meeting(store, meeting_id)
        details = MeetingDetails(
            meeting=meeting,
            notifications=store.list_notifications_for_meeting(meeting_id),
            brief=meeting_brief(meeting),
        )
    if as_json:
        print_json(details)
        return
    console = out()
    console.print(_detail_table(details.meeting))
    for record in details.notifications:
        console.print(attempts_table(record.key, record.attempts))
        console.print(f"ledger {record.key}: {record.state.value}")
    if not details.notifications:
        console.print("no notification sent yet")
    if details.brief is not None:
        from exec_assistant.workflows.brief import brief_text

        console.print(escape(brief_text(details.brief)))


@app.command("cancel", epilog="Example: exec-assistant meetings cancel mtg-board")
def cancel(
    meeting_id: Annotated[str, typer.Argument(help="The meeting's id.")],
    as_json: JsonFlag = False,
) -> None:
    """Cancel a meeting: nothing more goes out for it.

    Its pending reminders and escalation checks are deleted, its Slack DMs are edited to say it
    was cancelled (buttons removed) and an unfinished prep conversation ends. The meeting stays
    in the store as CANCELLED. A completed meeting cannot be cancelled (exit 2); cancelling
    twice changes nothing."""
    from exec_assistant.workflows.removal import cancel_meeting

    with runtime_session() as runtime:
        result = cancel_meeting(runtime, meeting_id)
    if as_json:
        print_json(result)
        return
    if result.cancelled:
        out().print(f"[green]cancelled[/] meeting {meeting_id} '{escape(result.title)}'")
    else:
        out().print(f"meeting {meeting_id} was already cancelled")
    _report_dropped(result)


@app.command("remove", epilog="Example: exec-assistant meetings remove mtg-board --yes")
def remove(
    meeting_id: Annotated[str, typer.Argument(help="The meeting's id.")],
    yes: YesFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Remove a meeting from the store, after dropping its work as 'cancel' does.

    Its notification history stays in the ledger ('exec-assistant timeline'). A meeting still
    in a calendar feed comes back on the feed's next import: cancel it in the calendar instead.
    Asks for confirmation on a terminal; elsewhere pass --yes."""
    from exec_assistant.workflows.removal import remove_meeting

    with store_session() as store:
        meeting = require_meeting(store, meeting_id)
    confirm_or_refuse(
        f"Remove meeting {meeting_id} '{meeting.title}' ({when(meeting.start_time)})?", yes=yes
    )
    with runtime_session() as runtime:
        result = remove_meeting(runtime, meeting_id)
    if as_json:
        print_json(result)
        return
    out().print(f"[green]removed[/] meeting {meeting_id} '{escape(result.title)}'")
    _report_dropped(result)


def _report_dropped(result: MeetingRemoval) -> None:
    console = out()
    if result.schedules_deleted:
        console.print(f"deleted {len(result.schedules_deleted)} pending reminder(s)/escalation(s)")
    if result.messages_edited:
        console.print(f"edited {len(result.messages_edited)} Slack message(s) to say so")
    if result.conversation_ended:
        console.print("ended the unfinished prep conversation")


@app.command(
    "import",
    epilog="Example: exec-assistant meetings import https://calendar.example.com/ceo.ics "
    "--user usr-ceo --from 2026-11-25 --until 2026-12-09",
)
def import_calendar(
    source: Annotated[str, typer.Argument(help="An .ics file, or an https:// (webcal://) feed.")],
    user: Annotated[str, typer.Option(help="Owner's user id.")],
    start_from: Annotated[
        datetime | None,
        typer.Option("--from", parser=parse_when, help="Import from (default now)."),
    ] = None,
    until: Annotated[
        datetime | None, typer.Option(parser=parse_when, help="Import until (default +14d).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Import a calendar's meetings (recurrences expanded); re-import updates, never duplicates.

    Meetings gone from the calendar inside the range are cancelled; moved and cancelled
    meetings have their pending reminders re-timed or deleted and their Slack DMs edited."""
    from exec_assistant.workflows.calendar_changes import apply_calendar_changes
    from exec_assistant.workflows.feeds import feed_store
    from exec_assistant.workflows.ics_import import DEFAULT_WINDOW, import_ics
    from exec_assistant.workflows.ics_source import redact_source
    from exec_assistant.workflows.meeting_types import load_meeting_types

    now = datetime.now(UTC)
    start = start_from or now
    end = until or start + DEFAULT_WINDOW
    if end <= start:
        raise typer.BadParameter("--until must be after --from")
    if "://" not in source and not Path(source).expanduser().is_file():
        raise typer.BadParameter(f"no calendar file {source}", param_hint="'SOURCE'")
    with runtime_session() as runtime:
        require_user(runtime.store, user)
        types = load_meeting_types(runtime.settings.meeting_types_file)
        series = feed_store(runtime)  # remembers the series: a re-import skips unchanged ones
        try:
            report = import_ics(
                runtime.store,
                user,
                source,
                now=now,
                start=start,
                window=end - start,
                rules=types.import_rules,
                series=series,
            )
        finally:
            series.close()
        apply_calendar_changes(runtime, report)
    if as_json:
        print_json(report)
        return
    console = out()
    console.print(
        f"imported {redact_source(source)} for {user} ({when(start)} → {when(end)}): "
        f"[green]{len(report.created)} created[/], {len(report.updated)} updated "
        f"({len(report.moved)} moved), {report.unchanged} unchanged, "
        f"{len(report.cancelled) + len(report.deleted)} cancelled "
        f"({len(report.deleted)} gone from the calendar), "
        f"[yellow]{len(report.skipped)} skipped[/]"
    )
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    if report.skipped:
        table = Table(title="skipped")
        for column in ("uid", "summary", "start", "reason"):
            table.add_column(column, overflow="fold")
        for s in report.skipped:
            table.add_row(s.uid or "-", s.summary or "-", s.start or "-", s.reason)
        console.print(table)
