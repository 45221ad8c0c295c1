"""The notification ledger's rules, shared by every store: what a claim finds, and what a refused
write means.

A store applies each ledger write as one conditional write. When the condition is false, the
store hands the record as it now is to one of the ``check_refused_*`` functions here, which
decide between three readings:

* the record shows *this owner's own write* — its answer was lost and the write was sent
  again (botocore resends after a reset connection): the write succeeded, nothing to do;
* the record belongs to someone else now (lease expired and taken over, or finished):
  :class:`~exec_assistant.errors.LeaseLostError`;
* the caller broke the protocol (an attempt number out of order): ``ValueError``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from exec_assistant.errors import LeaseLostError, NotFoundError
from exec_assistant.models import (
    RECEIPT_RANK,
    Acknowledgement,
    AckResult,
    AttemptStatus,
    Channel,
    Claim,
    ClaimOutcome,
    DeliveryAttempt,
    DeliveryReceipt,
    LedgerRecord,
    LedgerState,
    ParkedReceipt,
    ReceiptResult,
    ReceiptStatus,
)
from exec_assistant.store.base import LEDGER_RETENTION_DAYS


def new_record(
    key: str, meeting_id: str, *, owner: str, now: datetime, lease_until: datetime
) -> LedgerRecord:
    """The record a first claim of ``key`` creates."""
    return LedgerRecord(
        key=key,
        meeting_id=meeting_id,
        state=LedgerState.IN_PROGRESS,
        owner=owner,
        lease_expires_at=lease_until,
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(days=LEDGER_RETENTION_DAYS),
    )


def taken_over(
    record: LedgerRecord, *, owner: str, now: datetime, lease_until: datetime
) -> LedgerRecord:
    """``record`` (released, or its lease expired) claimed by ``owner``; attempts are kept."""
    return record.model_copy(
        update={
            "state": LedgerState.IN_PROGRESS,
            "owner": owner,
            "lease_expires_at": lease_until,
            "updated_at": now,
        }
    )


def claim_outcome(record: LedgerRecord, now: datetime) -> ClaimOutcome | None:
    """What a claim at ``now`` finds in an existing record: DONE, BUSY, or None (claimable)."""
    if record.final:
        return ClaimOutcome.DONE
    if record.state == LedgerState.IN_PROGRESS and record.lease_expires_at > now:
        return ClaimOutcome.BUSY
    return None


def refused_claim(record: LedgerRecord, *, owner: str, now: datetime) -> Claim:
    """The claim a refused claim write stands for. The record may show the caller's own claim
    (a resent write whose first answer was lost): then the claim is the caller's — WON if it
    created the record (``created_at`` is the claim's ``now``), else RECOVERED."""
    if owned_by(record, owner):
        won = record.created_at == now
        return Claim(outcome=ClaimOutcome.WON if won else ClaimOutcome.RECOVERED, record=record)
    outcome = claim_outcome(record, now)
    return Claim(outcome=outcome or ClaimOutcome.BUSY, record=record)


def owned_by(record: LedgerRecord | None, owner: str) -> bool:
    return record is not None and record.owner == owner and record.state == LedgerState.IN_PROGRESS


def lost(key: str, owner: str) -> LeaseLostError:
    return LeaseLostError(f"ledger key {key} is no longer owned by {owner}")


def _same_attempt(recorded: DeliveryAttempt, attempt: DeliveryAttempt) -> bool:
    """Whether ``recorded`` is ``attempt`` as its owner wrote it (its own write, read back)."""
    return (
        attempt.owner is not None
        and recorded.owner == attempt.owner
        and recorded.seq == attempt.seq
        and recorded.channel == attempt.channel
    )


def check_refused_append(
    key: str, record: LedgerRecord | None, owner: str, attempt: DeliveryAttempt
) -> None:
    """A refused ``record_attempt``: success if the record already holds this very attempt."""
    if not owned_by(record, owner):
        raise lost(key, owner)
    assert record is not None  # owned_by
    if attempt.seq < len(record.attempts) and _same_attempt(record.attempts[attempt.seq], attempt):
        return  # our own write, answered the first time round
    raise ValueError(f"attempt seq {attempt.seq} != {len(record.attempts)} recorded")


def check_refused_complete(
    key: str, record: LedgerRecord | None, owner: str, attempt: DeliveryAttempt
) -> None:
    """A refused ``complete_attempt``: the claim is lost, or the attempt was never recorded."""
    if not owned_by(record, owner):
        raise lost(key, owner)
    raise ValueError(f"attempt seq {attempt.seq} was never recorded")


def check_finish_args(
    state: LedgerState, completed: DeliveryAttempt | None, *, marks_meeting: bool = False
) -> None:
    if state == LedgerState.IN_PROGRESS:
        raise ValueError("finish_notification needs a final or released state")
    if marks_meeting and state != LedgerState.DELIVERED:
        raise ValueError("a meeting mark goes with a DELIVERED finish only")
    if completed is not None and completed.seq < 0:
        raise ValueError(f"attempt seq {completed.seq} was never recorded")


def delivered_at(record: LedgerRecord) -> datetime:
    """When ``record``'s cycle was delivered: its last delivered attempt's completion (or start);
    the record's last update if none is marked delivered (a store bug, never a reason to fail)."""
    for attempt in reversed(record.attempts):
        if attempt.status == AttemptStatus.DELIVERED:
            return attempt.completed_at or attempt.started_at
    return record.updated_at


def check_refused_finish(
    key: str,
    record: LedgerRecord | None,
    owner: str,
    state: LedgerState,
    completed: DeliveryAttempt | None,
) -> LedgerRecord:
    """A refused ``finish_notification``: the record as finished if it shows this owner's own
    finish (same owner, same state, the completed attempt in place), else the error."""
    finished_here = (
        record is not None
        and record.owner == owner
        and record.state == state
        and (
            completed is None
            or (
                completed.seq < len(record.attempts)
                and record.attempts[completed.seq].status == completed.status
            )
        )
    )
    if finished_here:
        assert record is not None
        return record
    if owned_by(record, owner):
        raise ValueError(f"attempt seq {completed.seq if completed else -1} was never recorded")
    raise lost(key, owner)


def refused_acknowledgement(
    key: str, record: LedgerRecord | None, acknowledgement: Acknowledgement
) -> AckResult:
    """A refused ``acknowledge_notification``: the record is missing (``NotFoundError``), or an
    acknowledgement stands — this very one (a resent write: recorded) or an earlier one."""
    if record is None:
        raise NotFoundError(f"no ledger record {key}", code="no_cycle")
    standing = record.acknowledgement
    if standing is None:  # the condition was false, so one stands: a store bug, not an input
        raise RuntimeError(f"acknowledgement of {key} refused with none recorded")
    return AckResult(recorded=standing.ack_id == acknowledgement.ack_id, acknowledgement=standing)


# delivery receipts -----------------------------------------------------------------------------

#: Channels whose providers report on a message after accepting it (Twilio status callbacks, SES
#: events): their delivered attempts are found again by provider id.
RECEIPT_CHANNELS = frozenset({Channel.SMS, Channel.EMAIL})


def receipt_provider_id(attempt: DeliveryAttempt | None) -> str | None:
    """The provider id a delivery receipt for ``attempt`` will name, if it can get one: a
    delivered SMS or email. A store writing such an attempt makes the id findable
    (``Store.notification_for_provider_id``) in the same write or just before it."""
    if (
        attempt is None
        or attempt.status != AttemptStatus.DELIVERED
        or attempt.channel not in RECEIPT_CHANNELS
        or not attempt.provider_id
    ):
        return None
    return attempt.provider_id


def weaker_receipts(status: ReceiptStatus) -> list[ReceiptStatus]:
    """The receipt statuses ``status`` replaces (:data:`~exec_assistant.models.RECEIPT_RANK`)."""
    return [s for s, rank in RECEIPT_RANK.items() if rank < RECEIPT_RANK[status]]


def _receipt_target(record: LedgerRecord | None, seq: int, provider_id: str) -> bool:
    return (
        record is not None
        and record.state == LedgerState.DELIVERED
        and 0 <= seq < len(record.attempts)
        and record.attempts[seq].provider_id == provider_id
    )


def receipt_applies(
    record: LedgerRecord | None, seq: int, provider_id: str, receipt: DeliveryReceipt
) -> bool:
    """Whether ``record_receipt`` writes: the record is delivered, attempt ``seq`` has
    ``provider_id``, and its standing receipt (if any) is weaker than ``receipt``."""
    if not _receipt_target(record, seq, provider_id):
        return False
    assert record is not None  # _receipt_target
    standing = record.attempts[seq].receipt
    return standing is None or standing.status in weaker_receipts(receipt.status)


def refused_receipt(
    key: str,
    record: LedgerRecord | None,
    seq: int,
    provider_id: str,
    receipt: DeliveryReceipt,
) -> ReceiptResult:
    """A refused ``record_receipt``: no such delivered attempt (``NotFoundError``), or an equal
    or stronger receipt stands — this very one (a resent write: recorded) or another."""
    if not _receipt_target(record, seq, provider_id):
        raise NotFoundError(
            f"no delivered attempt {seq} with provider id {provider_id} in {key}",
            code="no_receipt_target",
        )
    assert record is not None  # _receipt_target
    standing = record.attempts[seq].receipt
    if standing is None:  # the condition was false, so one stands: a store bug, not an input
        raise RuntimeError(f"receipt for {key} attempt {seq} refused with none recorded")
    return ReceiptResult(recorded=standing == receipt, receipt=standing)


#: The most receipts kept on one record before its delivery is recorded: a message has a few
#: final statuses, so more means repeats (dropped, and logged by the caller).
MAX_PARKED_RECEIPTS = 20
#: The states in which a receipt is parked rather than recorded: the delivery may still be
#: recorded (a live claim, or a released one that a retry reconciles).
PARKABLE_STATES = (LedgerState.IN_PROGRESS, LedgerState.RELEASED)


def _park_target(record: LedgerRecord | None, parked: ParkedReceipt) -> bool:
    return (
        record is not None
        and 0 <= parked.seq < len(record.attempts)
        and record.attempts[parked.seq].channel == parked.channel
    )


def park_applies(record: LedgerRecord | None, parked: ParkedReceipt) -> bool:
    """Whether ``park_receipt`` writes (see ``Store.park_receipt``)."""
    return (
        _park_target(record, parked)
        and record is not None
        and record.state in PARKABLE_STATES
        and len(record.early_receipts) < MAX_PARKED_RECEIPTS
    )


def refused_park(key: str, record: LedgerRecord | None, parked: ParkedReceipt) -> bool:
    """A refused ``park_receipt``: no such record and attempt (``NotFoundError``), else False
    (the record is final, or full)."""
    if not _park_target(record, parked):
        raise NotFoundError(
            f"no attempt {parked.seq} on {parked.channel.value} in {key}",
            code="no_receipt_target",
        )
    return False
