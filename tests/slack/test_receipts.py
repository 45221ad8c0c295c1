"""SMS delivery receipts (issue 14): Twilio's status callbacks through ``POST /twilio/status``.

The real runtime (SQLite, local bus and scheduler, prep trigger) with the real twilio client
against the loopback Twilio fake and the real boto3 SES client against moto; callbacks signed
here as Twilio signs them and checked by twilio's ``RequestValidator``. The test clock moves only
when a test moves it.
"""

from __future__ import annotations

import json
from datetime import time, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from pydantic import SecretStr

from exec_assistant.config import Settings
from exec_assistant.events.local_scheduler import LocalScheduler
from exec_assistant.interfaces.twilio_webhooks import STATUS_PATH, WebhookReply, handle_status
from exec_assistant.models import (
    AttemptStatus,
    Channel,
    ErrorClass,
    LedgerRecord,
    LedgerState,
    Meeting,
    MeetingStatus,
    NotificationPreferences,
    QuietHours,
    ReceiptStatus,
    User,
)
from exec_assistant.runtime import Runtime
from exec_assistant.workflows.receipts import follow_up_key
from exec_assistant.workflows.timeline import CycleKind, build_timeline
from tests.fakes.fixtures import fake_ses, fake_twilio, moto_server
from tests.fakes.ses import SENDER, FakeSES
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.slack.conftest import Clock, bot_settings
from tests.slack.harness import LambdaTransport, Payloads
from tests.slack.test_acknowledgements import (
    AUTH_TOKEN,
    PHONE,
    PUBLIC,
    notify,
    sms,
    twilio_signature,
)

__all__ = ["fake_ses", "fake_twilio", "moto_server"]

ACCOUNT = "AC" + "b" * 32


def receipt_settings(
    fake_slack: FakeSlackAPI, fake_twilio: FakeTwilioAPI, tmp_path: Any, **extra: Any
) -> Settings:
    """Slack, SMS (the Twilio fake, status callbacks to :data:`PUBLIC`) and email (moto)."""
    return bot_settings(fake_slack, tmp_path).model_copy(
        update={
            "twilio_account_sid": SecretStr(ACCOUNT),
            "twilio_auth_token": SecretStr(AUTH_TOKEN),
            "twilio_from_number": SecretStr("+15005550006"),
            "twilio_api_url": fake_twilio.url,
            "public_base_url": PUBLIC,
            "ses_from_email": SENDER,
            **extra,
        }
    )


@pytest.fixture
def settings(
    fake_slack: FakeSlackAPI, fake_twilio: FakeTwilioAPI, fake_ses: FakeSES, tmp_path: Any
) -> Settings:
    return receipt_settings(fake_slack, fake_twilio, tmp_path)


def reached_by(runtime: Runtime, owner: User, *order: Channel, **preferences: Any) -> User:
    """``owner`` with a phone, reached on ``order`` (and other ``preferences``), stored."""
    chosen = NotificationPreferences(channel_order=list(order), **preferences)
    return runtime.store.put_user(owner.model_copy(update={"phone": PHONE, "preferences": chosen}))


@pytest.fixture
def sms_first(runtime: Runtime, owner: User) -> User:
    """The executive reached by SMS first, then email (no Slack in the order)."""
    return reached_by(runtime, owner, Channel.SMS, Channel.EMAIL)


def status(
    runtime: Runtime,
    sid: str,
    message_status: str,
    *,
    error_code: str | None = None,
    url: str = PUBLIC + STATUS_PATH,
) -> WebhookReply:
    """A status callback for ``sid`` as Twilio posts it (signed) to ``url``: by default the
    address of a message sent without a key and attempt (before they were carried)."""
    params = {
        "AccountSid": ACCOUNT,
        "ApiVersion": "2010-04-01",
        "From": "+15005550006",
        "MessageSid": sid,
        "MessageStatus": message_status,
        "SmsSid": sid,
        "SmsStatus": message_status,
        "To": PHONE,
    }
    if error_code is not None:
        params["ErrorCode"] = error_code
    headers = {"x-twilio-signature": twilio_signature(AUTH_TOKEN, url, params)}
    return handle_status(runtime, url=url, headers=headers, body=urlencode(params).encode())


def prep_record(runtime: Runtime, meeting: Meeting) -> LedgerRecord:
    record = runtime.store.get_notification(f"{meeting.meeting_id}#prep")
    assert record is not None
    return record


def last_home_line(fake_slack: FakeSlackAPI) -> str:
    """The App Home's "last notification" line, as last published."""
    view = fake_slack.calls_to("views.publish")[-1].params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    (line,) = [b for b in view["blocks"] if b.get("block_id") == "last_notification"]
    return str(line["elements"][0]["text"])


