"""Delivery receipts: what a provider says after it accepted a message, and what that changes.

Twilio posts each SMS's status to ``POST /twilio/status``
(:func:`exec_assistant.interfaces.twilio_webhooks.handle_status`); SES events arrive through
EventBridge (:mod:`exec_assistant.workflows.email_events`). Both become a
:class:`~exec_assistant.models.DeliveryReceipt` and come here (:func:`apply_receipt`):

1. The ledger record is found by the key and attempt the message carries
   (:mod:`exec_assistant.notifications.receipt_routing`), or, for a message sent without them,
   by provider id (Twilio SID, SES MessageId). A receipt that beats the write recording its
   delivery (the record is not DELIVERED yet) is **parked** on the record
   (``Store.park_receipt``, one conditional write) and applied as if it had just arrived once
   the cycle is DELIVERED (:func:`apply_parked_receipts`, called by the prep trigger after the
   delivery's own steps), only to the attempt that carries its provider id. An unknown message
   (or one whose record is gone or never delivered): logged, nothing changes.
2. ``Store.record_receipt`` keeps the attempt's strongest receipt (delayed < delivered < failed)
   in one conditional write, so repeats and any arrival order end in the same state; a late
   ``delivered`` after a failure changes nothing (logged as contradicted).
3. A failed receipt on the attempt that delivered the cycle moves the cycle on at once: a
   follow-up cycle ``<cycle key>#receipt:<provider id>`` is published to the prep trigger, which
   walks only the channels after the failed one (:func:`plan_follow_up`). It is published on
   every failure callback, repeats included: the follow-up's own claim in the ledger is what
   makes it exactly once. A cycle already acknowledged gets its receipt and nothing else.
4. Nothing waits for a receipt: carrier receipts can take 72 h, and escalation keeps its own
   clock.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from exec_assistant.components import Runtime
from exec_assistant.errors import NotFoundError
from exec_assistant.events.base import BusEvent
from exec_assistant.logs import log_event
from exec_assistant.models import (
    PREP_EVENT_DETAIL_TYPE,
    REMINDER_EVENT_SOURCE,
    AttemptStatus,
    Channel,
    DeliveryAttempt,
    DeliveryReceipt,
    LedgerRecord,
    LedgerState,
    Meeting,
    MeetingPrepRequired,
    ParkedReceipt,
    ReceiptStatus,
    User,
)
from exec_assistant.notifications.escalation import user_reachable
from exec_assistant.notifications.receipt_routing import ReceiptTarget
from exec_assistant.notifications.sms_opt_out import UNSUBSCRIBED_CODE, record_sms_opt_out
from exec_assistant.notifications.types import NotificationKind
from exec_assistant.workflows.timeline import CycleKind, cycle_kind

logger = logging.getLogger(__name__)

ReceiptAction = Literal["recorded", "unchanged", "unknown", "parked"]


class ReceiptOutcome(BaseModel):
    """What one receipt did: ``recorded`` (it changed the attempt's receipt), ``unchanged`` (an
    equal or stronger one stands), ``unknown`` (no delivered attempt has that provider id),
    ``parked`` (kept on the record until its delivery is recorded);
    ``follow_up``: the key of the follow-up cycle published, if one was."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    action: ReceiptAction
    key: str | None = None
    standing: DeliveryReceipt | None = None
    follow_up: str | None = None


def follow_up_key(source_key: str, provider_id: str) -> str:
    """The ledger key of the cycle that follows a failed delivery of ``source_key``."""
    return f"{source_key}#receipt:{provider_id}"


def _attempt_with(record: LedgerRecord, provider_id: str) -> DeliveryAttempt | None:
    return next(
        (
            a
            for a in record.attempts
            if a.provider_id == provider_id and a.status == AttemptStatus.DELIVERED
        ),
        None,
    )


def _attempt_at(record: LedgerRecord | None, seq: int, provider_id: str) -> DeliveryAttempt | None:
    attempt = record.attempts[seq] if record is not None and seq < len(record.attempts) else None
    if attempt is None or attempt.provider_id != provider_id:
        return None
    return attempt if attempt.status == AttemptStatus.DELIVERED else None


