"""Each channel against its provider fake, with the real SDK client and its retry machinery."""

from __future__ import annotations

import io
import re
import socket
import subprocess
import sys
from urllib.parse import urlsplit

import pytest

from exec_assistant.config import Settings
from exec_assistant.models import Channel, ErrorClass
from exec_assistant.notifications.channels import build_channels
from exec_assistant.notifications.channels.console import ConsoleChannel
from exec_assistant.notifications.channels.email import EmailChannel
from exec_assistant.notifications.channels.slack import SlackChannel
from exec_assistant.notifications.channels.sms import SmsChannel
from exec_assistant.notifications.receipt_routing import (
    ReceiptTarget,
    target_from_query,
    target_from_tags,
)
from exec_assistant.notifications.types import DeliveryError, PrepNotification
from tests.fakes.ses import SENDER, FakeSES
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.notifications.conftest import (
    SLACK_TOKEN,
    TWILIO_FROM,
    TWILIO_SID,
    make_meeting,
    make_user,
    send_now,
    slack_channel,
    sms_channel,
)


def note() -> PrepNotification:
    return PrepNotification(meeting=make_meeting(), user=make_user(), key="mtg-qbr-1#prep")


# --- Slack ----------------------------------------------------------------------------------


def test_slack_posts_blocks_to_the_users_dm(fake_slack: FakeSlackAPI) -> None:
    provider_id = send_now(slack_channel(fake_slack), note())
    [call] = fake_slack.calls_to("chat.postMessage")
    assert call.params["channel"] == "U0ADA1234"
    assert call.token == SLACK_TOKEN
    assert [b["type"] for b in call.params["blocks"]][-1] == "actions"
    assert "Q4 Business Review" in call.params["text"]
    channel, ts = provider_id.split(":")
    assert channel == "D0ADA1234"
    assert ts == "1700000001.000001"


def test_slack_honours_retry_after_then_delivers(fake_slack: FakeSlackAPI) -> None:
    fake_slack.fail_next("chat.postMessage", error="ratelimited", status=429, retry_after=0)
    assert send_now(slack_channel(fake_slack), note()).startswith("D0ADA1234:")
    assert len(fake_slack.calls_to("chat.postMessage")) == 2


def test_slack_rate_limit_retries_are_bounded(fake_slack: FakeSlackAPI) -> None:
    fake_slack.fail_next(
        "chat.postMessage", error="ratelimited", status=429, retry_after=0, times=10
    )
    with pytest.raises(DeliveryError) as info:
        send_now(slack_channel(fake_slack), note())
    assert (info.value.error_class, info.value.code) == (ErrorClass.TRANSIENT, "ratelimited")
    assert len(fake_slack.calls_to("chat.postMessage")) == 2  # 1 + max_retries


def test_slack_does_not_wait_out_a_long_retry_after(fake_slack: FakeSlackAPI) -> None:
    fake_slack.fail_next("chat.postMessage", error="ratelimited", status=429, retry_after=3600)
    with pytest.raises(DeliveryError) as info:
        send_now(slack_channel(fake_slack), note())
    assert (info.value.error_class, info.value.code) == (ErrorClass.TRANSIENT, "ratelimited")
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


def test_slack_timeout_after_send_is_unknown_and_not_resent(fake_slack: FakeSlackAPI) -> None:
    fake_slack.hang_next("chat.postMessage", seconds=10)
    with pytest.raises(DeliveryError) as info:
        send_now(slack_channel(fake_slack, timeout=1), note())
    assert (info.value.error_class, info.value.code) == (ErrorClass.UNKNOWN, "timeout")
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/"


def test_slack_unreachable_is_transient() -> None:
    with pytest.raises(DeliveryError) as info:
        send_now(slack_channel(_closed_port_url()), note())
    assert (info.value.error_class, info.value.code) == (ErrorClass.TRANSIENT, "connection_error")


def test_slack_refuses_a_user_without_slack_id(fake_slack: FakeSlackAPI) -> None:
    channel = slack_channel(fake_slack)
    assert channel.skip_reason(make_user(slack_user_id=None)) == "user has no Slack user id"
    assert channel.skip_reason(make_user()) is None


# --- Twilio ---------------------------------------------------------------------------------


def test_sms_sends_from_the_configured_number(fake_twilio: FakeTwilioAPI) -> None:
    sid = send_now(sms_channel(fake_twilio), note())
    [request] = fake_twilio.messages
    assert sid == "SM" + f"{1:032x}"
    assert request.account_sid == TWILIO_SID
    assert request.auth_user == TWILIO_SID
    assert request.params["To"] == "+14155550123"
    assert request.params["From"] == TWILIO_FROM
    assert len(request.params["Body"]) <= 320