def sent_by_sms(runtime: Runtime, meeting: Meeting) -> tuple[LedgerRecord, str]:
    notify(runtime, meeting)
    record = prep_record(runtime, meeting)
    assert record.delivered_channel == Channel.SMS
    sid = str(record.attempts[-1].provider_id)
    return record, sid


def test_an_undelivered_receipt_moves_to_email_within_the_same_minute(
    runtime: Runtime,
    sms_first: User,
    meeting: Meeting,
    fake_twilio: FakeTwilioAPI,
    fake_ses: FakeSES,
    clock: Clock,
) -> None:
    record, sid = sent_by_sms(runtime, meeting)
    (message,) = fake_twilio.messages
    key = f"{meeting.meeting_id}%23prep"  # the cycle's ledger key and the attempt ride along
    assert message.params["StatusCallback"] == f"{PUBLIC}{STATUS_PATH}?key={key}&attempt=0"
    sms_sent_at = record.attempts[-1].completed_at
    assert sms_sent_at is not None
    assert fake_ses.sends == []

    clock.advance(timedelta(seconds=5))
    assert status(runtime, sid, "sent").status == 200  # progress: nothing changes
    assert prep_record(runtime, meeting) == record
    clock.advance(timedelta(seconds=20))
    assert status(runtime, sid, "undelivered", error_code="30003").status == 200

    receipt = prep_record(runtime, meeting).attempts[-1].receipt
    assert receipt is not None
    assert (receipt.status, receipt.provider_status) == (ReceiptStatus.FAILED, "undelivered")
    assert (receipt.error_class, receipt.error_code) == (ErrorClass.TRANSIENT, "30003")
    follow_up = runtime.store.get_notification(follow_up_key(record.key, sid))
    assert follow_up is not None
    assert (follow_up.state, follow_up.delivered_channel) == (LedgerState.DELIVERED, Channel.EMAIL)
    (email_attempt,) = follow_up.attempts  # only the channels after SMS were walked
    assert email_attempt.completed_at is not None
    assert email_attempt.completed_at - sms_sent_at < timedelta(minutes=1)
    (email,) = fake_ses.delivered
    assert email.to == ["ada@example.com"]
    assert len(fake_twilio.messages) == 1  # no second SMS
    stored = runtime.store.get_meeting(meeting.meeting_id)
    assert stored is not None
    assert stored.notification_channel == Channel.EMAIL
    assert stored.notification_cycle == f"prep#receipt:{sid}"  # answers now go to this cycle
    timeline = build_timeline(
        stored, runtime.store.list_notifications_for_meeting(stored.meeting_id)
    )
    assert [c.kind for c in timeline.cycles] == [CycleKind.PREP, CycleKind.RECEIPT]


def test_duplicate_and_out_of_order_callbacks_never_send_twice(
    runtime: Runtime,
    sms_first: User,
    meeting: Meeting,
    fake_twilio: FakeTwilioAPI,
    fake_ses: FakeSES,
    clock: Clock,
) -> None:
    record, sid = sent_by_sms(runtime, meeting)
    for callback in ["failed", "undelivered", "failed", "sent", "queued"]:
        clock.advance(timedelta(seconds=3))
        assert status(runtime, sid, callback, error_code="30005").status == 200
    # a late "delivered" after the failure: recorded as contradicted, nothing sent, no undo
    assert status(runtime, sid, "delivered").status == 200
    receipt = prep_record(runtime, meeting).attempts[-1].receipt
    assert receipt is not None
    assert (receipt.status, receipt.provider_status) == (ReceiptStatus.FAILED, "failed")
    assert receipt.error_class == ErrorClass.PERMANENT
    assert len(fake_ses.delivered) == 1  # one follow-up, however many failure callbacks
    assert len(fake_twilio.messages) == 1
    assert [r.key for r in runtime.store.list_notifications_for_meeting(meeting.meeting_id)] == [
        record.key,
        follow_up_key(record.key, sid),
    ]


def test_delivered_then_repeats_completes_the_receipt_and_sends_nothing(
    runtime: Runtime, sms_first: User, meeting: Meeting, fake_ses: FakeSES, clock: Clock
) -> None:
    _, sid = sent_by_sms(runtime, meeting)
    clock.advance(timedelta(seconds=8))
    for callback in ["delivered", "sent", "delivered"]:
        assert status(runtime, sid, callback).status == 200
    receipt = prep_record(runtime, meeting).attempts[-1].receipt
    assert receipt is not None
    assert (receipt.status, receipt.at) == (ReceiptStatus.DELIVERED, clock.now)
    assert receipt.error_class is None
    assert fake_ses.sends == []
    assert len(runtime.store.list_notifications_for_meeting(meeting.meeting_id)) == 1