def apply_receipt(
    runtime: Runtime,
    channel: Channel,
    provider_id: str,
    receipt: DeliveryReceipt,
    target: ReceiptTarget | None = None,
) -> ReceiptOutcome:
    """Record ``receipt`` for the ``channel`` message ``provider_id`` and act on it (see the
    module docstring); ``target``: the ledger key and attempt the message carried. Store
    failures propagate (the caller answers so that it is retried)."""
    ids: dict[str, object] = {
        "channel": channel.value,
        "provider_id": provider_id,
        "status": receipt.status.value,
    }
    if target is None:
        record = runtime.store.notification_for_provider_id(provider_id)
        attempt = _attempt_with(record, provider_id) if record is not None else None
    else:
        ids |= {"key": target.key, "attempt": target.seq}
        record = runtime.store.get_notification(target.key)
        if record is not None and not record.final:
            parked = ParkedReceipt(
                seq=target.seq, channel=channel, provider_id=provider_id, receipt=receipt
            )
            try:
                if runtime.store.park_receipt(target.key, parked):
                    log_event(logger, logging.INFO, "receipt.parked", **ids)
                    return ReceiptOutcome(action="parked", key=target.key)
            except NotFoundError:  # no such attempt on this channel: as unknown
                record = None
            else:  # refused: final since the read (delivered now: record it below), or full
                record = runtime.store.get_notification(target.key)
        attempt = _attempt_at(record, target.seq, provider_id)
    if record is None or attempt is None or attempt.channel != channel:
        log_event(logger, logging.INFO, "receipt.unknown", **ids)
        return ReceiptOutcome(action="unknown")
    ids |= {"meeting_id": record.meeting_id, "key": record.key, "attempt": attempt.seq}
    if _unsubscribed(channel, receipt) and not _failed_already(attempt):
        _record_opt_out(runtime, record, receipt, ids)
    try:
        result = runtime.store.record_receipt(
            record.key, seq=attempt.seq, provider_id=provider_id, receipt=receipt
        )
    except NotFoundError:  # the record changed between the two reads (expired): as unknown
        log_event(logger, logging.INFO, "receipt.unknown", **ids)
        return ReceiptOutcome(action="unknown")
    standing = result.receipt
    if result.recorded:
        level = logging.WARNING if standing.status == ReceiptStatus.FAILED else logging.INFO
        log_event(
            logger,
            level,
            "receipt.recorded",
            **ids,
            provider_status=standing.provider_status,
            error_class=standing.error_class.value if standing.error_class else None,
            error_code=standing.error_code,
        )
    elif standing.status != receipt.status:
        log_event(
            logger,
            logging.WARNING if receipt.status == ReceiptStatus.DELIVERED else logging.INFO,
            "receipt.contradicted",
            **ids,
            standing=standing.status.value,
        )
    action: ReceiptAction = "recorded" if result.recorded else "unchanged"
    if standing.status != ReceiptStatus.FAILED or receipt.status != ReceiptStatus.FAILED:
        return ReceiptOutcome(action=action, key=record.key, standing=standing)
    if record.acknowledgement is not None:
        log_event(logger, logging.INFO, "receipt.acknowledged_already", **ids)
        return ReceiptOutcome(action=action, key=record.key, standing=standing)
    follow_up = _publish_follow_up(runtime, record, provider_id)
    return ReceiptOutcome(action=action, key=record.key, standing=standing, follow_up=follow_up)


def apply_parked_receipts(
    runtime: Runtime, key: str, parked: Sequence[ParkedReceipt]
) -> list[ReceiptOutcome]:
    """Apply the receipts parked on record ``key`` before its delivery was recorded, now that
    it is DELIVERED, each as if it had just arrived (:func:`apply_receipt` with its target).
    Safe to repeat (after a crash, or a redelivered event): each then changes nothing, or
    publishes the same follow-up again, which its claim makes happen once."""
    return [
        apply_receipt(
            runtime, p.channel, p.provider_id, p.receipt, ReceiptTarget(key=key, seq=p.seq)
        )
        for p in parked
    ]


def _unsubscribed(channel: Channel, receipt: DeliveryReceipt) -> bool:
    """A failed SMS receipt with Twilio's 21610: the number replied STOP (unseen by us)."""
    return (
        channel == Channel.SMS
        and receipt.status == ReceiptStatus.FAILED
        and receipt.error_code == UNSUBSCRIBED_CODE
    )


def _failed_already(attempt: DeliveryAttempt) -> bool:
    return attempt.receipt is not None and attempt.receipt.status == ReceiptStatus.FAILED


def _record_opt_out(
    runtime: Runtime, record: LedgerRecord, receipt: DeliveryReceipt, ids: dict[str, object]
) -> None:
    """Record the opt-out of the meeting's owner, as a STOP reply does. Only while the
    attempt has no failed receipt yet (before ``record_receipt`` writes this one): a repeat of
    the callback after the executive replied START must not opt them out again, and a callback
    retried after a store failure here records it then."""
    meeting = runtime.store.get_meeting(record.meeting_id)
    if meeting is None:
        log_event(logger, logging.INFO, "receipt.no_meeting", **ids)
        return
    record_sms_opt_out(
        runtime.store,
        meeting.user_id,
        opted_out=True,
        now=receipt.received_at,
        source="status_callback",
        **ids,
    )


