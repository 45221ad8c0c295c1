"""Reminders (Remind Later) and escalation checks: one-time events back to the prep trigger.

A reminder and an escalation are each their own prep cycle (``MeetingPrepRequired.reminder_id``),
so each notifies at most once (the ledger key is meeting + cycle). Schedule names are derived, not
stored: the reminder's from meeting + reminder id, the escalation's from the ledger key of the
delivery it follows up. That makes scheduling idempotent and lets :func:`cancel_escalation` find
every escalation of a meeting from the ledger alone.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import datetime, time, timedelta

from pydantic import BaseModel, ConfigDict

from exec_assistant.components import Runtime
from exec_assistant.errors import PermanentError
from exec_assistant.events.base import BusEvent, ScheduledEvent
from exec_assistant.logs import log_event
from exec_assistant.models import (
    PREP_EVENT_DETAIL_TYPE,
    REMINDER_EVENT_SOURCE,
    LedgerState,
    Meeting,
    User,
)

logger = logging.getLogger(__name__)

#: Offsets offered by Remind Later, before "tomorrow morning".
REMINDER_OFFSETS: tuple[tuple[str, str, timedelta], ...] = (
    ("15m", "In 15 minutes", timedelta(minutes=15)),
    ("1h", "In 1 hour", timedelta(hours=1)),
    ("3h", "In 3 hours", timedelta(hours=3)),
)
TOMORROW_MORNING = time(8, 0)


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def meeting_schedule_prefixes(meeting_id: str) -> tuple[str, str]:
    """The name prefixes of a meeting's pending reminders and escalation checks: a re-timed or
    cancelled meeting finds its pending work with ``Scheduler.pending(prefix)``."""
    tag = _digest(meeting_id, 16)
    return f"rem-{tag}-", f"esc-{tag}-"


def escalation_reminder_id(meeting_id: str, key: str) -> str:
    """Reminder id (and schedule name) of the escalation check after delivery of ``key``."""
    return f"{meeting_schedule_prefixes(meeting_id)[1]}{_digest(key, 24)}"


def reminder_schedule_name(meeting_id: str, reminder_id: str) -> str:
    """Schedule name of a reminder: at most 64 characters, same inputs give the same name."""
    return f"{meeting_schedule_prefixes(meeting_id)[0]}{_digest(f'{meeting_id}#{reminder_id}', 24)}"


def _prep_event(meeting: Meeting, **extra: object) -> BusEvent:
    return BusEvent(
        source=REMINDER_EVENT_SOURCE,
        detail_type=PREP_EVENT_DETAIL_TYPE,
        detail={"meeting_id": meeting.meeting_id, "user_id": meeting.user_id, **extra},
    )


class ReminderChoice(BaseModel):
    """One Remind Later option: ``key`` is stable (``15m``, ``1h``, ``3h``, ``tomorrow``)."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    key: str
    label: str
    fire_at: datetime


def reminder_choices(now: datetime, meeting: Meeting, user: User) -> list[ReminderChoice]:
    """The Remind Later options that still come before the meeting starts."""
    choices = [
        ReminderChoice(key=key, label=label, fire_at=now + offset)
        for key, label, offset in REMINDER_OFFSETS
    ]
    local_tomorrow = now.astimezone(user.zone).date() + timedelta(days=1)
    morning = datetime.combine(local_tomorrow, TOMORROW_MORNING, tzinfo=user.zone)
    choices.append(
        ReminderChoice(
            key="tomorrow",
            label=f"Tomorrow at {TOMORROW_MORNING:%H:%M} ({user.timezone})",
            fire_at=morning,
        )
    )
    return [c for c in choices if now < c.fire_at < meeting.start_time]


