"""``workflows.receipts.apply_receipt`` on every store (SQLite, DynamoDB on moto): the lookup by
provider id, the strongest-wins write and the follow-up event, with a bus that records what is
published (the follow-up itself runs in the prep trigger: tests/slack/test_receipts.py)."""

from __future__ import annotations

from datetime import timedelta

from exec_assistant.components import Runtime
from exec_assistant.config import Settings
from exec_assistant.events.base import BusEvent
from exec_assistant.events.scheduler import UnavailableScheduler
from exec_assistant.models import (
    AckAction,
    Acknowledgement,
    AttemptStatus,
    Channel,
    DeliveryAttempt,
    DeliveryReceipt,
    ErrorClass,
    LedgerState,
    MeetingPrepRequired,
    ReceiptStatus,
)
from exec_assistant.notifications.service import NotificationService
from exec_assistant.store.base import Store
from exec_assistant.workflows.receipts import apply_receipt, follow_up_key
from tests.store.conftest import NOW, make_meeting, make_user

SID = "SM" + "7" * 32
KEY = "mtg-1#prep"


class RecordingBus:
    def __init__(self) -> None:
        self.published: list[BusEvent] = []

    def publish(self, events: list[BusEvent]) -> list[str]:
        self.published.extend(events)
        return [f"evt-{len(self.published)}"]


def _runtime(store: Store, bus: RecordingBus) -> Runtime:
    return Runtime(
        settings=Settings(),
        store=store,
        bus=bus,
        scheduler=UnavailableScheduler(),
        notifications=NotificationService(store, {}, clock=lambda: NOW),
        channels={},
        clock=lambda: NOW,
    )


def _sms_delivered(store: Store) -> None:
    store.put_user(make_user())
    store.upsert_meeting_calendar(make_meeting())
    store.claim_notification(KEY, "mtg-1", owner="a", now=NOW, lease_seconds=60)
    attempt = DeliveryAttempt(seq=0, channel=Channel.SMS, owner="a", started_at=NOW)
    store.record_attempt(KEY, owner="a", attempt=attempt)
    done = attempt.model_copy(
        update={"status": AttemptStatus.DELIVERED, "provider_id": SID, "completed_at": NOW}
    )
    store.finish_notification(
        KEY,
        owner="a",
        state=LedgerState.DELIVERED,
        delivered_channel=Channel.SMS,
        now=NOW,
        completed=done,
    )


def _receipt(status: ReceiptStatus, seconds: int, **kw: object) -> DeliveryReceipt:
    at = NOW + timedelta(seconds=seconds)
    return DeliveryReceipt.model_validate(
        {"status": status, "provider_status": status.value, "at": at, "received_at": at, **kw}
    )


def test_a_failure_publishes_the_follow_up_and_the_rest_change_nothing(store: Store) -> None:
    _sms_delivered(store)
    bus = RecordingBus()
    runtime = _runtime(store, bus)
    failed = _receipt(
        ReceiptStatus.FAILED, 20, error_class=ErrorClass.TRANSIENT, error_code="30003"
    )

    outcome = apply_receipt(runtime, Channel.SMS, SID, failed)
    assert (outcome.action, outcome.key, outcome.standing) == ("recorded", KEY, failed)
    assert outcome.follow_up == follow_up_key(KEY, SID) == f"{KEY}#receipt:{SID}"
    (event,) = bus.published
    detail = MeetingPrepRequired.model_validate(event.detail)
    assert (event.source, event.detail_type) == ("exec-assistant.reminders", "MeetingPrepRequired")
    assert (detail.user_id, detail.source_key, detail.receipt_for) == ("usr-1", KEY, SID)
    assert detail.idempotency_key() == outcome.follow_up
    # a repeated failure publishes the same follow-up again (its claim makes it once)
    again = apply_receipt(runtime, Channel.SMS, SID, _receipt(ReceiptStatus.FAILED, 30))
    assert (again.action, again.standing, again.follow_up) == (
        "unchanged",
        failed,
        outcome.follow_up,
    )
    # a late delivered: contradicted, nothing published, the failure stands
    late = apply_receipt(runtime, Channel.SMS, SID, _receipt(ReceiptStatus.DELIVERED, 40))
    assert (late.action, late.standing, late.follow_up) == ("unchanged", failed, None)
    assert len(bus.published) == 2
    record = store.get_notification(KEY)
    assert record is not None and record.attempts[0].receipt == failed


def test_unknown_wrong_channel_and_acknowledged_cycles_publish_nothing(store: Store) -> None:
    _sms_delivered(store)
    bus = RecordingBus()
    runtime = _runtime(store, bus)
    failed = _receipt(ReceiptStatus.FAILED, 20)
    assert apply_receipt(runtime, Channel.SMS, "SM" + "0" * 32, failed).action == "unknown"
    assert apply_receipt(runtime, Channel.EMAIL, SID, failed).action == "unknown"
    assert store.get_notification(KEY) is not None
    ack = Acknowledgement(channel=Channel.SLACK, action=AckAction.START_PREP, at=NOW)
    assert store.acknowledge_notification(KEY, ack).recorded
    outcome = apply_receipt(runtime, Channel.SMS, SID, failed)
    assert (outcome.action, outcome.follow_up) == ("recorded", None)
    assert bus.published == []


def test_a_failure_for_a_removed_meeting_publishes_nothing(store: Store) -> None:
    _sms_delivered(store)
    assert store.delete_meeting("mtg-1")
    bus = RecordingBus()
    outcome = apply_receipt(
        _runtime(store, bus), Channel.SMS, SID, _receipt(ReceiptStatus.FAILED, 9)
    )
    assert (outcome.action, outcome.follow_up) == ("recorded", None)
    assert bus.published == []
