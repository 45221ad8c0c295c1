"""The notification policy: claim the key, settle what is unknown, walk the channels, finish.

Exactly once per key (DESIGN.md "Delivery semantics"; the README states the guarantee):

1. ``claim_notification`` is a conditional write with an owner token unique to this call and a
   lease bounded by the caller's deadline (the Lambda invocation's), so a retry after a crash or
   a timeout finds it expired. DONE → the stored result (``duplicate=True``), no provider is
   contacted; BUSY → ``IN_PROGRESS``: nothing is sent and the caller must retry later.
2. An attempt is recorded STARTED *immediately before* its provider request (the channel calls
   back once secrets, clients and rendering are ready), and completed after it. Whatever fails
   before that leaves the channel untried. STARTED therefore means "the request may have left".
3. An outcome that is unknown — a STARTED attempt found on a recovered claim, or a send that
   failed after its request left — is *reconciled* with the provider where it can be asked
   (Slack: message metadata in the DM's history; Twilio: the Messages list): found → DELIVERED
   with the provider's id, no resend; not found → that channel may be tried again. An outcome
   younger than :data:`SETTLE_SECONDS` is not asked yet (the request may still be in flight):
   the claim is released for a later retry. Where the provider cannot be asked (SES, the
   console), or it cannot answer for :data:`RECONCILE_GIVE_UP_SECONDS`, the attempt is UNKNOWN:
   never resent on that channel, and the walk goes on to the next one.
4. Transient failure (after the SDK's own bounded retries) → next channel; permanent → next
   channel at once.
5. The walk fits the deadline: before each request the remaining time is compared with that
   channel's worst case; if it does not fit, the claim is released (RETRYABLE) instead of the
   process being killed mid-send.
6. Finish: DELIVERED; or RELEASED (RETRYABLE) when nothing was delivered and a channel failed
   transiently or an outcome is still to be settled; otherwise EXHAUSTED (logged as an error).
   Any other failure on the way (the store) releases the claim when it can and propagates.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from exec_assistant.errors import LeaseLostError
from exec_assistant.logs import log_event
from exec_assistant.models import Channel, ClaimOutcome, Meeting, User, utcnow
from exec_assistant.notifications.delivery_run import DeliveryRun, Release
from exec_assistant.notifications.policy import (
    FINISH_RESERVE_SECONDS,
    LEASE_MARGIN_SECONDS,
    QUIET_HOURS_CHANNELS,
    RECONCILE_GIVE_UP_SECONDS,
    SETTLE_SECONDS,
    closed_channels,
    in_quiet_hours,
    result_from_record,
)
from exec_assistant.notifications.types import (
    NotificationChannel,
    NotificationKind,
    NotificationOutcome,
    NotificationResult,
    PrepNotification,
)
from exec_assistant.store.base import MeetingMark, Store

__all__ = [
    "FINISH_RESERVE_SECONDS",
    "LEASE_MARGIN_SECONDS",
    "QUIET_HOURS_CHANNELS",
    "RECONCILE_GIVE_UP_SECONDS",
    "SETTLE_SECONDS",
    "NotificationService",
    "closed_channels",
    "default_worker_id",
    "in_quiet_hours",
    "result_from_record",
]

logger = logging.getLogger(__name__)


def default_worker_id() -> str:
    """The per-process part of the owner token (a per-call uuid makes each token unique)."""
    return f"{socket.gethostname()}:{os.getpid()}"


class NotificationService:
    """Sends one prep notification per idempotency key, falling back across channels."""

    def __init__(
        self,
        store: Store,
        channels: Mapping[Channel, NotificationChannel],
        *,
        clock: Callable[[], datetime] = utcnow,
        lease_seconds: float = 120.0,
        worker_id: str | None = None,
    ) -> None:
        self.store = store
        self.channels = dict(channels)
        self.clock = clock
        self.lease_seconds = lease_seconds
        self.worker_id = worker_id or default_worker_id()

    def channel_order(
        self, user: User, requested: Sequence[Channel] | None = None
    ) -> list[Channel]:
        """``requested`` or the user's preference, plus the console when it is configured."""
        order = list(requested if requested is not None else user.preferences.channel_order)
        if Channel.CONSOLE in self.channels and Channel.CONSOLE not in order:
            order.append(Channel.CONSOLE)
        return order

    def skip_reason(self, channel: Channel, user: User, now: datetime) -> str | None:
        """Why ``channel`` is not tried for ``user`` at ``now`` (recorded as SKIPPED), or None."""
        impl = self.channels.get(channel)
        if impl is None:
            return "channel not configured in this deployment"
        reason = impl.skip_reason(user)
        if reason is None and channel in QUIET_HOURS_CHANNELS and in_quiet_hours(user, now):
            reason = "quiet hours"
        return reason

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
        """Deliver the prep notification for ``key`` at most once (see the module docstring).

        ``deadline``: when the caller will be stopped (a Lambda invocation's end); the lease
        and the walk are bounded by it. None: the configured lease, no time limit.
        ``log_delivery=False``: a delivery is not logged here (``notification.delivered``)
        because the caller's own decision line says it, with the channel and attempt; every
        other outcome is logged as always.
        ``meeting_mark``: what the caller would write on the meeting after a delivery; the
        DELIVERED finish writes it (``Store.finish_notification(mark=...)``) and the result's
        ``meeting_recorded_at`` says it did.
        """
        owner = f"{self.worker_id}:{uuid.uuid4().hex}"  # unique per call, even per thread
        now = self.clock()
        ids = {"meeting_id": meeting.meeting_id, "key": key}
        lease = self.lease_seconds
        if deadline is not None:
            lease = (deadline - now).total_seconds() + LEASE_MARGIN_SECONDS
            if lease <= LEASE_MARGIN_SECONDS + FINISH_RESERVE_SECONDS:
                log_event(logger, logging.WARNING, "notification.no_time", **ids)
                return NotificationResult(
                    key=key,
                    meeting_id=meeting.meeting_id,
                    outcome=NotificationOutcome.RETRYABLE,
                    reason="no time left in this invocation to claim and send",
                )
        claim = self.store.claim_notification(
            key, meeting.meeting_id, owner=owner, now=now, lease_seconds=lease
        )
        if claim.outcome == ClaimOutcome.DONE:
            log_event(
                logger, logging.INFO, "notification.duplicate", **ids, state=claim.record.state
            )
            return result_from_record(claim.record, duplicate=True)
        if claim.outcome == ClaimOutcome.BUSY:
            log_event(logger, logging.INFO, "notification.busy", **ids)
            return result_from_record(
                claim.record, duplicate=True, reason="another worker holds a live lease"
            )
        run = DeliveryRun(
            self,
            claim.record,
            owner,
            PrepNotification(meeting=meeting, user=user, kind=kind, key=key),
            deadline=deadline,
            log_delivery=log_delivery,
            meeting_mark=meeting_mark,
        )
        order = self.channel_order(user, channel_order)
        try:
            try:
                run.recover()
                return run.walk(order)
            except Release as release:
                return run.release(release.reason)
        except LeaseLostError:
            return run.lease_lost()
        except BaseException:
            run.release_after_failure()
            raise
