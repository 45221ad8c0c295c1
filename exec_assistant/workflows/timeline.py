"""A meeting's notification timeline, from its ledger records: what went out, how, and what the
executive did. Built from the records alone (no provider is asked), so the CLI's ``timeline``
and any other view show the same thing.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

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
    model_config = ConfigDict(frozen=True)

    key: str
    kind: CycleKind
    claimed_at: datetime
    state: LedgerState
    delivered_channel: Channel | None
    attempts: list[DeliveryAttempt]
    acknowledgement: Acknowledgement | None


class Timeline(BaseModel):
    model_config = ConfigDict(frozen=True)

    meeting_id: str
    title: str
    status: MeetingStatus
    cycles: list[CycleEntry]


def cycle_kind(meeting_id: str, key: str) -> CycleKind:
    cycle = key.removeprefix(f"{meeting_id}#")
    if "#receipt:" in cycle:
        return CycleKind.RECEIPT
    if not cycle.startswith("reminder:"):
        return CycleKind.PREP
    reminder_id = cycle.removeprefix("reminder:")
    escalation_prefix = meeting_schedule_prefixes(meeting_id)[1]
    return CycleKind.ESCALATION if reminder_id.startswith(escalation_prefix) else CycleKind.REMINDER


def build_timeline(meeting: Meeting, records: list[LedgerRecord]) -> Timeline:
    """The meeting's cycles, oldest first."""
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
        meeting_id=meeting.meeting_id, title=meeting.title, status=meeting.status, cycles=cycles
    )
