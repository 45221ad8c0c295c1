"""A meeting's notification timeline, from its ledger records: what went out, how, what the
providers said of it afterwards (each attempt's delivery receipt), what the executive did, and
the follow-ups still pending on the scheduler (escalation checks, reminders). Built from the
records and the scheduler's pending list alone (no provider is asked), so the CLI's
``timeline`` and the App Home's "last notification" line show the same thing.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from exec_assistant.events.base import Scheduler
from exec_assistant.models import (
    Acknowledgement,
    Channel,
    DeliveryAttempt,
    LedgerRecord,
    LedgerState,
    Meeting,
    MeetingStatus,
)
from exec_assistant.workflows.reminders import meeting_schedule_prefixes


class CycleKind(StrEnum):
    PREP = "prep"  # the first notification (or a replay of it)
    REMINDER = "reminder"  # Remind Later
    ESCALATION = "escalation"  # delivered but not acted on: the next channel
    RECEIPT = "receipt"  # a delivery receipt said it failed: the channels after it, at once


class CycleEntry(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    key: str
    kind: CycleKind
    claimed_at: datetime
    state: LedgerState
    delivered_channel: Channel | None
    attempts: list[DeliveryAttempt]
    acknowledgement: Acknowledgement | None


class PendingEntry(BaseModel):
    """A follow-up the scheduler still holds for the meeting."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    name: str
    kind: CycleKind  # ESCALATION (the "not acted on" check) or REMINDER (Remind Later)
    fire_at: datetime


class Timeline(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    meeting_id: str
    title: str
    status: MeetingStatus
    cycles: list[CycleEntry]
    #: Escalation checks and reminders not yet fired, soonest first.
    pending: list[PendingEntry] = []


def cycle_kind(meeting_id: str, key: str) -> CycleKind:
    cycle = key.removeprefix(f"{meeting_id}#")
    if "#receipt:" in cycle:
        return CycleKind.RECEIPT
    if not cycle.startswith("reminder:"):
        return CycleKind.PREP
    reminder_id = cycle.removeprefix("reminder:")
    escalation_prefix = meeting_schedule_prefixes(meeting_id)[1]
    return CycleKind.ESCALATION if reminder_id.startswith(escalation_prefix) else CycleKind.REMINDER


def pending_follow_ups(scheduler: Scheduler, meeting_id: str) -> list[PendingEntry]:
    """The meeting's escalation checks and reminders not yet fired, soonest first."""
    reminders, escalations = meeting_schedule_prefixes(meeting_id)
    entries = [
        PendingEntry(name=item.name, kind=kind, fire_at=item.fire_at)
        for prefix, kind in ((reminders, CycleKind.REMINDER), (escalations, CycleKind.ESCALATION))
        for item in scheduler.pending(prefix)
    ]
    return sorted(entries, key=lambda e: (e.fire_at, e.name))


def build_timeline(
    meeting: Meeting, records: list[LedgerRecord], pending: list[PendingEntry] | None = None
) -> Timeline:
    """The meeting's cycles, oldest first, and its pending follow-ups."""
    cycles = [
        CycleEntry(
            key=record.key,
            kind=cycle_kind(meeting.meeting_id, record.key),
            claimed_at=record.created_at,
            state=record.state,
            delivered_channel=record.delivered_channel,
            attempts=record.attempts,
            acknowledgement=record.acknowledgement,
        )
        for record in sorted(records, key=lambda r: (r.created_at, r.key))
    ]
    return Timeline(
        meeting_id=meeting.meeting_id,
        title=meeting.title,
        status=meeting.status,
        cycles=cycles,
        pending=pending or [],
    )
