"""The Store contract for delivery receipts (exec_assistant/store/base.py), on every store.

A delivered SMS or email is findable by its provider id; ``record_receipt`` keeps the strongest
receipt per attempt whatever the order and number of callbacks, in one conditional write.
"""

from __future__ import annotations

import itertools
import threading
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exec_assistant.errors import NotFoundError
from exec_assistant.models import (
    RECEIPT_RANK,
    AttemptStatus,
    Channel,
    DeliveryAttempt,
    DeliveryReceipt,
    ErrorClass,
    LedgerRecord,
    LedgerState,
    ReceiptStatus,
)
from exec_assistant.store.base import Store
from tests.store.conftest import NOW

SID = "SM" + "0123456789abcdef" * 2


def _delivered(
    store: Store,
    key: str = "mtg-1#prep",
    *,
    channel: Channel = Channel.SMS,
    provider_id: str = SID,
    via_finish: bool = True,
) -> LedgerRecord:
    """A cycle whose Slack attempt failed and whose ``channel`` attempt delivered."""
    store.claim_notification(key, "mtg-1", owner="a", now=NOW, lease_seconds=60)
    failed = DeliveryAttempt(
        seq=0,
        channel=Channel.SLACK,
        owner="a",
        started_at=NOW,
        status=AttemptStatus.FAILED,
        error_class=ErrorClass.PERMANENT,
        error_code="channel_not_found",
        completed_at=NOW,
    )
    store.record_attempt(key, owner="a", attempt=failed)
    started = DeliveryAttempt(seq=1, channel=channel, owner="a", started_at=NOW)
    store.record_attempt(key, owner="a", attempt=started)
    done = started.model_copy(
        update={"status": AttemptStatus.DELIVERED, "provider_id": provider_id, "completed_at": NOW}
    )
    if not via_finish:  # the reconcile path: completed first, finished without an attempt
        store.complete_attempt(key, owner="a", attempt=done)
    return store.finish_notification(
        key,
        owner="a",
        state=LedgerState.DELIVERED,
        delivered_channel=channel,
        now=NOW,
        completed=done if via_finish else None,
    )


def _receipt(
    status: ReceiptStatus, provider_status: str = "", minutes: int = 1, **kw: object
) -> DeliveryReceipt:
    return DeliveryReceipt.model_validate(
        {
            "status": status,
            "provider_status": provider_status or status.value,
            "at": NOW + timedelta(minutes=minutes),
            "received_at": NOW + timedelta(minutes=minutes),
            **kw,
        }
    )


UNDELIVERED = _receipt(
    ReceiptStatus.FAILED,
    "undelivered",
    error_class=ErrorClass.TRANSIENT,
    error_code="30003",
)


@pytest.mark.parametrize("via_finish", [True, False])
@pytest.mark.parametrize("channel", [Channel.SMS, Channel.EMAIL])
def test_a_delivered_sms_or_email_is_found_by_provider_id(
    store: Store, channel: Channel, via_finish: bool
) -> None:
    record = _delivered(store, channel=channel, via_finish=via_finish)
    assert store.notification_for_provider_id(SID) == record
    assert store.notification_for_provider_id("SM" + "f" * 32) is None


def test_a_slack_delivery_is_not_indexed(store: Store) -> None:
    _delivered(store, channel=Channel.SLACK, provider_id="D1:1.2")
    assert store.notification_for_provider_id("D1:1.2") is None


def test_the_first_receipt_is_recorded_and_a_duplicate_changes_nothing(store: Store) -> None:
    before = _delivered(store)
    result = store.record_receipt("mtg-1#prep", seq=1, provider_id=SID, receipt=UNDELIVERED)
    assert (result.recorded, result.receipt) == (True, UNDELIVERED)
    stored = store.get_notification("mtg-1#prep")
    assert stored is not None
    attempts = list(before.attempts)
    attempts[1] = attempts[1].model_copy(update={"receipt": UNDELIVERED})
    assert stored == before.model_copy(update={"attempts": attempts})
    assert store.notification_for_provider_id(SID) == stored
    # Twilio repeats a callback: a second, equal receipt arriving later is not recorded
    repeat = UNDELIVERED.model_copy(update={"received_at": NOW + timedelta(minutes=2)})
    again = store.record_receipt("mtg-1#prep", seq=1, provider_id=SID, receipt=repeat)
    assert (again.recorded, again.receipt) == (False, UNDELIVERED)
    assert store.get_notification("mtg-1#prep") == stored


def test_a_resent_receipt_write_is_the_senders_own(store: Store) -> None:
    _delivered(store)
    assert store.record_receipt("mtg-1#prep", seq=1, provider_id=SID, receipt=UNDELIVERED).recorded
    resent = store.record_receipt("mtg-1#prep", seq=1, provider_id=SID, receipt=UNDELIVERED)
    assert resent.recorded  # the very same receipt: its first answer was lost


