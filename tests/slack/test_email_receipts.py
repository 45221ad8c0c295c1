"""Email delivery receipts (issue 14): SES events as EventBridge delivers them, handled by
``exec_assistant.workflows.email_events`` (the Lambda entry and the function it calls).

The real runtime with the real boto3 SES client against moto (the email's MessageId is moto's),
the real twilio client against the loopback fake for the follow-up SMS, and a fake clock.
"""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from exec_assistant.config import Settings
from exec_assistant.models import (
    AttemptStatus,
    Channel,
    ErrorClass,
    LedgerRecord,
    LedgerState,
    Meeting,
    QuietHours,
    ReceiptStatus,
    User,
)
from exec_assistant.notifications.channels.email import EmailChannel
from exec_assistant.notifications.types import BeforeRequest, PrepNotification
from exec_assistant.runtime import Runtime
from exec_assistant.workflows.email_events import handle_email_event, lambda_handler
from exec_assistant.workflows.receipts import follow_up_key
from tests.fakes.fixtures import fake_ses, fake_twilio, moto_server
from tests.fakes.ses import FakeSES
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.slack.conftest import Clock
from tests.slack.test_acknowledgements import PHONE, notify
from tests.slack.test_receipts import prep_record, reached_by, receipt_settings

__all__ = ["fake_ses", "fake_twilio", "moto_server"]

CONFIGURATION_SET = "exec-assistant-email-test"


@pytest.fixture
def settings(
    fake_slack: FakeSlackAPI, fake_twilio: FakeTwilioAPI, fake_ses: FakeSES, tmp_path: Any
) -> Settings:
    return receipt_settings(
        fake_slack, fake_twilio, tmp_path, ses_configuration_set=CONFIGURATION_SET
    )


@pytest.fixture
def email_first(runtime: Runtime, owner: User) -> User:
    """The executive reached by email first, then SMS (no Slack in the order)."""
    return reached_by(runtime, owner, Channel.EMAIL, Channel.SMS)


def ses_event(detail_type: str, event_type: str, message_id: str, **parts: Any) -> dict[str, Any]:
    """An SES event as EventBridge delivers it to a Lambda target."""
    return {
        "version": "0",
        "id": f"evt-{event_type.lower()}-{message_id[-6:]}",
        "detail-type": detail_type,
        "source": "aws.ses",
        "account": "123456789012",
        "time": "2026-03-02T09:00:30Z",
        "region": "eu-west-1",
        "resources": [f"arn:aws:ses:eu-west-1:123456789012:configuration-set/{CONFIGURATION_SET}"],
        "detail": {
            "eventType": event_type,
            "mail": {
                "timestamp": "2026-03-02T09:00:00.000Z",
                "source": "exec-assistant@example.com",
                "sendingAccountId": "123456789012",
                "messageId": message_id,
                "destination": ["ada@example.com"],
                "tags": {"ses:configuration-set": [CONFIGURATION_SET]},
            },
            **parts,
        },
    }


def bounce(message_id: str, bounce_type: str = "Permanent", sub_type: str = "General") -> Any:
    return ses_event(
        "Email Bounced",
        "Bounce",
        message_id,
        bounce={
            "bounceType": bounce_type,
            "bounceSubType": sub_type,
            "bouncedRecipients": [{"emailAddress": "ada@example.com", "status": "5.1.1"}],
            "timestamp": "2026-03-02T09:00:20.000Z",
            "feedbackId": "0100018c-feedback-000000",
        },
    )


def delivered(message_id: str) -> Any:
    return ses_event(
        "Email Delivered",
        "Delivery",
        message_id,
        delivery={
            "timestamp": "2026-03-02T09:00:10.000Z",
            "processingTimeMillis": 900,
            "recipients": ["ada@example.com"],
            "smtpResponse": "250 ok",
        },
    )


def sent_by_email(
    runtime: Runtime, meeting: Meeting, fake_ses: FakeSES
) -> tuple[LedgerRecord, str]:
    notify(runtime, meeting)
    record = prep_record(runtime, meeting)
    assert record.delivered_channel == Channel.EMAIL
    (send,) = fake_ses.delivered
    assert send.params["ConfigurationSetName"] == CONFIGURATION_SET
    return record, str(record.attempts[-1].provider_id)


