"""The notification policy: claim the key, walk the channels, record every attempt, finish.

Exactly once per key (DESIGN.md "Delivery semantics"):

1. ``claim_notification`` is a conditional write. DONE → the stored result comes back
   (``duplicate=True``) and no provider is contacted; BUSY → ``IN_PROGRESS``, nothing is sent.
2. Each attempt is written (STARTED) *before* the provider call and completed after it (the
   delivering attempt in the same conditional write as the finish). The first channel's
   attempt rides on the claim when the claim is new (see :meth:`NotificationService.notify`).
3. On a RECOVERED claim (the previous owner's lease expired, or it released the claim after a
   transient failure), an attempt still STARTED is an outcome nobody knows: it is completed as
   UNKNOWN (``interrupted``) and that channel is never used again for this key — nor is any
   channel that delivered or failed permanently/unknown. Only channels that failed transiently
   are tried again.
4. Transient failure (after the SDK's own bounded retries) → next channel; permanent → next
   channel; unknown → next channel, never the same one again.
5. Finish: DELIVERED; or RELEASED (outcome RETRYABLE) when nothing was delivered and a channel
   failed transiently, so a retry of the trigger may claim it again; otherwise EXHAUSTED (logged
   as an error).
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
from exec_assistant.models import (
    AttemptStatus,
    Channel,
    ClaimOutcome,
    DeliveryAttempt,
    ErrorClass,
    LedgerRecord,
    LedgerState,
    Meeting,
    User,
    utcnow,
)
from exec_assistant.notifications.types import (
    DeliveryError,
    NotificationChannel,
    NotificationKind,
    NotificationOutcome,
    NotificationResult,
    PrepNotification,
)
from exec_assistant.store.base import Store

logger = logging.getLogger(__name__)

#: Channels that stay silent during the user's quiet hours.
QUIET_HOURS_CHANNELS = frozenset({Channel.SMS})
#: Failure classes after which a channel is never tried again for the same key.
_NO_RETRY_CLASSES = frozenset({ErrorClass.PERMANENT, ErrorClass.UNKNOWN})


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def in_quiet_hours(user: User, now: datetime) -> bool:
    quiet = user.preferences.quiet_hours
    return quiet is not None and quiet.contains(now.astimezone(user.zone).time())


def closed_channels(attempts: Sequence[DeliveryAttempt]) -> set[Channel]:
    """Channels that must not be tried again: delivered, or failed permanent/unknown."""
    return {
        a.channel
        for a in attempts
        if a.status == AttemptStatus.DELIVERED
        or (a.status == AttemptStatus.FAILED and a.error_class in _NO_RETRY_CLASSES)
    }


def result_from_record(record: LedgerRecord, *, duplicate: bool) -> NotificationResult:
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
    )


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
    ) -> NotificationResult:
        """Deliver the prep notification for ``key`` at most once (see the module docstring).

        The first channel's attempt is written by the claim itself when the claim is new (one
        conditional write instead of two). Whether that channel is tried depends on the user,
        the deployment and the clock, never on the ledger, so it is decided before claiming;
        a first channel that would be skipped is recorded as SKIPPED after the claim, as any
        other skip. A recovered claim records its attempts one by one, as before.

        Trade-off: a crash after the claim now always leaves that attempt STARTED, which a
        later call settles as unknown (``interrupted``) and never resends on that channel (it
        goes on to the next one). So the window in which a crash loses a notification on a
        channel that never actually sent it grows from "between the STARTED write and the
        send" to "between the claim and the send": both are the same few microseconds of local
        work apart, no provider call happens in between. No double-send window is added: an
        attempt is still on the ledger before its provider call, and a STARTED one is never
        resent on its channel.
        """
        owner = f"{self.worker_id}:{uuid.uuid4().hex[:12]}"  # unique per call, even per thread
        order = self.channel_order(user, channel_order)
        now = self.clock()
        first = (
            DeliveryAttempt(seq=0, channel=order[0], started_at=now)
            if order and self.skip_reason(order[0], user, now) is None
            else None
        )
        claim = self.store.claim_notification(
            key,
            meeting.meeting_id,
            owner=owner,
            now=now,
            lease_seconds=self.lease_seconds,
            first_attempt=first,
        )
        ids = {"meeting_id": meeting.meeting_id, "key": key}
        if claim.outcome == ClaimOutcome.DONE:
            log_event(
                logger, logging.INFO, "notification.duplicate", **ids, state=claim.record.state
            )
            return result_from_record(claim.record, duplicate=True)
        if claim.outcome == ClaimOutcome.BUSY:
            log_event(logger, logging.INFO, "notification.busy", **ids)
            return result_from_record(claim.record, duplicate=True)
        run = _Run(
            self,
            claim.record,
            owner,
            PrepNotification(meeting=meeting, user=user, kind=kind, key=key),
            claimed=first if claim.outcome == ClaimOutcome.WON else None,
        )
        try:
            if claim.outcome == ClaimOutcome.RECOVERED:
                run.recover()
            return run.walk(order)
        except LeaseLostError:
            return run.lease_lost()


class _Run:
    """One owned claim being worked on: the attempts so far and the ledger writes."""

    def __init__(
        self,
        service: NotificationService,
        record: LedgerRecord,
        owner: str,
        notification: PrepNotification,
        *,
        claimed: DeliveryAttempt | None = None,
    ) -> None:
        self.service = service
        self.store = service.store
        self.key = record.key
        self.owner = owner
        self.notification = notification
        self.attempts: list[DeliveryAttempt] = list(record.attempts)
        #: The first channel's attempt, already recorded STARTED by the claim: send it first.
        self.claimed = claimed
        self.transient_this_run = False
        #: The delivering attempt's completion, written by ``_finish`` with the final state.
        self.unwritten: DeliveryAttempt | None = None
        self.ids = {"meeting_id": record.meeting_id, "key": record.key}

    # ledger helpers --------------------------------------------------------------------------

    def _start(self, channel: Channel) -> DeliveryAttempt:
        attempt = DeliveryAttempt(
            seq=len(self.attempts), channel=channel, started_at=self.service.clock()
        )
        self.store.record_attempt(self.key, owner=self.owner, attempt=attempt)
        self.attempts.append(attempt)
        return attempt

    def _complete(
        self, attempt: DeliveryAttempt, *, with_finish: bool = False, **changes: object
    ) -> DeliveryAttempt:
        """``with_finish``: the next ledger write is ``_finish`` (nothing else is sent after a
        delivery), so the completion rides on it: one conditional write fewer. A crash before
        it leaves the attempt STARTED, exactly as a crash before a separate write would."""
        done = attempt.model_copy(update={"completed_at": self.service.clock(), **changes})
        # Known here first: if the ledger write fails (lease lost), the caller still reports it.
        self.attempts[done.seq] = done
        if with_finish:
            self.unwritten = done
        else:
            self.store.complete_attempt(self.key, owner=self.owner, attempt=done)
        return done

    def _skip(self, channel: Channel, reason: str) -> None:
        attempt = DeliveryAttempt(
            seq=len(self.attempts),
            channel=channel,
            status=AttemptStatus.SKIPPED,
            reason=reason,
            started_at=self.service.clock(),
            completed_at=self.service.clock(),
        )
        self.store.record_attempt(self.key, owner=self.owner, attempt=attempt)
        self.attempts.append(attempt)
        log_event(
            logger,
            logging.INFO,
            "notification.channel_skipped",
            **self.ids,
            channel=channel,
            attempt=attempt.seq,
            reason=reason,
        )

    # phases ----------------------------------------------------------------------------------

    def recover(self) -> None:
        """Settle attempts a previous owner left STARTED: their outcome is unknown."""
        for attempt in list(self.attempts):
            if attempt.status != AttemptStatus.STARTED:
                continue
            self._complete(
                attempt,
                status=AttemptStatus.FAILED,
                error_class=ErrorClass.UNKNOWN,
                error_code="interrupted",
                reason="the previous worker lost its lease during this send; not resent",
            )
            log_event(
                logger,
                logging.WARNING,
                "notification.attempt_interrupted",
                **self.ids,
                channel=attempt.channel,
                attempt=attempt.seq,
                error_class=ErrorClass.UNKNOWN,
                error_code="interrupted",
            )

    def walk(self, order: Sequence[Channel]) -> NotificationResult:
        user = self.notification.user
        delivered = next((a for a in self.attempts if a.status == AttemptStatus.DELIVERED), None)
        for channel in order:
            if delivered is not None:
                break
            # The claim recorded the first channel's attempt (``order[0]``, found sendable).
            attempt, self.claimed = self.claimed, None
            if attempt is None:
                if channel in closed_channels(self.attempts):
                    log_event(
                        logger,
                        logging.INFO,
                        "notification.channel_closed",
                        **self.ids,
                        channel=channel,
                        reason="an earlier attempt delivered or failed permanently/unknown",
                    )
                    continue
                reason = self.service.skip_reason(channel, user, self.service.clock())
                if reason is not None:
                    self._skip(channel, reason)
                    continue
                attempt = self._start(channel)
            if self._attempt(self.service.channels[channel], attempt):
                delivered = self.attempts[-1]
        return self._finish(delivered)

    def _attempt(self, channel: NotificationChannel, attempt: DeliveryAttempt) -> bool:
        """Send ``attempt`` (already recorded STARTED) and complete it with the outcome."""
        fields = {**self.ids, "channel": channel.name, "attempt": attempt.seq}
        # DEBUG: its outcome's line (attempt_failed, or notification.delivered) repeats these.
        log_event(logger, logging.DEBUG, "notification.attempt_started", **fields)
        try:
            provider_id = channel.send(self.notification)
        except DeliveryError as exc:
            error_class, code, reason = exc.error_class, exc.code, exc.message or None
        except Exception as exc:  # noqa: BLE001 - a channel bug: recorded as unknown, never resent
            error_class, code, reason = ErrorClass.UNKNOWN, "unexpected_error", type(exc).__name__
        else:
            # Logged by ``_finish`` (notification.delivered names the channel and attempt).
            self._complete(
                attempt, with_finish=True, status=AttemptStatus.DELIVERED, provider_id=provider_id
            )
            return True
        self._complete(
            attempt,
            status=AttemptStatus.FAILED,
            error_class=error_class,
            error_code=code,
            reason=reason,
        )
        self.transient_this_run |= error_class == ErrorClass.TRANSIENT
        log_event(
            logger,
            logging.WARNING,
            "notification.attempt_failed",
            **fields,
            error_class=error_class,
            error_code=code,
        )
        return False

    def _finish(self, delivered: DeliveryAttempt | None) -> NotificationResult:
        now = self.service.clock()
        if delivered is not None:
            state, level, event = LedgerState.DELIVERED, logging.INFO, "notification.delivered"
        elif self.transient_this_run:
            state, level, event = LedgerState.RELEASED, logging.WARNING, "notification.retryable"
        else:
            state, level, event = LedgerState.EXHAUSTED, logging.ERROR, "notification.exhausted"
        record = self.store.finish_notification(
            self.key,
            owner=self.owner,
            state=state,
            delivered_channel=delivered.channel if delivered is not None else None,
            now=now,
            completed=self.unwritten,
        )
        log_event(
            logger,
            level,
            event,
            **self.ids,
            channel=delivered.channel if delivered is not None else None,
            attempt=delivered.seq if delivered is not None else None,
            attempts=len(record.attempts),
            failures=[
                {"channel": a.channel, "error_class": a.error_class, "error_code": a.error_code}
                for a in record.attempts
                if a.status == AttemptStatus.FAILED
            ],
        )
        return result_from_record(record, duplicate=False)

    def lease_lost(self) -> NotificationResult:
        """Another worker took the claim over (our lease expired): report, write nothing."""
        delivered = next((a for a in self.attempts if a.status == AttemptStatus.DELIVERED), None)
        log_event(
            logger,
            logging.WARNING,
            "notification.lease_lost",
            **self.ids,
            channel=delivered.channel if delivered is not None else None,
        )
        return NotificationResult(
            key=self.key,
            meeting_id=self.notification.meeting.meeting_id,
            outcome=(
                NotificationOutcome.DELIVERED
                if delivered is not None
                else NotificationOutcome.IN_PROGRESS
            ),
            delivered_channel=delivered.channel if delivered is not None else None,
            attempts=list(self.attempts),
        )