def test_a_stronger_receipt_replaces_a_weaker_one_never_the_reverse(store: Store) -> None:
    _delivered(store, channel=Channel.EMAIL)
    delayed = _receipt(ReceiptStatus.DELAYED, "DeliveryDelay", minutes=1)
    delivered = _receipt(ReceiptStatus.DELIVERED, "Delivery", minutes=2)
    complaint = _receipt(
        ReceiptStatus.FAILED, "Complaint", minutes=3, error_class=ErrorClass.PERMANENT
    )
    key = "mtg-1#prep"
    assert store.record_receipt(key, seq=1, provider_id=SID, receipt=delayed).recorded
    assert store.record_receipt(key, seq=1, provider_id=SID, receipt=delivered).recorded
    late_delay = store.record_receipt(key, seq=1, provider_id=SID, receipt=delayed)
    assert (late_delay.recorded, late_delay.receipt) == (False, delivered)
    assert store.record_receipt(key, seq=1, provider_id=SID, receipt=complaint).recorded
    late_delivery = store.record_receipt(key, seq=1, provider_id=SID, receipt=delivered)
    assert (late_delivery.recorded, late_delivery.receipt) == (False, complaint)
    stored = store.get_notification(key)
    assert stored is not None
    assert stored.attempts[1].receipt == complaint
    assert stored.attempts[0].receipt is None


@pytest.mark.parametrize(
    ("key", "seq", "provider_id"),
    [
        ("mtg-1#nope", 1, SID),  # no such record
        ("mtg-1#prep", 0, SID),  # the failed Slack attempt has no such id
        ("mtg-1#prep", 7, SID),  # no such attempt
        ("mtg-1#prep", 1, "SM" + "9" * 32),  # another message
    ],
)
def test_a_receipt_without_its_delivered_attempt_is_not_found(
    store: Store, key: str, seq: int, provider_id: str
) -> None:
    before = _delivered(store)
    with pytest.raises(NotFoundError):
        store.record_receipt(key, seq=seq, provider_id=provider_id, receipt=UNDELIVERED)
    assert store.get_notification("mtg-1#prep") == before
    assert store.get_notification("mtg-1#nope") is None


def test_a_receipt_before_the_cycle_is_finished_is_not_found(store: Store) -> None:
    store.claim_notification("k", "mtg-1", owner="a", now=NOW, lease_seconds=60)
    store.record_attempt(
        "k", owner="a", attempt=DeliveryAttempt(seq=0, channel=Channel.SMS, owner="a")
    )
    with pytest.raises(NotFoundError):
        store.record_receipt("k", seq=0, provider_id=SID, receipt=UNDELIVERED)


_STATUSES = st.sampled_from(list(ReceiptStatus))
_COUNTER = itertools.count()


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(order=st.lists(_STATUSES, min_size=1, max_size=6))
def test_any_order_of_receipts_leaves_the_strongest(
    store: Store, order: list[ReceiptStatus]
) -> None:
    key = f"mtg-1#prep:{abs(hash(tuple(order)))}-{next(_COUNTER)}"
    _delivered(store, key, provider_id=f"SM{next(_COUNTER):032x}")
    record = store.get_notification(key)
    assert record is not None
    provider_id = str(record.attempts[1].provider_id)
    recorded = []
    for n, status in enumerate(order):
        result = store.record_receipt(
            key, seq=1, provider_id=provider_id, receipt=_receipt(status, minutes=n + 1)
        )
        if result.recorded:
            recorded.append(status)
    strongest = max(order, key=RECEIPT_RANK.__getitem__)
    stored = store.get_notification(key)
    assert stored is not None and stored.attempts[1].receipt is not None
    assert stored.attempts[1].receipt.status == strongest
    ranks = [RECEIPT_RANK[s] for s in recorded]
    assert ranks == sorted(set(ranks))  # each recorded receipt was stronger than the last


def test_concurrent_receipts_the_strongest_stands(store: Store) -> None:
    _delivered(store)
    statuses = [ReceiptStatus.DELIVERED, ReceiptStatus.FAILED, ReceiptStatus.DELAYED] * 4
    barrier = threading.Barrier(len(statuses))
    errors: list[BaseException] = []

    def send(status: ReceiptStatus, n: int) -> None:
        try:
            barrier.wait(timeout=30)
            store.record_receipt(
                "mtg-1#prep", seq=1, provider_id=SID, receipt=_receipt(status, minutes=n)
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(s, n)) for n, s in enumerate(statuses)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    stored = store.get_notification("mtg-1#prep")
    assert stored is not None and stored.attempts[1].receipt is not None
    assert stored.attempts[1].receipt.status == ReceiptStatus.FAILED