def test_a_bounce_fails_the_email_and_moves_to_sms_at_once(
    runtime: Runtime,
    email_first: User,
    meeting: Meeting,
    fake_ses: FakeSES,
    fake_twilio: FakeTwilioAPI,
    clock: Clock,
) -> None:
    record, message_id = sent_by_email(runtime, meeting, fake_ses)
    clock.advance(timedelta(seconds=30))
    result = handle_email_event(bounce(message_id, sub_type="NoEmail"), runtime)
    assert (result.action, result.message_id) == ("recorded", message_id)
    assert result.follow_up == follow_up_key(record.key, message_id)
    receipt = prep_record(runtime, meeting).attempts[-1].receipt
    assert receipt is not None
    assert (receipt.status, receipt.provider_status) == (ReceiptStatus.FAILED, "Bounce/Permanent")
    assert (receipt.error_class, receipt.error_code) == (ErrorClass.PERMANENT, "NoEmail")
    assert receipt.at.isoformat().startswith("2026-03-02T09:00:20")  # SES's own time
    follow_up = runtime.store.get_notification(follow_up_key(record.key, message_id))
    assert follow_up is not None
    assert (follow_up.state, follow_up.delivered_channel) == (LedgerState.DELIVERED, Channel.SMS)
    (message,) = fake_twilio.messages
    assert message.params["To"] == PHONE
    # the same event again a little later (EventBridge delivers at least once): nothing more
    clock.advance(timedelta(seconds=40))
    again = handle_email_event(bounce(message_id, sub_type="NoEmail"), runtime)
    assert again.action == "unchanged"
    assert len(fake_twilio.messages) == 1 and len(fake_ses.delivered) == 1


@pytest.mark.parametrize(
    ("event", "provider_status", "code"),
    [
        (
            lambda m: ses_event(
                "Email Complaint Received",
                "Complaint",
                m,
                complaint={"complaintFeedbackType": "abuse", "timestamp": "2026-03-02T09:00:40Z"},
            ),
            "Complaint",
            "abuse",
        ),
        (
            lambda m: ses_event("Email Rejected", "Reject", m, reject={"reason": "Bad content"}),
            "Reject",
            "Bad content",
        ),
    ],
)
def test_a_complaint_or_a_reject_fails_the_email_permanently(
    runtime: Runtime,
    email_first: User,
    meeting: Meeting,
    fake_ses: FakeSES,
    fake_twilio: FakeTwilioAPI,
    event: Any,
    provider_status: str,
    code: str,
) -> None:
    _, message_id = sent_by_email(runtime, meeting, fake_ses)
    assert handle_email_event(event(message_id), runtime).action == "recorded"
    receipt = prep_record(runtime, meeting).attempts[-1].receipt
    assert receipt is not None
    assert (receipt.status, receipt.error_class) == (ReceiptStatus.FAILED, ErrorClass.PERMANENT)
    assert (receipt.provider_status, receipt.error_code) == (provider_status, code)
    assert len(fake_twilio.messages) == 1


def test_a_transient_bounce_is_recorded_and_fails_nothing(
    runtime: Runtime,
    email_first: User,
    meeting: Meeting,
    fake_ses: FakeSES,
    fake_twilio: FakeTwilioAPI,
) -> None:
    record, message_id = sent_by_email(runtime, meeting, fake_ses)
    result = handle_email_event(bounce(message_id, "Transient", "MailboxFull"), runtime)
    assert (result.action, result.follow_up) == ("recorded", None)
    receipt = prep_record(runtime, meeting).attempts[-1].receipt
    assert receipt is not None
    assert (receipt.status, receipt.error_class) == (ReceiptStatus.DELAYED, ErrorClass.TRANSIENT)
    assert fake_twilio.messages == []
    # then the delivery: the receipt completes
    assert handle_email_event(delivered(message_id), runtime).action == "recorded"
    stored = prep_record(runtime, meeting)
    assert stored.attempts[-1].receipt is not None
    assert stored.attempts[-1].receipt.status == ReceiptStatus.DELIVERED
    assert stored.state == LedgerState.DELIVERED and record.key == stored.key
    assert fake_twilio.messages == []


def test_a_bounce_in_quiet_hours_skips_the_sms_follow_up(
    runtime: Runtime, owner: User, meeting: Meeting, fake_ses: FakeSES, fake_twilio: FakeTwilioAPI
) -> None:
    quiet = QuietHours(start=time(9, 0), end=time(18, 0))  # Paris: it is 10:00
    reached_by(runtime, owner, Channel.EMAIL, Channel.SMS, quiet_hours=quiet)
    record, message_id = sent_by_email(runtime, meeting, fake_ses)
    result = handle_email_event(bounce(message_id), runtime)
    assert result.follow_up == follow_up_key(record.key, message_id)
    follow_up = runtime.store.get_notification(follow_up_key(record.key, message_id))
    assert follow_up is not None and follow_up.state == LedgerState.EXHAUSTED
    assert [(a.channel, a.status, a.reason) for a in follow_up.attempts] == [
        (Channel.SMS, AttemptStatus.SKIPPED, "quiet hours")
    ]
    assert fake_twilio.messages == []


