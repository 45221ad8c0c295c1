"""The fakes answer the real SDK clients the way the providers do."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from tests.fakes.ses import SENDER, FakeSES
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.twilio_api import FakeTwilioAPI


def test_slack_post_message_records_and_answers(fake_slack: FakeSlackAPI) -> None:
    client = WebClient(token="xoxb-1", base_url=fake_slack.url)
    first = client.chat_postMessage(channel="U0ABC", text="hi", blocks=[{"type": "divider"}])
    second = client.chat_postMessage(channel="C0ABC", text="again")
    assert first["channel"] == "D0ABC"
    assert float(second["ts"]) > float(first["ts"])
    call = fake_slack.calls_to("chat.postMessage")[0]
    assert call.params["blocks"] == [{"type": "divider"}]
    assert call.token == "xoxb-1"
    assert client.auth_test()["user_id"] == "U0FAKEBOT"
    assert client.conversations_open(users="U0ABC")["channel"]["id"] == "D0ABC"


def test_slack_scripted_error_and_rate_limit(fake_slack: FakeSlackAPI) -> None:
    client = WebClient(
        token="xoxb-1",
        base_url=fake_slack.url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    fake_slack.fail_next("chat.postMessage", error="channel_not_found")
    with pytest.raises(SlackApiError) as info:
        client.chat_postMessage(channel="U0ABC", text="hi")
    assert info.value.response["error"] == "channel_not_found"
    fake_slack.fail_next("chat.postMessage", error="ratelimited", status=429, retry_after=0)
    assert client.chat_postMessage(channel="U0ABC", text="hi")["ok"]
    assert len(fake_slack.calls_to("chat.postMessage")) == 3


def test_slack_hang_times_out_after_the_request_left(fake_slack: FakeSlackAPI) -> None:
    client = WebClient(token="xoxb-1", base_url=fake_slack.url, timeout=1, retry_handlers=[])
    fake_slack.hang_next("chat.postMessage", seconds=5)
    with pytest.raises(TimeoutError):
        client.chat_postMessage(channel="U0ABC", text="hi")
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


def test_slack_auth_checks(fake_slack: FakeSlackAPI) -> None:
    fake_slack.token = "xoxb-right"
    with pytest.raises(SlackApiError) as info:
        WebClient(token="xoxb-wrong", base_url=fake_slack.url).auth_test()
    assert info.value.response["error"] == "invalid_auth"
    fake_slack.add_user("U0ABC", tz="Europe/Paris")
    info_ok = WebClient(token="xoxb-right", base_url=fake_slack.url).users_info(user="U0ABC")
    assert info_ok["user"]["tz"] == "Europe/Paris"


def _twilio(fake: FakeTwilioAPI) -> object:
    from twilio.rest import Client

    client = Client("AC" + "0" * 32, "auth-token")
    client.api.base_url = fake.url
    return client


def test_twilio_create_and_errors(fake_twilio: FakeTwilioAPI) -> None:
    from twilio.base.exceptions import TwilioRestException

    client = _twilio(fake_twilio)
    message = client.messages.create(to="+14155550123", from_="+14155550100", body="hi")  # type: ignore[attr-defined]
    assert message.sid.startswith("SM") and len(message.sid) == 34
    assert fake_twilio.messages[0].params == {
        "To": "+14155550123",
        "From": "+14155550100",
        "Body": "hi",
    }
    assert fake_twilio.messages[0].auth_user == "AC" + "0" * 32
    fake_twilio.fail_next(error_code=21211)
    with pytest.raises(TwilioRestException) as info:
        client.messages.create(to="+14155550123", from_="+14155550100", body="hi")  # type: ignore[attr-defined]
    assert info.value.code == 21211
    assert info.value.status == 400


def test_ses_send_and_scripted_failure(fake_ses: FakeSES) -> None:
    from botocore.exceptions import ClientError

    content = {
        "Simple": {
            "Subject": {"Data": "s"},
            "Body": {"Text": {"Data": "t"}, "Html": {"Data": "<p>h</p>"}},
        }
    }
    sent = fake_ses.client.send_email(
        FromEmailAddress=SENDER, Destination={"ToAddresses": ["a@example.com"]}, Content=content
    )
    assert sent["MessageId"]
    fake_ses.fail_next("MessageRejected")
    with pytest.raises(ClientError) as info:
        fake_ses.client.send_email(
            FromEmailAddress=SENDER, Destination={"ToAddresses": ["a@example.com"]}, Content=content
        )
    assert info.value.response["Error"]["Code"] == "MessageRejected"
    assert [s.answered_by for s in fake_ses.sends] == ["moto", "MessageRejected"]
    assert fake_ses.sends[0].text == "t"