def test_a_failure_after_the_executive_answered_records_and_sends_nothing(
    runtime: Runtime, sms_first: User, meeting: Meeting, fake_ses: FakeSES, clock: Clock
) -> None:
    record, sid = sent_by_sms(runtime, meeting)
    assert "Snoozed until" in sms(runtime, "LATER 30").body
    clock.advance(timedelta(minutes=1))
    assert status(runtime, sid, "undelivered", error_code="30008").status == 200
    stored = prep_record(runtime, meeting)
    receipt = stored.attempts[-1].receipt
    assert receipt is not None and receipt.error_class == ErrorClass.UNKNOWN
    assert stored.acknowledgement is not None
    assert fake_ses.sends == []
    assert runtime.store.get_notification(follow_up_key(record.key, sid)) is None


def test_unknown_messages_are_answered_and_change_nothing(
    runtime: Runtime, sms_first: User, meeting: Meeting, fake_ses: FakeSES
) -> None:
    record, _ = sent_by_sms(runtime, meeting)
    before = runtime.store.list_notifications_for_meeting(meeting.meeting_id)
    assert status(runtime, "SM" + "e" * 32, "undelivered", error_code="30003").status == 200
    assert runtime.store.list_notifications_for_meeting(meeting.meeting_id) == before
    assert fake_ses.sends == []
    # signed but not a status callback: a clear 400, nothing changes
    assert status(runtime, "not-a-sid", "failed").status == 400
    assert prep_record(runtime, meeting) == record


def test_no_follow_up_when_no_channel_comes_after_sms(
    runtime: Runtime,
    owner: User,
    meeting: Meeting,
    fake_ses: FakeSES,
    fake_slack: FakeSlackAPI,
    via_lambda: LambdaTransport,
    payloads: Payloads,
) -> None:
    reached_by(runtime, owner, Channel.SMS)
    record, sid = sent_by_sms(runtime, meeting)
    assert status(runtime, sid, "undelivered", error_code="30006").status == 200
    assert runtime.store.get_notification(follow_up_key(record.key, sid)) is None
    assert fake_ses.sends == []
    via_lambda.send(payloads.home_opened())  # the App Home's line says so
    assert "sent by sms Mon 10:00, then failed (undelivered 30006)" in last_home_line(fake_slack)
    stored = runtime.store.get_meeting(meeting.meeting_id)
    assert stored is not None and stored.status == MeetingStatus.PREP_SCHEDULED


# --- STOP, quiet hours ------------------------------------------------------------------------