def test_sms_asks_for_status_callbacks_when_configured(fake_twilio: FakeTwilioAPI) -> None:
    send_now(sms_channel(fake_twilio), note())
    channel = sms_channel(fake_twilio)
    channel.status_callback = "https://hooks.example.test/twilio/status"
    send_now(channel, note(), attempt=2)
    without, with_callback = fake_twilio.messages
    assert "StatusCallback" not in without.params
    # the cycle's ledger key and the attempt ride in the URL Twilio signs
    url = with_callback.params["StatusCallback"]
    assert url == "https://hooks.example.test/twilio/status?key=mtg-qbr-1%23prep&attempt=2"
    assert target_from_query(urlsplit(url).query) == ReceiptTarget(key="mtg-qbr-1#prep", seq=2)


def test_sms_retries_a_rate_limit_then_delivers(fake_twilio: FakeTwilioAPI) -> None:
    fake_twilio.fail_next(error_code=20429, retry_after=0)
    assert send_now(sms_channel(fake_twilio), note()).startswith("SM")
    assert len(fake_twilio.messages) == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_sms_server_error_is_unknown_and_never_resent(
    fake_twilio: FakeTwilioAPI, status: int
) -> None:
    # A 5xx may come with the message created: resending could text the executive twice.
    fake_twilio.fail_next(status=status)
    with pytest.raises(DeliveryError) as info:
        send_now(sms_channel(fake_twilio), note())
    assert (info.value.error_class, info.value.code) == (ErrorClass.UNKNOWN, f"http_{status}")
    assert len(fake_twilio.messages) == 1


@pytest.mark.parametrize("status", [500, 503])
def test_slack_server_error_is_unknown_and_never_resent(
    fake_slack: FakeSlackAPI, status: int
) -> None:
    fake_slack.fail_next("chat.postMessage", error="internal_error", status=status)
    with pytest.raises(DeliveryError) as info:
        send_now(slack_channel(fake_slack), note())
    assert (info.value.error_class, info.value.code) == (ErrorClass.UNKNOWN, f"http_{status}")
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


def test_sms_caps_a_long_retry_after(
    fake_twilio: FakeTwilioAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time as time_module

    slept: list[float] = []
    monkeypatch.setattr(time_module, "sleep", slept.append)  # urllib3 sleeps via time.sleep
    fake_twilio.fail_next(error_code=20429, retry_after=3600)
    assert send_now(sms_channel(fake_twilio), note()).startswith("SM")
    assert slept == [3.0]  # MAX_RETRY_AFTER_SECONDS
    assert len(fake_twilio.messages) == 2


def test_sms_timeout_after_send_is_unknown_and_not_resent(fake_twilio: FakeTwilioAPI) -> None:
    fake_twilio.hang_next(seconds=10)
    with pytest.raises(DeliveryError) as info:
        send_now(sms_channel(fake_twilio, timeout=0.5), note())
    assert (info.value.error_class, info.value.code) == (ErrorClass.UNKNOWN, "timeout")
    assert len(fake_twilio.messages) == 1


def test_sms_client_is_built_once(fake_twilio: FakeTwilioAPI) -> None:
    channel = sms_channel(fake_twilio)
    assert channel._client is None
    send_now(channel, note())
    first = channel._client
    send_now(channel, note())
    assert channel._client is first and first is not None


# --- SES ------------------------------------------------------------------------------------


def test_email_sends_html_and_text(fake_ses: FakeSES) -> None:
    message_id = send_now(EmailChannel(sender=SENDER), note())
    [send] = fake_ses.delivered
    assert message_id
    assert send.to == ["ada@example.com"]
    assert send.params["FromEmailAddress"] == SENDER
    assert "<strong>Q4 Business Review</strong>" in send.html
    assert "Q4 Business Review" in send.text and "<" not in send.text


def test_email_goes_through_the_configuration_set_when_configured(fake_ses: FakeSES) -> None:
    send_now(EmailChannel(sender=SENDER), note())
    send_now(
        EmailChannel(sender=SENDER, configuration_set="exec-assistant-email-dev"), note(), attempt=1
    )
    without, with_set = fake_ses.sends
    assert "ConfigurationSetName" not in without.params and "EmailTags" not in without.params
    assert with_set.params["ConfigurationSetName"] == "exec-assistant-email-dev"
    # the cycle's ledger key and the attempt ride in message tags, which SES events echo
    tags = {t["Name"]: [t["Value"]] for t in with_set.params["EmailTags"]}
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,256}", v[0]) for v in tags.values())
    assert target_from_tags(tags) == ReceiptTarget(key="mtg-qbr-1#prep", seq=1)


