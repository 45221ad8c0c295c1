"""``exec-assistant send-test-event``: one MeetingPrepRequired, to EventBridge or run locally."""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from exec_assistant.cli.events import (
    event_json,
    new_cycle,
    prep_bus_event,
    publish_to_bus,
    show_result,
)
from exec_assistant.cli.local import cli_logging, local_runtime
from exec_assistant.cli.output import ExitCode, err, out, print_json
from exec_assistant.cli.params import JsonFlag, require_meeting, store_session
from exec_assistant.models import Meeting, MeetingSource, User

SAMPLE_USER_ID = "usr-sample"

EPILOG = (
    "Examples: exec-assistant send-test-event --local --sample  |  "
    "exec-assistant send-test-event --meeting-id mtg-board --bus exec-assistant-dev  |  "
    "exec-assistant send-test-event --sample --dry-run"
)


def sample_records(now: datetime) -> tuple[User, Meeting]:
    """A sample executive and a meeting two hours ahead, so its prep window is open now."""
    user = User(user_id=SAMPLE_USER_ID, name="Sample Executive", timezone="UTC")
    start = (now + timedelta(hours=2)).replace(second=0, microsecond=0)
    meeting = Meeting(
        meeting_id=f"mtg-sample-{uuid.uuid4().hex[:8]}",
        user_id=user.user_id,
        source=MeetingSource.MANUAL,
        title="Quarterly business review (sample)",
        description="Agenda: results, pipeline, hiring plan.",
        location="Board room",
        start_time=start,
        end_time=start + timedelta(hours=1),
        attendees=["cfo@example.com", "vp-sales@example.com"],
        meeting_type="qbr",
        prep_hours_before=24,
    )
    return user, meeting


def send_test_event(  # noqa: PLR0917 - Typer passes options by keyword
    meeting_id: Annotated[
        str | None, typer.Option(help="Send the event for this stored meeting.")
    ] = None,
    sample: Annotated[
        bool, typer.Option(help="Create a sample user and a meeting starting in 2 hours.")
    ] = False,
    local: Annotated[
        bool, typer.Option(help="Run it through the embedded runtime and show what happened.")
    ] = False,
    bus: Annotated[
        str | None, typer.Option(help="Publish to this EventBridge bus (name or ARN).")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Print the event JSON; send nothing.")] = False,
    force: Annotated[
        bool, typer.Option(help="Start a new prep cycle (notify again even if delivered).")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Send one MeetingPrepRequired event, the one the calendar monitor sends.

    With --local the prep trigger runs in this process: the console channel prints the
    notification (when no provider is configured), then the delivery record is shown.
    """
    if (meeting_id is None) == (not sample):
        raise typer.BadParameter("give exactly one of --meeting-id or --sample")
    if not dry_run and local == (bus is not None):
        raise typer.BadParameter("give exactly one of --local or --bus NAME (or --dry-run)")
    cycle = new_cycle() if force else None
    if dry_run:
        meeting = sample_records(datetime.now(UTC))[1] if sample else _stored(str(meeting_id))
        print_json(event_json(prep_bus_event(meeting, cycle=cycle), bus=bus))
        return
    if bus is not None:
        meeting = _sample_saved() if sample else _stored(str(meeting_id))
        event = prep_bus_event(meeting, cycle=cycle)
        (event_id,) = publish_to_bus(bus, [event])
        if as_json:
            print_json({"event_id": event_id, "event": event_json(event, bus=bus)})
        else:
            out().print(
                f"[green]published[/] MeetingPrepRequired {event_id} for meeting "
                f"{meeting.meeting_id} to EventBridge bus {bus}"
            )
        return
    _run_local(meeting_id, sample=sample, cycle=cycle, as_json=as_json)


def _stored(meeting_id: str) -> Meeting:
    with store_session() as store:
        return require_meeting(store, meeting_id)


def _sample_saved() -> Meeting:
    user, meeting = sample_records(datetime.now(UTC))
    with store_session() as store:
        store.put_user(user)
        return store.upsert_meeting_calendar(meeting)


def _run_local(meeting_id: str | None, *, sample: bool, cycle: str | None, as_json: bool) -> None:
    # With --json, stdout carries only the JSON document: the console channel goes to stderr.
    with cli_logging(), local_runtime(console=sys.stderr if as_json else None) as run:
        store = run.runtime.store
        if sample:
            user, meeting = sample_records(run.runtime.clock())
            store.put_user(user)
            meeting = store.upsert_meeting_calendar(meeting)
        else:
            meeting = require_meeting(store, str(meeting_id))
        event = prep_bus_event(meeting, cycle=cycle)
        if not as_json:
            err().print(
                f"publishing MeetingPrepRequired for meeting {meeting.meeting_id} "
                f"({meeting.title}) on the local bus"
            )
        run.bus.publish([event])
        (result,) = run.results
        if as_json:
            ledger = (
                store.get_notification(result.notification.key) if result.notification else None
            )
            print_json({"event": event_json(event, bus=None), "result": result, "ledger": ledger})
        else:
            show_result(out(), result, store)
    if result.action not in ("notified", "duplicate"):
        raise typer.Exit(int(ExitCode.FAILED))
