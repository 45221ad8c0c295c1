"""Twilio's 21610 ("unsubscribed recipient") records the SMS opt-out as a STOP reply does, on
every store (SQLite, DynamoDB on moto): a send refused with 21610 (the real twilio client against
the loopback Twilio fake) and a status callback with ``ErrorCode`` 21610 (``apply_receipt``).
The cycle moves on to email either way; later cycles skip SMS; START clears it."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest

from exec_assistant.components import Runtime
from exec_assistant.config import Settings
from exec_assistant.errors import StoreUnavailableError
from exec_assistant.events.scheduler import UnavailableScheduler
from exec_assistant.models import (
    AttemptStatus,
    Channel,
    ChatSession,
    DeliveryReceipt,
    ErrorClass,
    Meeting,
    NotificationPreferences,
    ReceiptStatus,
    User,
)
from exec_assistant.notifications.channels.sms import SmsChannel
from exec_assistant.notifications.service import NotificationService
from exec_assistant.store.base import Store
from exec_assistant.workflows.prep_conversation import ConversationTurn
from exec_assistant.workflows.receipts import apply_receipt
from exec_assistant.workflows.sms_replies import answer_sms
from tests.fakes.fixtures import fake_twilio
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.store.conftest import NOW, make_meeting, make_user
from tests.store.test_receipt_workflow import SID, RecordingBus, _receipt, _sms_delivered
from tests.workflows.conftest import CountingChannel

__all__ = ["fake_twilio"]

PHONE = "+14155550123"  # make_user's
STOP_SKIP = "user opted out of SMS (replied STOP)"


class NoConversation:
    """STOP and START never reach the prep conversation."""

    def start(self, session: ChatSession, meeting: Meeting, user: User) -> str:
        raise AssertionError("not used")

    def reply(self, *args: Any, **kwargs: Any) -> ConversationTurn:
        raise AssertionError("not used")


def _service(
    store: Store, twilio: FakeTwilioAPI, status_callback: str | None = None
) -> tuple[NotificationService, CountingChannel]:
    """SMS (the real twilio client on ``twilio``) then email (a counting stub)."""
    sms = SmsChannel(
        account_sid="AC" + "c" * 32,
        auth_token="token",
        from_number="+15005550006",
        api_url=twilio.url,
        max_retries=0,
        status_callback=status_callback,
    )
    email = CountingChannel(Channel.EMAIL)
    return NotificationService(
        store, {Channel.SMS: sms, Channel.EMAIL: email}, clock=lambda: NOW
    ), email


def _runtime(store: Store, service: NotificationService | None = None) -> Runtime:
    return Runtime(
        settings=Settings(),
        store=store,
        bus=RecordingBus(),
        scheduler=UnavailableScheduler(),
        notifications=service or NotificationService(store, {}, clock=lambda: NOW),
        channels={},
        clock=lambda: NOW,
    )


def _sms_then_email(store: Store) -> tuple[User, Meeting]:
    prefs = NotificationPreferences(channel_order=[Channel.SMS, Channel.EMAIL])
    user = store.put_user(make_user(preferences=prefs))
    meeting = store.upsert_meeting_calendar(make_meeting())
    return user, meeting


def _user(store: Store) -> User:
    user = store.get_user("usr-1")
    assert user is not None
    return user


def _fields(caplog: pytest.LogCaptureFixture, message: str) -> list[dict[str, Any]]:
    return [r.fields for r in caplog.records if r.getMessage() == message]  # type: ignore[attr-defined]


def test_a_send_refused_with_21610_opts_out_moves_on_and_later_cycles_skip_sms(
    store: Store, fake_twilio: FakeTwilioAPI, caplog: pytest.LogCaptureFixture
) -> None:
    user, meeting = _sms_then_email(store)
    service, email = _service(store, fake_twilio)
    fake_twilio.fail_next(error_code=21610)
    with caplog.at_level(logging.INFO):
        result = service.notify(meeting, user, key="mtg-1#prep")

    assert result.delivered_channel == Channel.EMAIL  # this cycle still reached the executive
    refused, emailed = result.attempts
    assert (refused.channel, refused.status) == (Channel.SMS, AttemptStatus.FAILED)
    assert (refused.error_class, refused.error_code) == (ErrorClass.PERMANENT, "21610")
    assert (emailed.channel, emailed.status) == (Channel.EMAIL, AttemptStatus.DELIVERED)
    assert len(fake_twilio.messages) == 1
    assert _user(store).sms_opted_out_at == NOW
    (line,) = _fields(caplog, "sms.opted_out")
    assert line["user_id"] == "usr-1" and line["source"] == "send_refused"
    assert (line["key"], line["meeting_id"], line["attempt"]) == ("mtg-1#prep", "mtg-1", 0)

    # the next cycle skips SMS as after a STOP reply: no request reaches Twilio
    later = service.notify(meeting, _user(store), key="mtg-1#reminder:r1")
    skipped, emailed_again = later.attempts
    assert (skipped.status, skipped.reason) == (AttemptStatus.SKIPPED, STOP_SKIP)
    assert emailed_again.status == AttemptStatus.DELIVERED
    assert len(fake_twilio.messages) == 1
    assert [n.key for n in email.sent] == ["mtg-1#prep", "mtg-1#reminder:r1"]

    # START clears it, as it clears a STOP; SMS goes out again
    runtime = _runtime(store, service)
    assert answer_sms(runtime, NoConversation(), sender=PHONE, body="START") is None
    assert _user(store).sms_opted_out_at is None
    again = service.notify(meeting, _user(store), key="mtg-1#reminder:r2")
    assert again.delivered_channel == Channel.SMS
    assert len(fake_twilio.messages) == 2


def test_a_stop_reply_and_a_21610_are_one_state_written_once(
    store: Store, fake_twilio: FakeTwilioAPI, caplog: pytest.LogCaptureFixture
) -> None:
    user, meeting = _sms_then_email(store)
    runtime = _runtime(store)
    assert answer_sms(runtime, NoConversation(), sender=PHONE, body="STOP") is None
    assert _user(store).sms_opted_out_at == NOW
    # Twilio refuses a send anyway (a cycle that read the user before the STOP): idempotent
    service, _ = _service(store, fake_twilio)
    fake_twilio.fail_next(error_code=21610)
    with caplog.at_level(logging.INFO):
        result = service.notify(meeting, user, key="mtg-1#prep")
    assert result.delivered_channel == Channel.EMAIL
    stored = _user(store)
    assert stored.sms_opted_out_at == NOW and stored.updated_at == NOW
    # already opted out: nothing written again (only the reply's line)
    assert [f["source"] for f in _fields(caplog, "sms.opted_out")] == ["reply"]


def test_an_opt_out_the_store_cannot_write_still_moves_on_to_email(
    store: Store,
    fake_twilio: FakeTwilioAPI,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user, meeting = _sms_then_email(store)
    service, _ = _service(store, fake_twilio)

    def unavailable(_: User) -> User:
        raise StoreUnavailableError("users table throttled")

    monkeypatch.setattr(store, "put_user", unavailable)  # the ledger works, the user write not
    fake_twilio.fail_next(error_code=21610)
    with caplog.at_level(logging.INFO):
        result = service.notify(meeting, user, key="mtg-1#prep")
    assert result.delivered_channel == Channel.EMAIL
    assert _user(store).sms_opted_out_at is None
    (line,) = _fields(caplog, "sms.opt_out_failed")
    assert (line["user_id"], line["key"], line["error_class"]) == (
        "usr-1",
        "mtg-1#prep",
        ErrorClass.TRANSIENT,
    )


def _unsubscribed(seconds: int = 20) -> DeliveryReceipt:
    return _receipt(
        ReceiptStatus.FAILED,
        seconds,
        provider_status="undelivered",
        error_class=ErrorClass.PERMANENT,
        error_code="21610",
    )


def test_a_status_callback_with_21610_opts_out_once(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    _sms_delivered(store)
    runtime = _runtime(store)
    with caplog.at_level(logging.INFO):
        outcome = apply_receipt(runtime, Channel.SMS, SID, _unsubscribed())
    assert outcome.action == "recorded" and outcome.follow_up is not None  # moves on to email
    opted_out_at = NOW + timedelta(seconds=20)  # when the callback arrived
    assert _user(store).sms_opted_out_at == opted_out_at
    (line,) = _fields(caplog, "sms.opted_out")
    assert (line["source"], line["user_id"], line["provider_id"], line["key"]) == (
        "status_callback",
        "usr-1",
        SID,
        "mtg-1#prep",
    )
    # START, then Twilio repeats the old callback: the executive stays opted in
    assert answer_sms(runtime, NoConversation(), sender=PHONE, body="START") is None
    assert _user(store).sms_opted_out_at is None
    again = apply_receipt(runtime, Channel.SMS, SID, _unsubscribed(40))
    assert again.action == "unchanged"
    assert _user(store).sms_opted_out_at is None


def test_other_failure_codes_do_not_opt_out(store: Store) -> None:
    _sms_delivered(store)
    runtime = _runtime(store)
    blocked = _receipt(
        ReceiptStatus.FAILED, 20, error_class=ErrorClass.PERMANENT, error_code="30004"
    )
    assert apply_receipt(runtime, Channel.SMS, SID, blocked).action == "recorded"
    assert _user(store).sms_opted_out_at is None


def test_a_21610_callback_for_a_removed_meeting_opts_out_nobody(store: Store) -> None:
    _sms_delivered(store)
    store.delete_meeting("mtg-1")
    runtime = _runtime(store)
    assert apply_receipt(runtime, Channel.SMS, SID, _unsubscribed()).action == "recorded"
    assert _user(store).sms_opted_out_at is None
