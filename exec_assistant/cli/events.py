"""What ``send-test-event`` and ``replay`` share: the event they send, where, and the display.

Both send the calendar monitor's own MeetingPrepRequired (source
``exec-assistant.calendar-monitor``), either to EventBridge (``--bus NAME``) or through the
embedded runtime (``--local``), where the prep trigger runs in-process and its result is shown.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from exec_assistant.events.base import BusEvent
from exec_assistant.models import DeliveryAttempt, LedgerRecord, LedgerState, Meeting
from exec_assistant.store import Store

if TYPE_CHECKING:
    from exec_assistant.workflows.prep_trigger_handler import TriggerResult


def prep_bus_event(meeting: Meeting, *, cycle: str | None = None) -> BusEvent:
    """The event the calendar monitor publishes for ``meeting``; ``cycle`` starts a new one."""
    from exec_assistant.workflows.calendar_monitor import prep_event

    return prep_event(meeting, cycle=cycle)


def event_json(event: BusEvent, *, bus: str | None) -> dict[str, Any]:
    """The event as EventBridge shows it (``--dry-run``, ``--json``)."""
    return {
        "bus": bus or "local",
        "source": event.source,
        "detail-type": event.detail_type,
        "detail": event.detail,
    }


def new_cycle() -> str:
    """A fresh prep cycle id: a new ledger key, so the meeting may be notified again."""
    return f"replay-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def cycle_of(key: str, meeting_id: str) -> str | None:
    """``mtg#prep`` → None, ``mtg#prep:abc`` → ``abc`` (the inverse of the ledger key)."""
    suffix = key.removeprefix(f"{meeting_id}#prep")
    return suffix.removeprefix(":") or None


def replay_cycle(store: Store, meeting: Meeting, *, force: str | None) -> str | None:
    """Which cycle a replay sends for ``meeting``.

    Delivered → the delivered cycle again (the ledger makes it a no-op); exhausted (every channel
    failed) → a fresh cycle, since an exhausted cycle is final; otherwise the open cycle, which
    the ledger resumes. ``force`` (a fresh cycle id) overrides all of it.
    """
    if force:
        return force
    records: list[LedgerRecord] = [
        r
        for r in store.list_notifications_for_meeting(meeting.meeting_id)
        if r.key.startswith(f"{meeting.meeting_id}#prep")
    ]
    delivered = [r for r in records if r.state == LedgerState.DELIVERED]
    if delivered:
        return cycle_of(delivered[0].key, meeting.meeting_id)
    if records and all(r.state == LedgerState.EXHAUSTED for r in records):
        return new_cycle()
    if records:
        latest = max(records, key=lambda r: r.updated_at)
        return cycle_of(latest.key, meeting.meeting_id)
    return None


def publish_to_bus(bus_name: str, events: list[BusEvent]) -> list[str]:
    from exec_assistant.events.eventbridge import EventBridgeBus

    return EventBridgeBus(bus_name).publish(events)


def attempts_table(key: str, attempts: list[DeliveryAttempt]) -> Table:
    """Each channel attempt of one delivery record: channel, status, error, provider id."""
    table = Table(title=f"delivery record {key}", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("channel")
    table.add_column("status")
    table.add_column("error", overflow="fold")
    table.add_column("provider id", overflow="fold")
    table.add_column("note", ratio=1, overflow="fold")
    colour = {"delivered": "green", "failed": "red", "skipped": "yellow", "started": "magenta"}
    for a in attempts:
        error = f"{a.error_class.value}/{a.error_code or '?'}" if a.error_class else "-"
        table.add_row(
            str(a.seq),
            a.channel.value,
            f"[{colour.get(a.status.value, 'white')}]{a.status.value}[/]",
            error,
            a.provider_id or "-",
            a.reason or "",
        )
    return table


def show_result(console: Console, result: TriggerResult, store: Store) -> None:
    """The trigger's decision, the attempts table and the outcome, for one event."""
    ledger = None
    if result.notification is not None:
        # The stored ledger record is the durable proof; the result is what this call saw.
        ledger = store.get_notification(result.notification.key)
        attempts = ledger.attempts if ledger else result.notification.attempts
        console.print(attempts_table(result.notification.key, attempts))
    colour = {"notified": "green", "duplicate": "cyan", "skipped": "yellow"}.get(
        result.action, "red"
    )
    console.print(
        f"outcome: [{colour}]{result.action}[/] — {result.reason}"
        + (f" (ledger: {ledger.state.value})" if ledger else "")
    )
    meeting = store.get_meeting(result.meeting_id) if result.meeting_id else None
    if meeting is not None:
        console.print(
            f"meeting {meeting.meeting_id}: status {meeting.status.value}, "
            f"notification {meeting.notification_status.value}"
        )