def _publish_follow_up(runtime: Runtime, record: LedgerRecord, provider_id: str) -> str | None:
    """Publish the follow-up cycle's event; None (logged) when the meeting is gone."""
    meeting = runtime.store.get_meeting(record.meeting_id)
    if meeting is None:
        log_event(
            logger, logging.INFO, "receipt.no_meeting", meeting_id=record.meeting_id, key=record.key
        )
        return None
    detail = {
        "meeting_id": record.meeting_id,
        "user_id": meeting.user_id,
        "source_key": record.key,
        "receipt_for": provider_id,
    }
    runtime.bus.publish(
        [BusEvent(source=REMINDER_EVENT_SOURCE, detail_type=PREP_EVENT_DETAIL_TYPE, detail=detail)]
    )
    log_event(
        logger,
        logging.INFO,
        "receipt.follow_up_published",
        meeting_id=record.meeting_id,
        key=record.key,
        provider_id=provider_id,
    )
    return follow_up_key(record.key, provider_id)


# --- the follow-up cycle (run by the prep trigger) ---------------------------------------------


class FollowUpPlan(BaseModel):
    """``channel_order`` empty means: send nothing (``reason`` says why)."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    channel_order: list[Channel]
    kind: NotificationKind
    reason: str


_KINDS = {
    CycleKind.PREP: NotificationKind.INITIAL,
    CycleKind.REMINDER: NotificationKind.REMINDER,
    CycleKind.ESCALATION: NotificationKind.ESCALATION,
    CycleKind.RECEIPT: NotificationKind.INITIAL,
}


def plan_follow_up(
    meeting: Meeting,
    user: User,
    source: LedgerRecord | None,
    *,
    provider_id: str,
    records: Sequence[LedgerRecord],
    configured: Collection[Channel],
) -> FollowUpPlan:
    """Where the cycle ``source`` goes after its delivery ``provider_id`` failed: the user's
    channels after the failed one, configured and reachable, and not delivered to already by
    this cycle or a later one of the meeting (``records``, read by the caller)."""
    kind = (
        _KINDS[cycle_kind(meeting.meeting_id, source.key)] if source else NotificationKind.INITIAL
    )

    def nothing(reason: str) -> FollowUpPlan:
        return FollowUpPlan(channel_order=[], kind=kind, reason=reason)

    if source is None or source.state != LedgerState.DELIVERED:
        return nothing("the cycle is not delivered")
    failed = _attempt_with(source, provider_id)
    if failed is None or failed.receipt is None or failed.receipt.status != ReceiptStatus.FAILED:
        return nothing(f"no failed receipt for {provider_id}")
    if source.acknowledgement is not None:
        return nothing("the cycle was acknowledged")
    later = [r for r in records if r.created_at >= source.created_at]
    if any(r.acknowledgement is not None for r in later):
        return nothing("a later cycle was acknowledged")
    used = {
        a.channel
        for r in [source, *later]
        for a in r.attempts
        if a.status == AttemptStatus.DELIVERED
        and r.state == LedgerState.DELIVERED
        and (a.receipt is None or a.receipt.status != ReceiptStatus.FAILED)
    }
    order = list(user.preferences.channel_order)
    after = order[order.index(failed.channel) + 1 :] if failed.channel in order else []
    channels = [c for c in after if c in configured and c not in used and user_reachable(user, c)]
    if not channels:
        return nothing(f"no channel after {failed.channel.value} to move to")
    return FollowUpPlan(
        channel_order=channels,
        kind=kind,
        reason=f"{failed.channel.value} delivery {provider_id} failed "
        f"({failed.receipt.provider_status} {failed.receipt.error_code or ''})".strip(),
    )


def follow_up_plan(
    runtime: Runtime, meeting: Meeting, user: User, detail: MeetingPrepRequired
) -> FollowUpPlan:
    """:func:`plan_follow_up` for a follow-up event: the source record read by key
    (consistently), the meeting's other records from its listing."""
    assert detail.source_key is not None and detail.receipt_for is not None  # the model's rule
    source = runtime.store.get_notification(detail.source_key)
    skip = {detail.source_key, detail.idempotency_key()}  # a duplicate is the notifier's to tell
    records = [
        r
        for r in runtime.store.list_notifications_for_meeting(meeting.meeting_id)
        if r.key not in skip
    ]
    return plan_follow_up(
        meeting,
        user,
        source,
        provider_id=detail.receipt_for,
        records=records,
        configured=runtime.configured_channels,
    )