def test_stop_then_a_new_cycle_skips_sms_for_email_until_start(
    runtime: Runtime,
    sms_first: User,
    meeting: Meeting,
    fake_twilio: FakeTwilioAPI,
    fake_ses: FakeSES,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sms(runtime, "STOP")
    with caplog.at_level("INFO", logger="exec_assistant.notifications.service"):
        notify(runtime, meeting)
    record = prep_record(runtime, meeting)
    skipped, emailed = record.attempts
    assert (skipped.channel, skipped.status) == (Channel.SMS, AttemptStatus.SKIPPED)
    assert skipped.reason == "user opted out of SMS (replied STOP)"
    assert (emailed.channel, emailed.status) == (Channel.EMAIL, AttemptStatus.DELIVERED)
    assert fake_twilio.messages == []
    (skip_line,) = [r for r in caplog.records if r.getMessage() == "notification.channel_skipped"]
    assert skip_line.fields["channel"] == Channel.SMS  # type: ignore[attr-defined]
    assert "STOP" in skip_line.fields["reason"]  # type: ignore[attr-defined]
    sms(runtime, "START")
    other = meeting.model_copy(update={"meeting_id": "mtg-next"})
    runtime.store.upsert_meeting_calendar(other)
    notify(runtime, other)
    (message,) = fake_twilio.messages
    assert message.params["To"] == PHONE


def _next_meeting(runtime: Runtime, meeting: Meeting, meeting_id: str) -> Meeting:
    other = meeting.model_copy(update={"meeting_id": meeting_id})
    runtime.store.upsert_meeting_calendar(other)
    return other


def test_a_send_refused_with_21610_opts_out_like_stop_and_goes_on_to_email(
    runtime: Runtime,
    sms_first: User,
    meeting: Meeting,
    fake_twilio: FakeTwilioAPI,
    fake_ses: FakeSES,
    clock: Clock,
) -> None:
    """The number replied STOP where our webhook never saw it: Twilio refuses the send."""
    fake_twilio.fail_next(error_code=21610)
    notify(runtime, meeting)
    refused, emailed = prep_record(runtime, meeting).attempts
    assert (refused.channel, refused.error_code) == (Channel.SMS, "21610")
    assert (emailed.channel, emailed.status) == (Channel.EMAIL, AttemptStatus.DELIVERED)
    assert len(fake_ses.delivered) == 1
    user = runtime.store.get_user(sms_first.user_id)
    assert user is not None and user.sms_opted_out_at == clock.now
    # the next meeting's cycle skips SMS without asking Twilio, as after a STOP reply
    notify(runtime, _next_meeting(runtime, meeting, "mtg-next"))
    skipped = prep_record(runtime, _next_meeting(runtime, meeting, "mtg-next")).attempts[0]
    assert (skipped.status, skipped.reason) == (
        AttemptStatus.SKIPPED,
        "user opted out of SMS (replied STOP)",
    )
    assert len(fake_twilio.messages) == 1 and len(fake_ses.delivered) == 2
    sms(runtime, "START")  # clears it as it clears a STOP
    notify(runtime, _next_meeting(runtime, meeting, "mtg-third"))
    assert len(fake_twilio.messages) == 2 and len(fake_twilio.created) == 1


def test_a_status_callback_with_21610_opts_out_and_the_cycle_moves_on(
    runtime: Runtime,
    sms_first: User,
    meeting: Meeting,
    fake_twilio: FakeTwilioAPI,
    fake_ses: FakeSES,
    clock: Clock,
) -> None:
    record, sid = sent_by_sms(runtime, meeting)
    clock.advance(timedelta(seconds=10))
    assert status(runtime, sid, "undelivered", error_code="21610").status == 200
    user = runtime.store.get_user(sms_first.user_id)
    assert user is not None and user.sms_opted_out_at == clock.now
    follow_up = runtime.store.get_notification(follow_up_key(record.key, sid))
    assert follow_up is not None and follow_up.delivered_channel == Channel.EMAIL
    notify(runtime, _next_meeting(runtime, meeting, "mtg-next"))
    assert len(fake_twilio.messages) == 1  # SMS skipped from now on
    assert len(fake_ses.delivered) == 2


def test_quiet_hours_are_respected_by_reminders_and_escalations(
    runtime: Runtime,
    owner: User,
    meeting: Meeting,
    fake_twilio: FakeTwilioAPI,
    fake_slack: FakeSlackAPI,
    clock: Clock,
) -> None:
    """Slack delivers; the escalation check and a Remind Later come back inside quiet hours
    (09:00-18:00 Paris here): neither sends an SMS, and each records the skip."""
    from exec_assistant.workflows.reminders import meeting_schedule_prefixes, schedule_reminder

    user = reached_by(
        runtime,
        owner,
        Channel.SLACK,
        Channel.SMS,
        quiet_hours=QuietHours(start=time(9, 0), end=time(18, 0)),
        escalation_delay_minutes=30,
    )
    notify(runtime, meeting)
    schedule_reminder(runtime, meeting, user, clock.now + timedelta(minutes=45), reminder_id="r1")
    clock.advance(timedelta(hours=1))
    fake_slack.fail_next("chat.postMessage", error="channel_not_found")  # the reminder's Slack
    scheduler = runtime.scheduler
    assert isinstance(scheduler, LocalScheduler)
    assert scheduler.run_due() == 2
    records = {r.key: r for r in runtime.store.list_notifications_for_meeting(meeting.meeting_id)}
    escalation_prefix = meeting_schedule_prefixes(meeting.meeting_id)[1]
    (escalation,) = [r for k, r in records.items() if escalation_prefix in k]
    assert [(a.channel, a.status, a.reason) for a in escalation.attempts] == [
        (Channel.SMS, AttemptStatus.SKIPPED, "quiet hours")
    ]
    reminder = records[f"{meeting.meeting_id}#reminder:r1"]
    assert [(a.channel, a.status, a.reason) for a in reminder.attempts][1:] == [
        (Channel.SMS, AttemptStatus.SKIPPED, "quiet hours")
    ]
    assert reminder.attempts[0].status == AttemptStatus.FAILED
    assert fake_twilio.messages == []


# --- signatures, over loopback HTTP and fuzzed ------------------------------------------------


def test_serve_answers_status_callbacks_signed_and_refuses_unsigned(
    runtime: Runtime, sms_first: User, meeting: Meeting, fake_ses: FakeSES
) -> None:
    import urllib.error
    import urllib.request

    from exec_assistant.interfaces.local_server import start_slack_server

    record, sid = sent_by_sms(runtime, meeting)
    server = start_slack_server(runtime, host="127.0.0.1", port=0)

    def post(data: bytes, headers: dict[str, str]) -> int:
        request = urllib.request.Request(server.origin + STATUS_PATH, data=data, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    form = {"content-type": "application/x-www-form-urlencoded"}
    params = {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    try:
        assert post(urlencode(params).encode(), form) == 403
        forged = twilio_signature("not-the-token", PUBLIC + STATUS_PATH, params)
        assert post(urlencode(params).encode(), form | {"x-twilio-signature": forged}) == 403
        assert prep_record(runtime, meeting) == record  # nothing changed
        assert fake_ses.sends == []
        signature = twilio_signature(AUTH_TOKEN, PUBLIC + STATUS_PATH, params)
        assert post(urlencode(params).encode(), form | {"x-twilio-signature": signature}) == 200
        assert len(fake_ses.delivered) == 1
        follow_up = runtime.store.get_notification(follow_up_key(record.key, sid))
        assert follow_up is not None and follow_up.delivered_channel == Channel.EMAIL
    finally:
        server.stop()


_STATUS_WORDS = st.sampled_from(
    ["queued", "sending", "sent", "delivered", "undelivered", "failed", "read", "canceled", ""]
)


@hsettings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sid=st.one_of(st.just("known"), st.text(max_size=40)),
    message_status=st.one_of(_STATUS_WORDS, st.text(max_size=30)),
    error_code=st.one_of(st.none(), st.text(max_size=12), st.integers(0, 99999).map(str)),
    extra=st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=4),
)
def test_fuzzed_signed_status_callbacks_never_5xx(
    runtime: Runtime,
    sms_first: User,
    meeting: Meeting,
    fake_ses: FakeSES,
    sid: str,
    message_status: str,
    error_code: str | None,
    extra: dict[str, str],
) -> None:
    if runtime.store.get_notification(f"{meeting.meeting_id}#prep") is None:
        notify(runtime, meeting)
    record = prep_record(runtime, meeting)
    real_sid = str(record.attempts[-1].provider_id)
    params = extra | {"MessageSid": real_sid if sid == "known" else sid}
    params["MessageStatus"] = message_status
    if error_code is not None:
        params["ErrorCode"] = error_code
    headers = {"x-twilio-signature": twilio_signature(AUTH_TOKEN, PUBLIC + STATUS_PATH, params)}
    reply = handle_status(
        runtime, url=PUBLIC + STATUS_PATH, headers=headers, body=urlencode(params).encode()
    )
    assert reply.status in (200, 400)
    # whatever was said, the cycle is sent at most once more (by email)
    assert len(fake_ses.delivered) <= 1


@hsettings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.one_of(
        st.binary(max_size=300),
        st.dictionaries(st.text(max_size=12), st.text(max_size=40), max_size=8).map(
            lambda d: urlencode(d).encode()
        ),
    ),
    signature=st.one_of(st.none(), st.text(max_size=40)),
)
def test_fuzzed_unsigned_status_callbacks_are_403_and_change_nothing(
    runtime: Runtime, sms_first: User, meeting: Meeting, body: bytes, signature: str | None
) -> None:
    before = runtime.store.list_notifications_for_meeting(meeting.meeting_id)
    headers = {} if signature is None else {"x-twilio-signature": signature}
    reply = handle_status(runtime, url=PUBLIC + STATUS_PATH, headers=headers, body=body)
    assert reply.status == 403
    assert runtime.store.list_notifications_for_meeting(meeting.meeting_id) == before


def test_the_app_home_line_tells_the_failed_delivery_and_the_follow_up(
    runtime: Runtime,
    sms_first: User,
    meeting: Meeting,
    fake_ses: FakeSES,
    fake_slack: FakeSlackAPI,
    via_lambda: LambdaTransport,
    payloads: Payloads,
) -> None:
    _, sid = sent_by_sms(runtime, meeting)
    via_lambda.send(payloads.home_opened())
    assert "prep notification for *Q1 board review*, sent by sms Mon 10:00" in last_home_line(
        fake_slack
    )
    status(runtime, sid, "undelivered", error_code="30003")
    via_lambda.send(payloads.home_opened())
    line = last_home_line(fake_slack)
    assert "follow-up after a failed delivery for *Q1 board review*, sent by email" in line
    timeline = build_timeline(
        meeting, runtime.store.list_notifications_for_meeting(meeting.meeting_id)
    )
    assert timeline.cycles[0].attempts[-1].receipt is not None  # the same data, from the ledger
