"""Escalation: delivered is not seen. The decision of what to send next, and when.

If the user neither presses Start Prep nor Remind Later (the meeting is still PREP_SCHEDULED)
within ``preferences.escalation_delay_minutes`` of the last delivery, the channels *after* the one
that delivered (in the user's order, configured and reachable) get their turn. Never at or after
the meeting's start. This module only decides; the workflow schedules the escalation and calls
``NotificationService.notify(..., kind=ESCALATION, channel_order=plan.channel_order)``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from exec_assistant.models import (
    AttemptStatus,
    AwareDatetime,
    Channel,
    DeliveryAttempt,
    LedgerRecord,
    LedgerState,
    Meeting,
    MeetingStatus,
    User,
)
from exec_assistant.store.base import Store

#: Why nothing can be escalated when :func:`escalation_targets` is empty.
NO_ESCALATION_TARGETS = "no configured channel after the first that the user can be reached on"


class EscalationPlan(BaseModel):
    """``due_at`` None means: do not escalate (``reason`` says why)."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    due_at: AwareDatetime | None
    channel_order: list[Channel]
    reason: str

    @property
    def escalate(self) -> bool:
        return self.due_at is not None and bool(self.channel_order)


def user_reachable(user: User, channel: Channel) -> bool:
    """Whether the user has the address a channel needs."""
    return {
        Channel.SLACK: user.slack_user_id is not None,
        Channel.SMS: user.phone is not None,
        Channel.EMAIL: user.email is not None,
        Channel.CONSOLE: True,
    }[channel]


def escalation_targets(user: User, configured: Collection[Channel]) -> list[Channel]:
    """Every channel an escalation could ever go to: configured, reachable, and not the user's
    first choice (an escalation only goes to channels *after* the one that delivered).

    Empty means :func:`plan_escalation` never escalates, whatever the ledger says, so callers
    may skip reading it.
    """
    return [
        c for c in user.preferences.channel_order[1:] if c in configured and user_reachable(user, c)
    ]


def escalation_due_at(meeting: Meeting, user: User, delivered_at: datetime) -> datetime | None:
    """``delivered_at`` + the user's escalation delay, or None if that is not before the start."""
    due = delivered_at + timedelta(minutes=user.preferences.escalation_delay_minutes)
    return due if due < meeting.start_time else None


def _last_delivery(records: Sequence[LedgerRecord]) -> DeliveryAttempt | None:
    deliveries = [
        attempt
        for record in records
        if record.state == LedgerState.DELIVERED
        for attempt in record.attempts
        if attempt.status == AttemptStatus.DELIVERED
    ]
    return max(deliveries, key=lambda a: a.completed_at or a.started_at, default=None)


def plan_escalation(
    meeting: Meeting,
    user: User,
    records: Sequence[LedgerRecord],
    configured: Collection[Channel],
    now: datetime,
) -> EscalationPlan:
    """What to escalate to, and when, given the meeting's ledger records (all cycles)."""

    def nothing(reason: str) -> EscalationPlan:
        return EscalationPlan(due_at=None, channel_order=[], reason=reason)

    if meeting.status != MeetingStatus.PREP_SCHEDULED:
        return nothing(f"meeting is {meeting.status.value}: the user acted or it moved on")
    if now >= meeting.start_time:
        return nothing("the meeting has started")
    delivered = _last_delivery(records)
    if delivered is None:
        return nothing("nothing has been delivered yet")
    order = list(user.preferences.channel_order)
    used = {
        a.channel
        for r in records
        for a in r.attempts
        if a.status == AttemptStatus.DELIVERED and r.state == LedgerState.DELIVERED
    }
    after = order[order.index(delivered.channel) + 1 :] if delivered.channel in order else []
    later = [c for c in after if c in configured and c not in used and user_reachable(user, c)]
    if not later:
        return nothing(f"no channel after {delivered.channel.value} to escalate to")
    due = escalation_due_at(meeting, user, delivered.completed_at or delivered.started_at)
    if due is None:
        return nothing("the escalation delay ends at or after the meeting's start")
    return EscalationPlan(
        due_at=max(due, now),
        channel_order=later,
        reason=f"no response {user.preferences.escalation_delay_minutes} min after "
        f"{delivered.channel.value} delivered",
    )


def records_for_decision(
    store: Store, meeting_id: str, consistent_keys: Collection[str]
) -> list[LedgerRecord]:
    """The meeting's ledger records for :func:`plan_escalation`, the ones that decide read by key.

    Listing a meeting's records goes through a GSI, which is eventually consistent: right after a
    delivery it may not show it yet. The records named by ``consistent_keys`` (the delivery an
    escalation follows, the cycle being decided) are read from the base table, strongly
    consistently, and replace whatever the listing returned for them.
    """
    exact = {key: store.get_notification(key) for key in consistent_keys}
    listed = [r for r in store.list_notifications_for_meeting(meeting_id) if r.key not in exact]
    return [*listed, *(r for r in exact.values() if r is not None)]
