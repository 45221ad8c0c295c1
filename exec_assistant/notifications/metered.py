"""The notification metrics, counted from each :class:`NotificationResult` of the service.

Counted once per cycle: a result with ``duplicate=True`` (a retried or duplicated event finding
the cycle claimed or done) emits nothing, and a failed attempt is counted by the call that saw it
fail (a retry that takes a released or crashed claim over skips ``failed_earlier``), so EMF
figures match the ledger, not the number of invocations. Per result:

* ``NotificationDelivered`` (channel) and, for an escalation, ``EscalationDelivered`` (channel);
  for the cycle's first (initial) notification, ``PrepWindowToDelivery``: seconds from the
  meeting's prep window opening to the delivering attempt's completion;
* ``NotificationExhausted`` (no channel: every channel failed or was skipped);
* ``DeliveryAttemptFailed`` (channel) for each attempt this call saw fail, with its error class.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from exec_assistant import metrics
from exec_assistant.logs import log_event
from exec_assistant.models import AttemptStatus, Channel, Meeting, User
from exec_assistant.notifications.service import NotificationService
from exec_assistant.notifications.types import (
    NotificationKind,
    NotificationOutcome,
    NotificationResult,
)
from exec_assistant.store.base import MeetingMark

logger = logging.getLogger(__name__)


class MeteredNotificationService(NotificationService):
    """The notification service, emitting the metrics of what each ``notify`` did (see the
    module docstring); the runtime builds this one."""

    def notify(
        self,
        meeting: Meeting,
        user: User,
        *,
        key: str,
        kind: NotificationKind = NotificationKind.INITIAL,
        channel_order: Sequence[Channel] | None = None,
        deadline: datetime | None = None,
        log_delivery: bool = True,
        meeting_mark: MeetingMark | None = None,
    ) -> NotificationResult:
        result = super().notify(
            meeting,
            user,
            key=key,
            kind=kind,
            channel_order=channel_order,
            deadline=deadline,
            log_delivery=log_delivery,
            meeting_mark=meeting_mark,
        )
        if not result.duplicate:
            record_result(meeting, kind, result)
        return result


def record_result(meeting: Meeting, kind: NotificationKind, result: NotificationResult) -> None:
    """Emit the metrics of one first-hand notification result."""
    ids: dict[str, Any] = {"meeting_id": meeting.meeting_id, "key": result.key}
    earlier = set(result.failed_earlier)  # counted by the call that saw them fail
    for attempt in result.attempts:
        if (
            attempt.status == AttemptStatus.FAILED
            and attempt.completed_at is not None
            and attempt.seq not in earlier
        ):
            metrics.emit(
                metrics.Metric.DELIVERY_ATTEMPT_FAILED,
                channel=attempt.channel.value,
                attempt=attempt.seq,
                error_class=attempt.error_class.value if attempt.error_class else None,
                error_code=attempt.error_code,
                **ids,
            )
    if result.outcome == NotificationOutcome.EXHAUSTED:
        metrics.emit(metrics.Metric.NOTIFICATION_EXHAUSTED, **ids)
        return
    if result.outcome != NotificationOutcome.DELIVERED or result.delivered_channel is None:
        return
    channel = result.delivered_channel.value
    metrics.emit(metrics.Metric.NOTIFICATION_DELIVERED, channel=channel, kind=kind.value, **ids)
    if kind == NotificationKind.ESCALATION:
        metrics.emit(metrics.Metric.ESCALATION_DELIVERED, channel=channel, **ids)
    if kind != NotificationKind.INITIAL:
        return
    delivered = next(
        (a for a in reversed(result.attempts) if a.status == AttemptStatus.DELIVERED), None
    )
    at = delivered.completed_at or delivered.started_at if delivered is not None else None
    if at is None:
        log_event(logger, logging.WARNING, "metrics.no_delivery_time", **ids, channel=channel)
        return
    seconds = max(0.0, (at - meeting.prep_window_start).total_seconds())
    metrics.emit(
        metrics.Metric.PREP_WINDOW_TO_DELIVERY,
        seconds,
        metrics.Unit.SECONDS,
        channel=channel,
        **ids,
    )
