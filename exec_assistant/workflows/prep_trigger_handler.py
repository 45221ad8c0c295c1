"""The prep trigger: MeetingPrepRequired → one notification → PREP_SCHEDULED.

Lambda entry ``exec_assistant.workflows.prep_trigger_handler.lambda_handler`` (an EventBridge rule
target); locally the in-process bus calls :func:`handle_event` with the same envelope.

Error policy (EventBridge delivers at least once and Lambda retries asynchronous invocations):

* bad or unknown input (malformed envelope or detail, wrong source or type, ids too long for a
  key or not storable, times with no UTC equivalent, unknown meeting or user, a permanent
  error on the way) is logged with the event id (``prep_trigger.rejected``) and *returned*:
  retrying cannot help, so no retry storm;
* anything that may succeed later *raises* after one ``prep_trigger.retryable`` line (event
  id, meeting id, error class and code), so Lambda's retries, then the DLQ and the recovery
  sweep (:mod:`exec_assistant.workflows.recovery`) take over: a store outage, every channel
  failing transiently, an outcome to reconcile later, the walk not fitting the invocation,
  and another worker holding the cycle under a live lease (it may die: the retry will see);
* a retried or duplicated event never notifies twice: the notification service dedupes on the
  key meeting + cycle, and the steps after a delivery are idempotent (conditional status move,
  schedule named after the cycle, the meeting's notification fields written last);
* delivery receipts that arrived before the delivery was recorded (parked on the ledger record,
  :mod:`exec_assistant.workflows.receipts`) are applied once it is, after the meeting's write,
  and again on a redelivered event (idempotent).

Just over 400 lines: one event's decision path (the ledger first, the skips, the kinds of
cycle, what follows a delivery) reads best as one sequence in one place.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel

from exec_assistant import coldstart, snapshots
from exec_assistant.components import Runtime
from exec_assistant.errors import PermanentError, TransientError
from exec_assistant.events import envelopes
from exec_assistant.logs import configure_logging, log_event
from exec_assistant.models import (
    AttemptStatus,
    Channel,
    ErrorClass,
    LedgerRecord,
    LedgerState,
    Meeting,
    MeetingPrepRequired,
    MeetingStatus,
    NotificationStatus,
    ParkedReceipt,
    User,
    parse_prep_event,
)
from exec_assistant.notifications.policy import delivery_fields, result_from_record
from exec_assistant.notifications.types import (
    NotificationKind,
    NotificationOutcome,
    NotificationResult,
)
from exec_assistant.store.base import MeetingMark
from exec_assistant.workflows.reminders import schedule_escalation

logger = logging.getLogger(__name__)

TriggerAction = Literal["notified", "failed", "skipped", "duplicate", "rejected"]

#: A delivered cycle moves its meeting to PREP_SCHEDULED from these (a conditional write).
_MOVE = (MeetingStatus.PREP_SCHEDULED, (MeetingStatus.DISCOVERED, MeetingStatus.PREP_REQUIRED))

#: Statuses in which no prep notification makes sense any more, with the logged reason.
_FINISHED: dict[MeetingStatus, str] = {
    MeetingStatus.CANCELLED: "meeting cancelled",
    MeetingStatus.COMPLETED: "meeting completed",
    MeetingStatus.PREP_IN_PROGRESS: "prep already in progress",
    MeetingStatus.PREP_COMPLETED: "prep already done",
}


class TriggerResult(BaseModel, defer_build=True):
    """What the trigger did with one event (also the Lambda's return value)."""

    event_id: str | None
    meeting_id: str | None = None
    action: TriggerAction
    reason: str = ""
    notification: NotificationResult | None = None


@coldstart.lambda_entry
def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """EventBridge → Lambda entry point (the contract string names this function)."""
    from exec_assistant.runtime import get_runtime  # the entry reaches the root

    configure_logging()
    runtime = get_runtime()
    deadline = invocation_deadline(context, runtime.clock())
    return handle_event(event, runtime, deadline=deadline).model_dump(mode="json")


AWS_SERVICES = ("dynamodb", "scheduler", "events")  # the first event's (store, schedules, bus)


def before_snapshot() -> None:
    """SnapStart (:mod:`.snapshots`): the first event's runtime (store, channels, service), models
    and botocore's data into the snapshot (no client: made lazily); the collector resumes."""
    from exec_assistant.runtime import get_runtime  # the entry reaches the root

    snapshots.warm_aws(AWS_SERVICES)
    get_runtime()
    snapshots.seal()  # the models built, the collector running again


def after_restore() -> None:
    """SnapStart: per restored copy, fresh random state, AWS credentials and connections (the
    owner tokens of the ledger come from ``uuid4``, i.e. ``os.urandom``, never shared)."""
    snapshots.refresh_process()


snapshots.register(before_snapshot=before_snapshot, after_restore=after_restore)


def invocation_deadline(context: Any, now: datetime) -> datetime | None:
    """When this Lambda invocation will be stopped, from its context; None without one."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    return now + timedelta(milliseconds=int(remaining()))


def handle_event(
    envelope: Mapping[str, Any], runtime: Runtime, *, deadline: datetime | None = None
) -> TriggerResult:
    """Decide and act on one MeetingPrepRequired envelope; see the module docstring.

    ``deadline``: when the caller will be stopped (the Lambda invocation's end), or None.
    Raises :class:`TransientError` (or the store's error) when a retry may succeed.
    """
    event_id = envelopes.event_id(envelope)
    try:
        env, detail = parse_prep_event(envelope)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        return _finish(
            event_id, None, "rejected", f"invalid event: {envelopes.describe_invalid(exc)}"
        )
    try:
        return _handle(env.id, detail, runtime, deadline)
    except PermanentError as exc:
        return _finish(
            env.id, detail.meeting_id, "rejected", f"{type(exc).__name__}: {exc}", logging.ERROR
        )
    except Exception as exc:
        error_class = getattr(exc, "error_class", ErrorClass.UNKNOWN)
        log_event(
            logger,
            logging.WARNING if error_class == ErrorClass.TRANSIENT else logging.ERROR,
            "prep_trigger.retryable",
            event_id=env.id,
            meeting_id=detail.meeting_id,
            error_class=error_class,
            error_code=getattr(exc, "code", None) or type(exc).__name__,
            reason=str(exc)[:300],
        )
        raise


def _handle(
    event_id: str, detail: MeetingPrepRequired, runtime: Runtime, deadline: datetime | None
) -> TriggerResult:
    store = runtime.store
    now = runtime.clock()
    key = detail.idempotency_key()
    # The ledger first (a strongly consistent read by key): a redelivered event whose cycle is
    # over, its steps after the delivery done, needs nothing else — not the meeting, not the user.
    record = store.get_notification(key)
    if record is not None and record.final:
        if record.state == LedgerState.EXHAUSTED:
            return _finish_duplicate(event_id, record, "cycle already exhausted")
        if record.meeting_recorded_at is not None:
            _apply_parked(runtime, record.key, record.early_receipts)
            return _finish_duplicate(event_id, record, "cycle already delivered")
    # The user the event names: if the meeting is someone else's, it is skipped below.
    meeting, user = store.get_meeting_and_user(detail.meeting_id, detail.user_id)
    if meeting is None:
        return _finish(event_id, detail.meeting_id, "skipped", "unknown meeting")
    reason = _skip_reason(meeting, detail, now)
    if reason:
        return _finish(event_id, meeting.meeting_id, "skipped", reason)
    if user is None:
        return _finish(event_id, meeting.meeting_id, "skipped", "unknown user")

    channel_order: Sequence[Channel] | None = None
    if detail.receipt_for is not None:  # a delivery receipt said the source cycle failed
        from exec_assistant.workflows.receipts import follow_up_plan

        follow_up = follow_up_plan(runtime, meeting, user, detail)
        if not follow_up.channel_order:
            reason = f"no follow-up: {follow_up.reason}"
            return _finish(event_id, meeting.meeting_id, "skipped", reason)
        kind, channel_order = follow_up.kind, follow_up.channel_order
    elif detail.escalation:
        kind = NotificationKind.ESCALATION
        if record is None or not record.final:
            from exec_assistant.notifications.escalation import (
                plan_escalation,
                records_for_decision,
            )

            consistent = [detail.source_key] if detail.source_key else []
            records = records_for_decision(store, meeting.meeting_id, consistent)
            plan = plan_escalation(meeting, user, records, runtime.configured_channels, now)
            if not plan.escalate:
                return _finish(
                    event_id, meeting.meeting_id, "skipped", f"nothing to escalate: {plan.reason}"
                )
            channel_order = plan.channel_order
    elif detail.reminder_id:
        kind = NotificationKind.REMINDER
    else:
        kind = NotificationKind.INITIAL

    from exec_assistant.notifications.escalation import NO_ESCALATION_TARGETS, escalation_targets

    # Nothing can ever be escalated to (decided by the user and the deployment alone): the
    # meeting's write after a delivery rides on the ledger's finish (``meeting_mark``), and
    # this event's line says that no escalation was scheduled, and why.
    no_escalation: str | None = f"none: {NO_ESCALATION_TARGETS}"
    if escalation_targets(user, runtime.configured_channels):
        no_escalation = None
    result = runtime.notifications.notify(
        meeting,
        user,
        key=key,
        kind=kind,
        channel_order=channel_order,
        deadline=deadline,
        log_delivery=False,  # this event's decision line says it (one INFO line per event)
        meeting_mark=MeetingMark(detail.cycle_key, *_MOVE) if no_escalation else None,
    )
    outcome = _after_send(
        event_id=event_id,
        detail=detail,
        meeting=meeting,
        user=user,
        result=result,
        runtime=runtime,
        now=now,
        no_escalation=no_escalation,
    )
    if result.delivered:  # after the meeting's write: a follow-up they start writes it last
        _apply_parked(runtime, result.key, result.early_receipts)
    return outcome


def _skip_reason(meeting: Meeting, detail: MeetingPrepRequired, now: datetime) -> str | None:
    if meeting.user_id != detail.user_id:
        return f"user mismatch: event names {detail.user_id}, meeting belongs to {meeting.user_id}"
    finished = _FINISHED.get(meeting.status)
    if finished:
        return finished
    if now >= meeting.start_time:
        return "meeting already started"
    if detail.escalation and meeting.status != MeetingStatus.PREP_SCHEDULED:
        return f"no escalation: meeting is {meeting.status.value}, not awaiting a response"
    return None


def _after_send(
    *,
    event_id: str,
    detail: MeetingPrepRequired,
    meeting: Meeting,
    user: User,
    result: NotificationResult,
    runtime: Runtime,
    now: datetime,
    no_escalation: str | None,
) -> TriggerResult:
    mid = meeting.meeting_id
    if result.outcome == NotificationOutcome.IN_PROGRESS:
        # Not a success: the holder may die. Lambda retries later; by then the cycle is done
        # (this retry is a duplicate) or its lease has expired (this retry takes it over).
        raise TransientError(
            f"cycle {result.key} is held by another worker: {result.reason}", code="busy"
        )
    if result.outcome == NotificationOutcome.RETRYABLE:
        raise TransientError(
            f"meeting {mid} not delivered yet: {result.reason or 'a channel failed transiently'}",
            code="retryable",
        )
    if result.outcome == NotificationOutcome.EXHAUSTED:
        if result.duplicate:
            return _finish(event_id, mid, "duplicate", "cycle already exhausted", result=result)
        runtime.store.record_meeting_notification(
            mid, status=NotificationStatus.FAILED, channel=None, cycle=detail.cycle_key, at=now
        )
        return _finish(
            event_id, mid, "failed", "every channel failed", logging.ERROR, result=result
        )

    if result.meeting_recorded_at is not None:  # the steps after the delivery are done:
        if result.duplicate:  # by an earlier call
            return _finish(event_id, mid, "duplicate", "cycle already delivered", result=result)
        # by this call's finish (``meeting_mark``: nothing can be escalated to)
    else:
        delivered_at = result.delivered_at or now
        if result.duplicate and meeting.notified_at and meeting.notified_at >= delivered_at:
            return _finish(event_id, mid, "duplicate", "cycle already delivered", result=result)
        _record_delivery(
            runtime, detail, user, result, at=delivered_at, now=now, no_escalation=no_escalation
        )
    action: TriggerAction = "duplicate" if result.duplicate else "notified"
    channel = result.delivered_channel.value if result.delivered_channel else "unknown"
    return _finish(
        event_id, mid, action, f"delivered via {channel}", result=result, escalation=no_escalation
    )


def _apply_parked(runtime: Runtime, key: str, parked: Sequence[ParkedReceipt]) -> None:
    """Receipts that beat their delivery's write (rare): applied once it is recorded."""
    if parked:
        from exec_assistant.workflows.receipts import apply_parked_receipts

        apply_parked_receipts(runtime, key, parked)


def _record_delivery(
    runtime: Runtime,
    detail: MeetingPrepRequired,
    user: User,
    result: NotificationResult,
    *,
    at: datetime,
    now: datetime,
    no_escalation: str | None,
) -> None:
    """The steps after a first delivery, or after a crash between the send and them: all
    idempotent; the notification fields, written last, mark them done. The escalation plan
    reads the meeting as stored, so when there may be something to escalate to, the status
    moves first and schedule_escalation decides (and logs it); otherwise the move rides on the
    last write (``no_escalation`` says why on the event's line)."""
    mid = detail.meeting_id
    move_to: MeetingStatus | None = None
    if no_escalation is None:
        runtime.store.transition_meeting(mid, _MOVE[0], now=now, expected=_MOVE[1])
        schedule_escalation(runtime, mid, user, key=result.key)
    else:
        move_to = _MOVE[0]
    runtime.store.record_meeting_notification(
        mid,
        status=NotificationStatus.DELIVERED,
        channel=result.delivered_channel,
        cycle=detail.cycle_key,
        at=at,
        move_to=move_to,
        move_from=_MOVE[1],
        key=result.key,  # marks the steps done: a redelivery now stops at the ledger read
    )


def _finish(
    event_id: str | None,
    meeting_id: str | None,
    action: TriggerAction,
    reason: str,
    level: int | None = None,
    *,
    result: NotificationResult | None = None,
    escalation: str | None = None,
) -> TriggerResult:
    """Log the event's decision (one line) and return it. ``escalation``: set when this line
    also stands for the escalation decision (see ``_after_send``)."""
    if level is None:
        level = logging.WARNING if action == "rejected" else logging.INFO
    log_event(
        logger,
        level,
        f"prep_trigger.{action}",
        event_id=event_id,
        meeting_id=meeting_id,
        reason=reason,
        key=result.key if result else None,
        outcome=result.outcome.value if result else None,
        **({"escalation": escalation} if escalation is not None else {}),
        **(_delivery(result) if action == "notified" and result is not None else {}),
    )
    return TriggerResult(
        event_id=event_id,
        meeting_id=meeting_id,
        action=action,
        reason=reason,
        notification=result,
    )


def _delivery(result: NotificationResult) -> dict[str, Any]:
    """What ``notification.delivered`` would have said (the service leaves it to this line):
    the delivering channel and attempt, how many attempts, and the failures before it."""
    delivered = next(
        (a for a in reversed(result.attempts) if a.status == AttemptStatus.DELIVERED), None
    )
    return {
        "channel": result.delivered_channel,
        "attempt": delivered.seq if delivered is not None else None,
        **delivery_fields(result.attempts),
    }


def _finish_duplicate(event_id: str, record: LedgerRecord, reason: str) -> TriggerResult:
    """A redelivered event whose cycle is over, decided by its ledger record alone."""
    return _finish(
        event_id,
        record.meeting_id,
        "duplicate",
        reason,
        result=result_from_record(record, duplicate=True),
    )
