"""The notification policy's constants and pure decisions (no I/O): quiet hours, which channels
are closed for a key, the time budgets of a walk, and what a ledger record stands for."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from exec_assistant.models import (
    AttemptStatus,
    Channel,
    DeliveryAttempt,
    ErrorClass,
    LedgerRecord,
    LedgerState,
    User,
)
from exec_assistant.notifications.types import NotificationOutcome, NotificationResult

#: Channels that stay silent during the user's quiet hours.
QUIET_HOURS_CHANNELS = frozenset({Channel.SMS})
#: Failure classes after which a channel is never tried again for the same key.
NO_RETRY_CLASSES = frozenset({ErrorClass.PERMANENT, ErrorClass.UNKNOWN})
#: Added to the time left in the invocation to make the claim's lease: a crashed or timed-out
#: invocation's claim expires this long after its deadline, before Lambda's first retry (~60 s).
LEASE_MARGIN_SECONDS = 5.0
#: Kept free after the last request for the ledger writes that finish the cycle.
FINISH_RESERVE_SECONDS = 3.0
#: How old an unknown outcome must be before the provider is asked about it.
SETTLE_SECONDS = 30.0
#: How long an unknown outcome may stay undecided because the provider cannot be asked before
#: it is settled as UNKNOWN and the walk moves on (a possible duplicate, never a lost cycle).
RECONCILE_GIVE_UP_SECONDS = 15 * 60.0


def in_quiet_hours(user: User, now: datetime) -> bool:
    quiet = user.preferences.quiet_hours
    return quiet is not None and quiet.contains(now.astimezone(user.zone).time())


def closed_channels(attempts: Sequence[DeliveryAttempt]) -> set[Channel]:
    """Channels that must not be tried again: delivered, or failed permanent/unknown."""
    return {
        a.channel
        for a in attempts
        if a.status == AttemptStatus.DELIVERED
        or (a.status == AttemptStatus.FAILED and a.error_class in NO_RETRY_CLASSES)
    }


def delivery_fields(attempts: Sequence[DeliveryAttempt]) -> dict[str, Any]:
    """The log fields a cycle's final line carries about its attempts: how many, and each
    failure's channel and error class and code."""
    return {
        "attempts": len(attempts),
        "failures": [
            {"channel": a.channel, "error_class": a.error_class, "error_code": a.error_code}
            for a in attempts
            if a.status == AttemptStatus.FAILED
        ],
    }


def result_from_record(
    record: LedgerRecord,
    *,
    duplicate: bool,
    reason: str = "",
    failed_earlier: Sequence[int] = (),
) -> NotificationResult:
    """The result a finished (or in-progress) ledger record stands for."""
    outcome = {
        LedgerState.DELIVERED: NotificationOutcome.DELIVERED,
        LedgerState.EXHAUSTED: NotificationOutcome.EXHAUSTED,
        LedgerState.RELEASED: NotificationOutcome.RETRYABLE,
        LedgerState.IN_PROGRESS: NotificationOutcome.IN_PROGRESS,
    }[record.state]
    return NotificationResult(
        key=record.key,
        meeting_id=record.meeting_id,
        outcome=outcome,
        delivered_channel=record.delivered_channel,
        attempts=list(record.attempts),
        duplicate=duplicate,
        reason=reason,
        failed_earlier=list(failed_earlier),
        meeting_recorded_at=record.meeting_recorded_at,
        early_receipts=list(record.early_receipts),
    )
