"""One owned claim being worked on: settle what is unknown, walk the channels, finish.

:class:`DeliveryRun` is what :meth:`NotificationService.notify
<exec_assistant.notifications.service.NotificationService.notify>` does once it owns the claim;
the policy it applies is the service module's docstring. It keeps the attempts so far and makes
every ledger write of the claim.

Just over 400 lines: settling unknown outcomes, the walk and the ledger writes share the run's
state (attempts, owner, deadline, the unwritten completion), which a split would pass around.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from exec_assistant.errors import ExecAssistantError
from exec_assistant.logs import log_event
from exec_assistant.models import (
    AttemptStatus,
    Channel,
    DeliveryAttempt,
    ErrorClass,
    LedgerRecord,
    LedgerState,
    User,
)
from exec_assistant.notifications.policy import (
    FINISH_RESERVE_SECONDS,
    RECONCILE_GIVE_UP_SECONDS,
    SETTLE_SECONDS,
    closed_channels,
    delivery_fields,
    result_from_record,
)
from exec_assistant.notifications.sms_opt_out import opt_out_if_unsubscribed
from exec_assistant.notifications.types import (
    DeliveryError,
    NotificationChannel,
    NotificationOutcome,
    NotificationResult,
    PrepNotification,
    Reconcilable,
)
from exec_assistant.store.base import MeetingMark, Store

logger = logging.getLogger("exec_assistant.notifications.service")


class Release(Exception):
    """Give the claim back now (RETRYABLE): ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RunContext(Protocol):
    """What a run needs of the service that started it."""

    store: Store
    channels: dict[Channel, NotificationChannel]
    clock: Callable[[], datetime]

    def skip_reason(self, channel: Channel, user: User, now: datetime) -> str | None: ...


