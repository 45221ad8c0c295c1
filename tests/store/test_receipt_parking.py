"""Receipts that arrive before their delivery is recorded, on every store (SQLite, DynamoDB on
moto): ``Store.park_receipt`` (the contract) and ``apply_receipt`` with the target a message
carries, against the real twilio client on the loopback Twilio fake with the fault injected —
the status callback arriving while Twilio answers (before the ledger write), and the worker
killed between the send and the write (the retry reconciles the attempt much later)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest

from exec_assistant.errors import NotFoundError
from exec_assistant.models import (
    AttemptStatus,
    Channel,
    DeliveryAttempt,
    DeliveryReceipt,
    ErrorClass,
    LedgerState,
    MeetingPrepRequired,
    ParkedReceipt,
    ReceiptStatus,
)
from exec_assistant.notifications.channels.sms import SmsChannel
from exec_assistant.notifications.receipt_routing import ReceiptTarget, target_from_query
from exec_assistant.notifications.service import NotificationService
from exec_assistant.notifications.types import (
    BeforeRequest,
    PrepNotification,
)
from exec_assistant.store.base import Store
from exec_assistant.store.ledger_rules import MAX_PARKED_RECEIPTS
from exec_assistant.workflows.receipts import apply_parked_receipts, apply_receipt, follow_up_key
from tests.fakes.fixtures import fake_twilio
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.store.conftest import NOW
from tests.store.test_receipt_workflow import SID, RecordingBus, _receipt
from tests.store.test_sms_opt_out import _runtime, _service, _sms_then_email

__all__ = ["fake_twilio"]

KEY = "mtg-1#prep"


def _failed(seconds: int = 5, code: str = "30003") -> DeliveryReceipt:
    return _receipt(
        ReceiptStatus.FAILED,
        seconds,
        provider_status="undelivered",
        error_class=ErrorClass.TRANSIENT,
        error_code=code,
    )


def _parked(receipt: DeliveryReceipt, *, seq: int = 0, sid: str = SID) -> ParkedReceipt:
    return ParkedReceipt(seq=seq, channel=Channel.SMS, provider_id=sid, receipt=receipt)


def _started(store: Store) -> DeliveryAttempt:
    """A claimed cycle whose SMS request may have left: attempt 0 STARTED."""
    store.claim_notification(KEY, "mtg-1", owner="a", now=NOW, lease_seconds=60)
    attempt = DeliveryAttempt(seq=0, channel=Channel.SMS, owner="a", started_at=NOW)
    store.record_attempt(KEY, owner="a", attempt=attempt)
    return attempt


def _delivered(attempt: DeliveryAttempt, sid: str = SID) -> DeliveryAttempt:
    return attempt.model_copy(
        update={"status": AttemptStatus.DELIVERED, "provider_id": sid, "completed_at": NOW}
    )


def _finish(store: Store, attempt: DeliveryAttempt) -> Any:
    return store.finish_notification(
        KEY,
        owner="a",
        state=LedgerState.DELIVERED,
        delivered_channel=Channel.SMS,
        now=NOW,
        completed=_delivered(attempt),
    )


# --- the contract -------------------------------------------------------------------------------


def test_a_receipt_parked_before_the_finish_comes_back_with_it(store: Store) -> None:
    attempt = _started(store)
    parked = _parked(_failed())
    assert store.park_receipt(KEY, parked) is True
    before = store.get_notification(KEY)
    assert before is not None and before.early_receipts == [parked]
    assert before.attempts[0].status == AttemptStatus.STARTED  # nothing else changed
    finished = _finish(store, attempt)
    assert finished.early_receipts == [parked]
    # once DELIVERED nothing is parked: the caller records it instead
    assert store.park_receipt(KEY, _parked(_failed(9))) is False
    after = store.get_notification(KEY)
    assert after is not None and after.early_receipts == [parked]


def test_a_released_claim_keeps_its_parked_receipts_when_taken_over(store: Store) -> None:
    _started(store)
    store.finish_notification(
        KEY, owner="a", state=LedgerState.RELEASED, delivered_channel=None, now=NOW
    )
    parked = _parked(_failed())
    assert store.park_receipt(KEY, parked) is True
    claim = store.claim_notification(
        KEY, "mtg-1", owner="b", now=NOW + timedelta(minutes=5), lease_seconds=60
    )
    assert claim.owned and claim.record.early_receipts == [parked]


def test_nothing_is_parked_on_an_exhausted_cycle_or_a_full_one(store: Store) -> None:
    _started(store)
    for n in range(MAX_PARKED_RECEIPTS):
        assert store.park_receipt(KEY, _parked(_failed(n))) is True
    assert store.park_receipt(KEY, _parked(_failed(99))) is False  # full: a flood of repeats
    full = store.get_notification(KEY)
    assert full is not None and len(full.early_receipts) == MAX_PARKED_RECEIPTS
    store.finish_notification(
        KEY, owner="a", state=LedgerState.EXHAUSTED, delivered_channel=None, now=NOW
    )
    record = store.get_notification(KEY)
    assert record is not None and record.state == LedgerState.EXHAUSTED
    # exhausted: never delivered, so nothing to wait for (the caller logs it as unknown)
    assert store.park_receipt(KEY, _parked(_failed(100))) is False
    assert store.get_notification(KEY) == record


def test_a_receipt_naming_no_such_cycle_or_attempt_is_not_found(store: Store) -> None:
    _started(store)
    with pytest.raises(NotFoundError):
        store.park_receipt("mtg-404#prep", _parked(_failed()))
    with pytest.raises(NotFoundError):
        store.park_receipt(KEY, _parked(_failed(), seq=1))  # never recorded
    email = ParkedReceipt(seq=0, channel=Channel.EMAIL, provider_id="m-1", receipt=_failed())
    with pytest.raises(NotFoundError):
        store.park_receipt(KEY, email)  # attempt 0 is an SMS
    record = store.get_notification(KEY)
    assert record is not None and record.early_receipts == []


def test_parking_races_the_finish_and_the_receipt_is_never_lost(store: Store) -> None:
    """A callback on one thread, the finish on another, many times: the receipt is either
    parked before the finish (and comes back with it) or recorded after it."""
    for round_ in range(12):
        key = f"mtg-1#reminder:r{round_}"
        store.claim_notification(key, "mtg-1", owner="a", now=NOW, lease_seconds=60)
        attempt = DeliveryAttempt(seq=0, channel=Channel.SMS, owner="a", started_at=NOW)
        store.record_attempt(key, owner="a", attempt=attempt)
        runtime = _runtime(store)
        barrier = threading.Barrier(2)
        finished: list[Any] = []

        def finish(k: str = key, a: DeliveryAttempt = attempt, barrier: Any = barrier) -> None:
            barrier.wait(timeout=10)
            finished.append(  # noqa: B023 - joined below, within the round
                store.finish_notification(
                    k,
                    owner="a",
                    state=LedgerState.DELIVERED,
                    delivered_channel=Channel.SMS,
                    now=NOW,
                    completed=_delivered(a),
                )
            )

        def callback(k: str = key, runtime: Any = runtime, barrier: Any = barrier) -> None:
            barrier.wait(timeout=10)
            target = ReceiptTarget(key=k, seq=0)
            apply_receipt(runtime, Channel.SMS, SID, _receipt(ReceiptStatus.DELIVERED, 3), target)

        threads = [threading.Thread(target=finish), threading.Thread(target=callback)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        (record,) = finished
        apply_parked_receipts(runtime, key, record.early_receipts)  # what the trigger does
        stored = store.get_notification(key)
        assert stored is not None and stored.attempts[0].receipt is not None, round_
        assert stored.attempts[0].receipt.status == ReceiptStatus.DELIVERED


# --- the workflow, with the fault injected ------------------------------------------------------


def _sms_service(store: Store, twilio: FakeTwilioAPI) -> NotificationService:
    return _service(store, twilio, "https://hooks.example.test/twilio/status")[0]


def _callback_target(request: Any) -> ReceiptTarget:
    target = target_from_query(urlsplit(request.params["StatusCallback"]).query)
    assert target is not None
    return target


def test_a_failure_receipt_before_the_ledger_write_is_parked_then_moves_the_cycle_on(
    store: Store, fake_twilio: FakeTwilioAPI
) -> None:
    user, meeting = _sms_then_email(store)
    bus = RecordingBus()
    runtime = _runtime(store)
    runtime.bus = bus
    outcomes: list[Any] = []

    def callback_now(request: Any) -> None:  # Twilio has created the message, not answered
        sid = fake_twilio.created[-1]["sid"]
        for receipt in (_failed(1), _failed(2)):  # and Twilio repeats itself
            outcomes.append(
                apply_receipt(runtime, Channel.SMS, sid, receipt, _callback_target(request))
            )

    fake_twilio.on("messages.create", "acted", callback_now)
    result = _sms_service(store, fake_twilio).notify(meeting, user, key=KEY)
    assert [o.action for o in outcomes] == ["parked", "parked"]
    assert bus.published == []  # nothing acted on before the delivery is recorded
    assert result.delivered_channel == Channel.SMS
    sid = str(result.attempts[0].provider_id)
    assert [p.provider_id for p in result.early_receipts] == [sid, sid]

    applied = apply_parked_receipts(runtime, KEY, result.early_receipts)  # the trigger's step
    assert [o.action for o in applied] == ["recorded", "unchanged"]
    record = store.get_notification(KEY)
    assert record is not None and record.attempts[0].receipt == _failed(1)
    published = {
        MeetingPrepRequired.model_validate(e.detail).idempotency_key() for e in bus.published
    }
    assert published == {follow_up_key(KEY, sid)}  # one follow-up (its claim makes it once)
    # applied again (a crash after, a redelivered event): the same state, the same follow-up
    again = apply_parked_receipts(runtime, KEY, record.early_receipts)
    assert {o.follow_up for o in again} == {follow_up_key(KEY, sid)}
    assert store.get_notification(KEY) == record


class KilledAfterSend:
    """The SMS channel whose worker dies right after Twilio answered, before the ledger write."""

    name = Channel.SMS

    def __init__(self, inner: SmsChannel) -> None:
        self.inner = inner

    def skip_reason(self, user: Any) -> str | None:
        return self.inner.skip_reason(user)

    def send(
        self, notification: PrepNotification, *, attempt: int, before_request: BeforeRequest
    ) -> str:
        self.inner.send(notification, attempt=attempt, before_request=before_request)
        raise SystemExit("killed")  # not an Exception: nothing in the walk handles it


def test_a_receipt_after_a_kill_between_send_and_write_is_applied_when_the_retry_reconciles(
    store: Store, fake_twilio: FakeTwilioAPI
) -> None:
    user, meeting = _sms_then_email(store)
    runtime = _runtime(store)
    service = _sms_service(store, fake_twilio)
    sms = service.channels[Channel.SMS]
    assert isinstance(sms, SmsChannel)
    dying = NotificationService(
        store,
        {Channel.SMS: KilledAfterSend(sms), Channel.EMAIL: service.channels[Channel.EMAIL]},
        clock=lambda: NOW,
    )
    with pytest.raises(SystemExit):
        dying.notify(meeting, user, key=KEY)
    (message,) = fake_twilio.created
    stuck = store.get_notification(KEY)
    assert stuck is not None and stuck.attempts[0].status == AttemptStatus.STARTED

    # the callbacks come while nobody knows the SMS was sent: delivered, then (later) failed
    target = _callback_target(fake_twilio.messages[0])
    delivered = _receipt(ReceiptStatus.DELIVERED, 4)
    assert apply_receipt(runtime, Channel.SMS, message["sid"], delivered, target).action == "parked"
    assert (
        apply_receipt(runtime, Channel.SMS, message["sid"], _failed(6), target).action == "parked"
    )

    # the retry, after the lease: reconciles the attempt from Twilio's list, sends nothing new
    later = NotificationService(store, service.channels, clock=lambda: NOW + timedelta(minutes=3))
    result = later.notify(meeting, user, key=KEY)
    assert result.delivered_channel == Channel.SMS
    assert result.attempts[0].provider_id == message["sid"]
    assert len(fake_twilio.created) == 1  # no second SMS
    applied = apply_parked_receipts(runtime, KEY, result.early_receipts)
    assert [o.action for o in applied] == ["recorded", "recorded"]
    record = store.get_notification(KEY)
    assert record is not None and record.attempts[0].receipt == _failed(6)  # the strongest


def test_a_parked_receipt_for_another_message_is_never_applied(
    store: Store, fake_twilio: FakeTwilioAPI
) -> None:
    """A receipt naming this cycle but another message (a forged or stale target) waits on the
    record and is dropped when the delivery turns out to be a different message."""
    attempt = _started(store)
    runtime = _runtime(store)
    other = "SM" + "9" * 32
    target = ReceiptTarget(key=KEY, seq=0)
    assert apply_receipt(runtime, Channel.SMS, other, _failed(), target).action == "parked"
    finished = _finish(store, attempt)
    applied = apply_parked_receipts(runtime, KEY, finished.early_receipts)
    assert [o.action for o in applied] == ["unknown"]
    record = store.get_notification(KEY)
    assert record is not None and record.attempts[0].receipt is None