def test_unknown_messages_other_events_and_bad_input_change_nothing(
    runtime: Runtime,
    email_first: User,
    meeting: Meeting,
    fake_ses: FakeSES,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    record, message_id = sent_by_email(runtime, meeting, fake_ses)
    assert handle_email_event(bounce("0100018c-not-ours-000000"), runtime).action == "unknown"
    opened = ses_event("Email Opened", "Open", message_id, open={"timestamp": "2026-03-02T09:01Z"})
    assert handle_email_event(opened, runtime).action == "ignored"
    not_ses = bounce(message_id) | {"source": "exec-assistant.calendar-monitor"}
    assert handle_email_event(not_ses, runtime).action == "rejected"
    no_mail = bounce(message_id)
    del no_mail["detail"]["mail"]
    assert handle_email_event(no_mail, runtime).action == "rejected"
    assert prep_record(runtime, meeting) == record
    # the Lambda entry answers the same way, with the runtime get_runtime() hands it
    import exec_assistant.runtime as runtime_module

    monkeypatch.setattr(runtime_module, "get_runtime", lambda: runtime)
    assert lambda_handler(delivered(message_id), None)["action"] == "recorded"


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
_TYPES = st.sampled_from(
    [
        "Bounce",
        "Complaint",
        "Delivery",
        "Reject",
        "DeliveryDelay",
        "Send",
        "Open",
        "Rendering Failure",
    ]
)


@hsettings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    event_type=st.one_of(_TYPES, st.text(max_size=20)),
    known=st.booleans(),
    part=st.dictionaries(
        st.sampled_from(["bounceType", "bounceSubType", "timestamp", "reason", "delayType", "x"]),
        st.one_of(
            st.sampled_from(["Permanent", "Transient", "Undetermined", "2026-03-02T09:00:00Z"]),
            _JSON,
        ),
        max_size=4,
    ),
    junk=st.dictionaries(st.text(max_size=8), _JSON, max_size=3),
)
def test_fuzzed_ses_event_details_never_raise_and_send_at_most_once(
    runtime: Runtime,
    email_first: User,
    meeting: Meeting,
    fake_ses: FakeSES,
    fake_twilio: FakeTwilioAPI,
    event_type: str,
    known: bool,
    part: dict[str, Any],
    junk: dict[str, Any],
) -> None:
    if runtime.store.get_notification(f"{meeting.meeting_id}#prep") is None:
        notify(runtime, meeting)
    message_id = str(prep_record(runtime, meeting).attempts[-1].provider_id)
    event = ses_event("Email Bounced", event_type, message_id if known else "m-1")
    key = {"Bounce": "bounce", "Complaint": "complaint", "Delivery": "delivery"}.get(
        event_type, "reject"
    )
    event["detail"] |= junk | {key: part}
    result = handle_email_event(event, runtime)
    assert result.action in ("recorded", "unchanged", "unknown", "ignored", "rejected")
    assert len(fake_twilio.messages) <= 1  # at most one follow-up, whatever was said
    assert len(fake_ses.delivered) == 1


class BouncesBeforeReturning:
    """The email channel, whose SES bounce (with the message's tags) is handled before the send
    returns — before the ledger write that records the delivery."""

    name = Channel.EMAIL

    def __init__(self, inner: Any, runtime: Runtime, fake_ses: FakeSES) -> None:
        self.inner, self.runtime, self.fake_ses = inner, runtime, fake_ses
        self.actions: list[str] = []

    def skip_reason(self, user: User) -> str | None:
        reason: str | None = self.inner.skip_reason(user)
        return reason

    def send(
        self, notification: PrepNotification, *, attempt: int, before_request: BeforeRequest
    ) -> str:
        message_id = str(
            self.inner.send(notification, attempt=attempt, before_request=before_request)
        )
        tags = {t["Name"]: [t["Value"]] for t in self.fake_ses.sends[-1].params["EmailTags"]}
        event = bounce(message_id)
        event["detail"]["mail"]["tags"] |= tags
        self.actions.append(handle_email_event(event, self.runtime).action)
        return message_id


def test_an_ses_bounce_before_the_delivery_write_moves_the_cycle_to_sms(
    runtime: Runtime,
    email_first: User,
    meeting: Meeting,
    fake_twilio: FakeTwilioAPI,
    fake_ses: FakeSES,
) -> None:
    channels = runtime.notifications.channels  # type: ignore[attr-defined]
    assert isinstance(channels[Channel.EMAIL], EmailChannel)
    wrapper = BouncesBeforeReturning(channels[Channel.EMAIL], runtime, fake_ses)
    channels[Channel.EMAIL] = wrapper
    notify(runtime, meeting)
    assert wrapper.actions == ["parked"]
    record = prep_record(runtime, meeting)
    message_id = str(record.attempts[0].provider_id)
    receipt = record.attempts[0].receipt
    assert receipt is not None and receipt.status == ReceiptStatus.FAILED
    follow_up = runtime.store.get_notification(follow_up_key(record.key, message_id))
    assert follow_up is not None and follow_up.delivered_channel == Channel.SMS
    assert len(fake_twilio.created) == 1