class DeliveryRun:
    """One owned claim being worked on: the attempts so far and the ledger writes."""

    def __init__(
        self,
        service: RunContext,
        record: LedgerRecord,
        owner: str,
        notification: PrepNotification,
        *,
        deadline: datetime | None,
        log_delivery: bool = True,
        meeting_mark: MeetingMark | None = None,
    ) -> None:
        self.service, self.store = service, service.store
        self.log_delivery, self.meeting_mark = log_delivery, meeting_mark
        self.key = record.key
        self.owner = owner
        self.notification = notification
        self.deadline = deadline
        self.attempts: list[DeliveryAttempt] = list(record.attempts)
        self.failed_earlier = [a.seq for a in record.attempts if a.status == AttemptStatus.FAILED]
        self.transient_this_run = False
        #: The delivering attempt's completion, written by ``_finish`` with the final state.
        self.unwritten: DeliveryAttempt | None = None
        self.ids = {"meeting_id": record.meeting_id, "key": record.key}

    # time ------------------------------------------------------------------------------------

    def _ensure_time(self, seconds: float, what: str) -> None:
        """Raise :class:`Release` unless ``seconds`` of work (plus the finish) fit the deadline."""
        if self.deadline is None:
            return
        left = (self.deadline - self.service.clock()).total_seconds()
        if left < seconds + FINISH_RESERVE_SECONDS:
            raise Release(f"{left:.1f} s left, {what} may take {seconds:.1f} s")

    # ledger helpers --------------------------------------------------------------------------

    def _record_new(self, attempt: DeliveryAttempt) -> DeliveryAttempt:
        self.store.record_attempt(self.key, owner=self.owner, attempt=attempt)
        self.attempts.append(attempt)
        return attempt

    def _new_attempt(self, channel: Channel, **fields: object) -> DeliveryAttempt:
        return DeliveryAttempt.model_validate(
            {
                "seq": len(self.attempts),
                "channel": channel,
                "owner": self.owner,
                "started_at": self.service.clock(),
                **fields,
            }
        )

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
        now = self.service.clock()
        attempt = self._record_new(
            self._new_attempt(
                channel, status=AttemptStatus.SKIPPED, reason=reason, completed_at=now
            )
        )
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
        """Settle attempts left STARTED (by a previous owner, or released unsettled)."""
        for attempt in list(self.attempts):
            if attempt.status == AttemptStatus.STARTED:
                self._settle(attempt)

    def _settle(self, attempt: DeliveryAttempt) -> None:
        channel = self.service.channels.get(attempt.channel)
        fields = {**self.ids, "channel": attempt.channel, "attempt": attempt.seq}
        if not isinstance(channel, Reconcilable):
            self._complete(
                attempt,
                status=AttemptStatus.FAILED,
                error_class=ErrorClass.UNKNOWN,
                error_code=attempt.error_code or "interrupted",
                reason="outcome unknown and the provider cannot be asked; not resent",
            )
            log_event(logger, logging.WARNING, "notification.attempt_unknown", **fields)
            return
        age = (self.service.clock() - attempt.started_at).total_seconds()
        if age < SETTLE_SECONDS:
            raise Release(f"attempt {attempt.seq} on {attempt.channel} is {age:.0f} s old")
        self._ensure_time(channel.lookup_seconds, f"a {attempt.channel} lookup")
        try:
            found = channel.find_sent(self.notification, since=attempt.started_at)
        except DeliveryError as exc:
            log_event(
                logger,
                logging.WARNING,
                "notification.reconcile_failed",
                **fields,
                error_class=exc.error_class,
                error_code=exc.code,
            )
            if age < RECONCILE_GIVE_UP_SECONDS:
                raise Release(f"could not ask {attempt.channel} ({exc.code})") from exc
            self._complete(
                attempt,
                status=AttemptStatus.FAILED,
                error_class=ErrorClass.UNKNOWN,
                error_code=attempt.error_code or "interrupted",
                reason=f"the provider could not be asked for {age:.0f} s; not resent",
            )
            return
        if found is not None:
            self._complete(
                attempt,
                status=AttemptStatus.DELIVERED,
                provider_id=found,
                reason="found at the provider by reconciliation",
            )
        else:
            self._complete(
                attempt,
                status=AttemptStatus.FAILED,
                error_class=ErrorClass.TRANSIENT,
                error_code="not_sent",
                reason=f"reconciled: the provider has no such message ({attempt.error_code})",
            )
        log_event(
            logger,
            logging.INFO,
            "notification.reconciled",
            **fields,
            found=found is not None,
            provider_id=found,
        )

    def walk(self, order: Sequence[Channel]) -> NotificationResult:
        user = self.notification.user
        delivered = next((a for a in self.attempts if a.status == AttemptStatus.DELIVERED), None)
        for channel in order:
            if delivered is not None:
                break
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
            if self._attempt(self.service.channels[channel]):
                delivered = self.attempts[-1]
        return self._finish(delivered)

    def _attempt(self, channel: NotificationChannel) -> bool:
        """Send on ``channel``; the attempt is recorded STARTED by the channel's callback."""
        started: list[DeliveryAttempt] = []

        def before_request(seconds: float) -> None:
            self._ensure_time(seconds, f"a {channel.name} send")
            started.append(self._record_new(self._new_attempt(channel.name)))

        try:
            provider_id = channel.send(
                self.notification, attempt=len(self.attempts), before_request=before_request
            )
        except DeliveryError as exc:
            error_class, code, reason = exc.error_class, exc.code, exc.message or None
            opt_out_if_unsubscribed(exc, self.store, self.notification, started, self.ids)
        except (ExecAssistantError, Release):
            raise  # the ledger or the deadline, from ``before_request``: nothing was sent
        except Exception as exc:  # noqa: BLE001 - a channel bug: recorded, never resent blindly
            error_class, code, reason = ErrorClass.UNKNOWN, "unexpected_error", type(exc).__name__
        else:
            # Logged by ``_finish`` (notification.delivered names the channel and attempt).
            self._complete(
                started[0],
                with_finish=True,
                status=AttemptStatus.DELIVERED,
                provider_id=provider_id,
            )
            return True
        if not started:
            # Failed before its request left (a secret, the client): the channel was not tried.
            # Recorded for the timeline; a retry may try it again unless it is permanent.
            if error_class == ErrorClass.UNKNOWN:  # nothing left, so not unknown: a bug or not
                bug = code == "unexpected_error"
                error_class = ErrorClass.PERMANENT if bug else ErrorClass.TRANSIENT
            attempt = self._record_new(
                self._new_attempt(
                    channel.name,
                    status=AttemptStatus.FAILED,
                    error_class=error_class,
                    error_code=code,
                    reason=f"before the request: {reason}" if reason else "before the request",
                    completed_at=self.service.clock(),
                )
            )
        elif error_class == ErrorClass.UNKNOWN and isinstance(channel, Reconcilable):
            # The request may have arrived: ask the provider later, never resend blindly now.
            attempt = started[0].model_copy(update={"error_class": error_class, "error_code": code})
            self.attempts[attempt.seq] = attempt
            self.store.complete_attempt(self.key, owner=self.owner, attempt=attempt)
            self._log_failure(channel.name, attempt.seq, error_class, code)
            raise Release(f"{channel.name} outcome unknown ({code}): to reconcile")
        else:
            attempt = self._complete(
                started[0],
                status=AttemptStatus.FAILED,
                error_class=error_class,
                error_code=code,
                reason=reason,
            )
        self.transient_this_run |= error_class == ErrorClass.TRANSIENT
        self._log_failure(channel.name, attempt.seq, error_class, code)
        return False

    def _log_failure(self, channel: Channel, seq: int, error_class: ErrorClass, code: str) -> None:
        log_event(
            logger,
            logging.WARNING,
            "notification.attempt_failed",
            **self.ids,
            channel=channel,
            attempt=seq,
            error_class=error_class,
            error_code=code,
        )

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
            mark=self.meeting_mark if delivered is not None else None,
        )
        if delivered is None or self.log_delivery:
            log_event(
                logger,
                level,
                event,
                **self.ids,
                channel=delivered.channel if delivered is not None else None,
                attempt=delivered.seq if delivered is not None else None,
                **delivery_fields(record.attempts),
            )
        return result_from_record(record, duplicate=False, failed_earlier=self.failed_earlier)

    def _give_back(self) -> LedgerRecord:
        return self.store.finish_notification(
            self.key,
            owner=self.owner,
            state=LedgerState.RELEASED,
            delivered_channel=None,
            now=self.service.clock(),
        )

    def release(self, reason: str) -> NotificationResult:
        """Give the claim back (RELEASED) so a later retry takes it over, and say why."""
        record = self._give_back()
        log_event(logger, logging.WARNING, "notification.released", **self.ids, reason=reason)
        return result_from_record(
            record, duplicate=False, reason=reason, failed_earlier=self.failed_earlier
        )

    def release_after_failure(self) -> None:
        """After an unexpected failure (the store, usually): give the claim back if the store
        lets us, so the next retry need not wait for the lease; if not, the lease runs out."""
        try:
            self._give_back()
        except Exception as exc:  # noqa: BLE001 - the original failure is what propagates
            error = type(exc).__name__
            log_event(
                logger, logging.WARNING, "notification.release_failed", **self.ids, error=error
            )

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
            failed_earlier=self.failed_earlier,
        )