def schedule_reminder(
    runtime: Runtime,
    meeting: Meeting,
    user: User,
    fire_at: datetime,
    *,
    reminder_id: str | None = None,
) -> ScheduledEvent:
    """Schedule a reminder cycle for ``meeting`` at ``fire_at`` (idempotent per reminder id).

    Raises :class:`PermanentError` for a time not strictly between now and the meeting start,
    or a user who does not own the meeting.
    """
    if fire_at.tzinfo is None:
        raise PermanentError("fire_at must be timezone-aware", code="naive_datetime")
    if meeting.user_id != user.user_id:
        raise PermanentError(
            f"user {user.user_id} does not own meeting {meeting.meeting_id}", code="not_owner"
        )
    if fire_at >= meeting.start_time:
        raise PermanentError(
            f"a reminder at {fire_at.isoformat()} would come after meeting "
            f"{meeting.meeting_id} starts",
            code="after_meeting_start",
        )
    if fire_at <= runtime.clock():
        raise PermanentError("a reminder must be in the future", code="in_the_past")
    reminder_id = reminder_id or f"rem-{uuid.uuid4().hex[:16]}"
    item = ScheduledEvent(
        name=reminder_schedule_name(meeting.meeting_id, reminder_id),
        fire_at=fire_at,
        event=_prep_event(meeting, reminder_id=reminder_id),
    )
    runtime.scheduler.schedule(item)
    log_event(
        logger,
        logging.INFO,
        "reminder.scheduled",
        meeting_id=meeting.meeting_id,
        reminder_id=reminder_id,
        schedule=item.name,
        fire_at=fire_at.isoformat(),
    )
    return item


def schedule_escalation(
    runtime: Runtime, meeting_id: str, user: User, *, key: str
) -> ScheduledEvent | None:
    """Schedule the "delivered but not acted on" check after the delivery of ledger ``key``.

    The plan comes from the notification service's escalation policy, on the meeting as stored
    now: nothing is scheduled when the user already acted, no channel is left to escalate to,
    or the check would come at or after the meeting's start.
    """
    from exec_assistant.notifications.escalation import (
        escalation_targets,
        plan_escalation,
        records_for_decision,
    )

    if not escalation_targets(user, runtime.configured_channels):
        # Decided by the user and the deployment alone: no store reads on the hot path.
        log_event(
            logger,
            logging.INFO,
            "escalation.none",
            meeting_id=meeting_id,
            reason="no configured channel after the first that the user can be reached on",
        )
        return None
    meeting = runtime.store.get_meeting(meeting_id)
    if meeting is None:
        return None
    records = records_for_decision(runtime.store, meeting_id, [key])
    plan = plan_escalation(meeting, user, records, runtime.configured_channels, runtime.clock())
    if not plan.escalate or plan.due_at is None:
        log_event(
            logger, logging.INFO, "escalation.none", meeting_id=meeting_id, reason=plan.reason
        )
        return None
    reminder_id = escalation_reminder_id(meeting_id, key)
    item = ScheduledEvent(
        name=reminder_id,
        fire_at=plan.due_at,
        event=_prep_event(meeting, reminder_id=reminder_id, escalation=True, source_key=key),
    )
    runtime.scheduler.schedule(item)
    log_event(
        logger,
        logging.INFO,
        "escalation.scheduled",
        meeting_id=meeting_id,
        key=key,
        schedule=item.name,
        fire_at=plan.due_at.isoformat(),
        channels=[c.value for c in plan.channel_order],
    )
    return item


def cancel_escalation(runtime: Runtime, meeting: Meeting) -> None:
    """Cancel every pending escalation check of ``meeting`` (the user clicked a button).

    The names come from the meeting's delivered ledger records; cancelling one that already
    fired or never existed is a no-op.
    """
    records = runtime.store.list_notifications_for_meeting(meeting.meeting_id)
    names = [
        escalation_reminder_id(meeting.meeting_id, r.key)
        for r in records
        if r.state == LedgerState.DELIVERED
    ]
    cancelled = [name for name in names if runtime.scheduler.cancel(name)]
    log_event(
        logger,
        logging.INFO,
        "escalation.cancelled",
        meeting_id=meeting.meeting_id,
        cancelled=cancelled,
    )