def test_email_throttling_is_retried_by_botocore(fake_ses: FakeSES) -> None:
    fake_ses.fail_next("TooManyRequestsException", status=429)
    assert send_now(EmailChannel(sender=SENDER), note())
    assert [s.answered_by for s in fake_ses.sends] == ["TooManyRequestsException", "moto"]


def test_email_read_timeout_is_unknown_and_not_resent(fake_ses: FakeSES) -> None:
    fake_ses.fail_next("timeout")
    with pytest.raises(DeliveryError) as info:
        send_now(EmailChannel(sender=SENDER), note())
    assert (info.value.error_class, info.value.code) == (ErrorClass.UNKNOWN, "ReadTimeoutError")
    assert len(fake_ses.sends) == 1


def test_email_from_an_unverified_sender_is_rejected_by_moto(fake_ses: FakeSES) -> None:
    with pytest.raises(DeliveryError) as info:
        send_now(EmailChannel(sender="nobody@unverified.example"), note())
    assert (info.value.error_class, info.value.code) == (ErrorClass.PERMANENT, "MessageRejected")


# --- console --------------------------------------------------------------------------------


def test_console_renders_the_slack_message_with_rich() -> None:
    out = io.StringIO()
    provider_id = send_now(ConsoleChannel(out, width=100), note())
    text = out.getvalue()
    assert provider_id == "console:mtg-qbr-1#prep:1"
    assert "Slack DM to Ada Exec" in text
    assert "Q4 Business Review" in text
    assert "When: Thu 26 Nov, 05:00\u201306:00 EST" in text
    assert "[ Start Prep ]  [ Remind Later ]" in text
    assert "\u256d" in text  # rich's rounded panel border


def test_console_falls_back_to_plain_text_without_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "rich" or m.startswith("rich.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "rich", None)  # makes "import rich..." raise ImportError
    out = io.StringIO()
    send_now(ConsoleChannel(out), note())
    lines = out.getvalue().splitlines()
    assert lines[:2] == ["--- Slack DM to Ada Exec ---", "Time to prep for your meeting"]
    assert "Where: Board room, 12th floor" in lines
    assert "[ Start Prep ]  [ Remind Later ]" in lines


# --- build_channels -------------------------------------------------------------------------


def test_build_channels_without_configuration_is_console_only() -> None:
    channels = build_channels(Settings())
    assert list(channels) == [Channel.CONSOLE]
    assert isinstance(channels[Channel.CONSOLE], ConsoleChannel)


def test_build_channels_builds_exactly_the_configured_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", SLACK_TOKEN)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", TWILIO_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "token")
    monkeypatch.setenv("SES_FROM_EMAIL", SENDER)
    channels = build_channels(Settings())
    assert list(channels) == [Channel.SLACK, Channel.EMAIL]  # SMS lacks TWILIO_FROM_NUMBER
    assert isinstance(channels[Channel.SLACK], SlackChannel)
    monkeypatch.setenv("TWILIO_FROM_NUMBER", TWILIO_FROM)
    channels = build_channels(Settings())
    assert list(channels) == [Channel.SLACK, Channel.SMS, Channel.EMAIL]
    sms, email = channels[Channel.SMS], channels[Channel.EMAIL]
    assert isinstance(sms, SmsChannel) and isinstance(email, EmailChannel)
    assert (sms.status_callback, email.configuration_set) == (None, None)
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://hooks.example.test/")
    monkeypatch.setenv("SES_CONFIGURATION_SET", "exec-assistant-email-dev")
    channels = build_channels(Settings())
    sms, email = channels[Channel.SMS], channels[Channel.EMAIL]
    assert isinstance(sms, SmsChannel) and isinstance(email, EmailChannel)
    assert sms.status_callback == "https://hooks.example.test/twilio/status"
    assert email.configuration_set == "exec-assistant-email-dev"


def test_building_channels_imports_no_twilio_until_an_sms_is_sent() -> None:
    code = (
        "import sys\n"
        "from exec_assistant.config import Settings\n"
        "from exec_assistant.notifications.channels import build_channels\n"
        "channels = build_channels(Settings(twilio_account_sid='AC1', twilio_auth_token='t',"
        " twilio_from_number='+15005550006'))\n"
        "assert list(channels) == ['sms'], channels\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in ('twilio', 'boto3', 'slack_sdk')]"
        ", sorted(m for m in sys.modules if m.startswith(('twilio', 'boto3', 'slack_sdk')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
