"""One acknowledgement per prep cycle: a Slack click and an SMS reply are the same thing.

The real runtime (SQLite, local bus and scheduler, prep trigger, Slack channel on the loopback
Slack fake), Slack clicks through the Bolt app as Lambda serves it, SMS replies through the
``POST /twilio/sms`` handler with Twilio's signature computed here independently (URL + sorted
params, HMAC-SHA1, base64) and checked by twilio's own ``RequestValidator`` on the server side.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from pydantic import SecretStr

from exec_assistant.config import Settings
from exec_assistant.interfaces.twilio_webhooks import SMS_PATH, WebhookReply, handle_sms
from exec_assistant.models import (
    AckAction,
    Channel,
    Meeting,
    MeetingStatus,
    User,
)
from exec_assistant.notifications.rendering import SMS_KEYWORDS
from exec_assistant.runtime import Runtime
from exec_assistant.workflows.acknowledge import acknowledge, latest_cycle_key
from exec_assistant.workflows.prep_conversation import QuestionnaireEngine
from exec_assistant.workflows.reminders import meeting_schedule_prefixes
from tests.fakes.slack_api import FakeSlackAPI
from tests.slack.conftest import T0, Clock, bot_settings, notify_prep
from tests.slack.harness import LambdaTransport, Payloads

AUTH_TOKEN = "tw-auth-token-0123456789abcdef"
PUBLIC = "https://hooks.example.test"
PHONE = "+33612345678"


@pytest.fixture
def settings(fake_slack: FakeSlackAPI, tmp_path: Any) -> Settings:
    return bot_settings(
        fake_slack, tmp_path, twilio_auth_token=SecretStr(AUTH_TOKEN), public_base_url=PUBLIC
    )


@pytest.fixture
def phone_owner(runtime: Runtime, owner: User) -> User:
    return runtime.store.put_user(owner.model_copy(update={"phone": PHONE}))


def _blocks(params: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = params["blocks"]
    return list(json.loads(blocks) if isinstance(blocks, str) else blocks)


def twilio_signature(token: str, url: str, params: dict[str, str]) -> str:
    """As Twilio signs a webhook: the URL, then each parameter name and value in name order."""
    payload = url + "".join(f"{name}{params[name]}" for name in sorted(params))
    digest = hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def sms(
    runtime: Runtime, text: str, *, sender: str = PHONE, token: str = AUTH_TOKEN
) -> WebhookReply:
    params = {
        "MessageSid": "SM" + "a" * 32,
        "AccountSid": "AC" + "b" * 32,
        "From": sender,
        "To": "+15005550006",
        "Body": text,
        "NumMedia": "0",
    }
    headers = {"x-twilio-signature": twilio_signature(token, PUBLIC + SMS_PATH, params)}
    return handle_sms(
        runtime,
        QuestionnaireEngine(runtime.store, clock=runtime.clock),
        url=PUBLIC + SMS_PATH,
        headers=headers,
        body=urlencode(params).encode(),
    )


def notify(runtime: Runtime, meeting: Meeting) -> Meeting:
    stored = notify_prep(runtime, meeting)
    assert stored.status == MeetingStatus.PREP_SCHEDULED
    return stored


def escalations(runtime: Runtime, meeting: Meeting) -> list[str]:
    prefix = meeting_schedule_prefixes(meeting.meeting_id)[1]
    return [item.name for item in runtime.scheduler.pending(prefix)]


def standing(runtime: Runtime, meeting: Meeting) -> Any:
    stored = runtime.store.get_meeting(meeting.meeting_id)
    assert stored is not None
    key = latest_cycle_key(stored)
    assert key is not None
    record = runtime.store.get_notification(key)
    assert record is not None
    return record.acknowledgement


def test_sms_prep_before_the_slack_click(
    runtime: Runtime,
    phone_owner: User,
    meeting: Meeting,
    via_lambda: LambdaTransport,
    payloads: Payloads,
    fake_slack: FakeSlackAPI,
    clock: Clock,
) -> None:
    stored = notify(runtime, meeting)
    record = runtime.store.get_notification(latest_cycle_key(stored) or "")
    assert record is not None
    dm_channel, _, dm_ts = str(record.attempts[-1].provider_id).partition(":")
    assert escalations(runtime, meeting), "the escalation check is pending"
    fake_slack.reset()
    clock.advance(timedelta(minutes=2))  # 09:02 UTC = 10:02 in Paris

    reply = sms(runtime, "  prep ")
    assert reply.status == 200
    assert reply.content_type == "application/xml"
    assert "Prep started from SMS at 10:02" in reply.body
    assert "Slack DM" in reply.body

    ack = standing(runtime, meeting)
    assert (ack.channel, ack.action) == (Channel.SMS, AckAction.START_PREP)
    assert escalations(runtime, meeting) == []
    after = runtime.store.get_meeting(meeting.meeting_id)
    assert after is not None
    assert after.status == MeetingStatus.PREP_IN_PROGRESS
    # the DM that delivered the cycle now says what happened, without its buttons
    (update,) = fake_slack.calls_to("chat.update")
    assert (update.params["channel"], update.params["ts"]) == (dm_channel, dm_ts)
    assert update.params["text"] == "Prep started from SMS at 10:02"
    assert "actions" not in {block["type"] for block in _blocks(update.params)}
    # the conversation opened in the DM, as Start Prep does
    (opening,) = fake_slack.calls_to("chat.postMessage")
    assert "goal of this meeting" in opening.params["text"]
    fake_slack.reset()

    # the Slack click afterwards: already handled, nothing posted again
    via_lambda.send(payloads.block_action("start_prep", value=meeting.meeting_id))
    assert fake_slack.calls_to("chat.postMessage") == []
    (refusal,) = fake_slack.calls_to("chat.postEphemeral")
    assert refusal.params["text"] == "Already handled: Prep started from SMS at 10:02."
    assert standing(runtime, meeting) == ack


def test_sms_reply_after_the_slack_click(
    runtime: Runtime,
    phone_owner: User,
    meeting: Meeting,
    via_lambda: LambdaTransport,
    payloads: Payloads,
    fake_slack: FakeSlackAPI,
) -> None:
    notify(runtime, meeting)
    via_lambda.send(payloads.block_action("start_prep", value=meeting.meeting_id))
    ack = standing(runtime, meeting)
    assert (ack.channel, ack.action) == (Channel.SLACK, AckAction.START_PREP)
    assert escalations(runtime, meeting) == []
    fake_slack.reset()

    reply = sms(runtime, "LATER 45")
    assert reply.status == 200
    assert "Already handled: Prep started from Slack at 10:00." in reply.body
    assert standing(runtime, meeting) == ack
    assert fake_slack.calls == []  # nothing edited, nothing posted
    assert runtime.scheduler.pending(meeting_schedule_prefixes(meeting.meeting_id)[0]) == []


def test_sms_later_snoozes_and_edits_the_dm(
    runtime: Runtime,
    phone_owner: User,
    meeting: Meeting,
    fake_slack: FakeSlackAPI,
) -> None:
    notify(runtime, meeting)
    fake_slack.reset()
    reply = sms(runtime, "later 45 min")
    assert "Snoozed until 10:45 from SMS" in reply.body
    (reminder,) = runtime.scheduler.pending(meeting_schedule_prefixes(meeting.meeting_id)[0])
    assert reminder.fire_at == T0 + timedelta(minutes=45)
    assert escalations(runtime, meeting) == []
    (update,) = fake_slack.calls_to("chat.update")
    assert update.params["text"] == "Snoozed until 10:45 from SMS"
    assert sms(runtime, "2").body.count("Already handled: Snoozed until 10:45 from SMS") == 1


def test_prep_after_a_snooze_is_still_welcome(
    runtime: Runtime, phone_owner: User, meeting: Meeting, fake_slack: FakeSlackAPI
) -> None:
    # Snoozed by SMS, then ready after all: Start Prep opens the conversation (not "already
    # handled"); the reminder that is still pending finds the meeting in progress.
    notify(runtime, meeting)
    sms(runtime, "later 45")
    fake_slack.reset()
    reply = sms(runtime, "PREP")
    assert "Already handled" not in reply.body
    stored = runtime.store.get_meeting(meeting.meeting_id)
    assert stored is not None and stored.status == MeetingStatus.PREP_IN_PROGRESS
    assert fake_slack.calls_to("chat.postMessage")  # the prep conversation opened in the DM
    assert standing(runtime, meeting).action == "remind_later"  # the cycle's answer stands


@pytest.mark.parametrize(
    ("text", "expected"),
    [("HELP", "reply PREP"), ("what is this?", "reply PREP"), ("LATER 99999", "reply PREP")],
)
def test_help_and_anything_else_get_the_keywords(
    runtime: Runtime, phone_owner: User, meeting: Meeting, text: str, expected: str
) -> None:
    notify(runtime, meeting)
    reply = sms(runtime, text)
    assert reply.status == 200
    assert expected in reply.body
    assert standing(runtime, meeting) is None


def test_an_unknown_sender_changes_nothing(
    runtime: Runtime, phone_owner: User, meeting: Meeting
) -> None:
    notify(runtime, meeting)
    reply = sms(runtime, "PREP", sender="+447700900123")
    assert "not linked" in reply.body
    assert standing(runtime, meeting) is None


def test_slack_click_and_sms_at_once_one_wins(
    runtime: Runtime,
    phone_owner: User,
    meeting: Meeting,
    via_lambda: LambdaTransport,
    payloads: Payloads,
    fake_slack: FakeSlackAPI,
) -> None:
    """The SMS reply and an email-link answer (both Start Prep) race on threads: exactly one is
    recorded. (A snooze racing a Start Prep lets prep start either way: see below.)"""
    stored = notify(runtime, meeting)
    barrier = threading.Barrier(2)
    answers: dict[str, Any] = {}

    def by_sms() -> None:
        barrier.wait(timeout=10)
        answers["sms"] = sms(runtime, "PREP")

    def by_email() -> None:
        barrier.wait(timeout=10)
        answers["email"] = acknowledge(
            runtime,
            stored,
            phone_owner,
            channel=Channel.EMAIL,
            action=AckAction.START_PREP,
        )

    threads = [threading.Thread(target=by_sms), threading.Thread(target=by_email)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    ack = standing(runtime, meeting)
    sms_won = "Prep started from SMS" in answers["sms"].body
    assert sms_won != answers["email"].recorded
    assert ack.channel == (Channel.SMS if sms_won else Channel.EMAIL)
    if not sms_won:
        assert "Already handled: Prep started from email" in answers["sms"].body
    assert len(fake_slack.calls_to("chat.update")) == 1  # only the winner edits the DM


def test_stop_skips_sms_until_start(runtime: Runtime, phone_owner: User, meeting: Meeting) -> None:
    assert sms(runtime, "STOP").body == '<?xml version="1.0" encoding="UTF-8"?><Response />'
    user = runtime.store.get_user(phone_owner.user_id)
    assert user is not None
    assert user.sms_opted_out_at == T0
    from exec_assistant.notifications.channels.sms import SmsChannel

    channel = SmsChannel(account_sid="AC1", auth_token="t", from_number="+15005550006")
    assert channel.skip_reason(user) == "user opted out of SMS (replied STOP)"
    sms(runtime, "start")
    user = runtime.store.get_user(phone_owner.user_id)
    assert user is not None
    assert user.sms_opted_out_at is None
    assert channel.skip_reason(user) is None


# --- bad input: 403 (or a help answer), never a 5xx, nothing changes ------------------------


def _snapshot(runtime: Runtime, meeting: Meeting) -> tuple[Any, ...]:
    return (
        runtime.store.get_meeting(meeting.meeting_id),
        runtime.store.list_notifications_for_meeting(meeting.meeting_id),
        runtime.store.list_users(),
        runtime.scheduler.pending(""),
    )


def test_a_bad_signature_is_403_and_changes_nothing(
    runtime: Runtime, phone_owner: User, meeting: Meeting, fake_slack: FakeSlackAPI
) -> None:
    notify(runtime, meeting)
    fake_slack.reset()
    before = _snapshot(runtime, meeting)
    assert sms(runtime, "PREP", token="not-the-token").status == 403
    engine = QuestionnaireEngine(runtime.store, clock=runtime.clock)
    unsigned = handle_sms(
        runtime, engine, url=PUBLIC + SMS_PATH, headers={}, body=b"From=%2B33612345678&Body=PREP"
    )
    assert unsigned.status == 403
    assert _snapshot(runtime, meeting) == before
    assert fake_slack.calls == []


@hsettings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    body=st.one_of(
        st.binary(max_size=400),
        st.dictionaries(st.text(max_size=12), st.text(max_size=40), max_size=8).map(
            lambda d: urlencode(d).encode()
        ),
    ),
    signature=st.one_of(st.none(), st.text(max_size=40)),
    query=st.text(max_size=20),
)
def test_fuzzed_sms_webhooks_never_5xx_and_change_nothing(
    runtime: Runtime,
    phone_owner: User,
    meeting: Meeting,
    body: bytes,
    signature: str | None,
    query: str,
) -> None:
    before = _snapshot(runtime, meeting)
    headers = {} if signature is None else {"x-twilio-signature": signature}
    reply = handle_sms(
        runtime,
        QuestionnaireEngine(runtime.store, clock=runtime.clock),
        url=f"{PUBLIC}{SMS_PATH}?{query}",
        headers=headers,
        body=body,
    )
    assert reply.status == 403
    assert _snapshot(runtime, meeting) == before


@hsettings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(text=st.text(max_size=200))
def test_fuzzed_signed_replies_never_5xx(
    runtime: Runtime, phone_owner: User, meeting: Meeting, text: str
) -> None:
    """Signed (so acted on) but arbitrary text: always a 200 TwiML answer."""
    reply = sms(runtime, text)
    assert reply.status == 200
    assert reply.body.startswith('<?xml version="1.0" encoding="UTF-8"?><Response')


def test_sms_text_tells_the_keywords(runtime: Runtime, phone_owner: User, meeting: Meeting) -> None:
    from exec_assistant.notifications.rendering import sms_text
    from exec_assistant.notifications.types import PrepNotification

    long = meeting.model_copy(update={"title": "Quarterly review " * 40, "location": "x" * 300})
    for item in (meeting, long):
        text = sms_text(PrepNotification(meeting=item, user=phone_owner, key="k"))
        assert text.endswith(SMS_KEYWORDS)
        assert len(text) <= 320


def test_serve_answers_sms_replies_and_action_links_over_http(
    runtime: Runtime, phone_owner: User, meeting: Meeting
) -> None:
    # The same handlers, reached through the local server's router on loopback.
    import urllib.error
    import urllib.request

    from exec_assistant.interfaces.local_server import start_slack_server

    notify(runtime, meeting)
    server = start_slack_server(runtime, host="127.0.0.1", port=0)

    def post(path: str, data: bytes, headers: dict[str, str]) -> tuple[int, str]:
        request = urllib.request.Request(server.origin + path, data=data, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    try:
        params = {"From": PHONE, "To": "+15005550006", "Body": "LATER 20"}
        form = {"content-type": "application/x-www-form-urlencoded"}
        unsigned = post(SMS_PATH, urlencode(params).encode(), form)
        assert unsigned[0] == 403 and standing(runtime, meeting) is None
        signature = twilio_signature(AUTH_TOKEN, PUBLIC + SMS_PATH, params)
        status, body = post(
            SMS_PATH, urlencode(params).encode(), form | {"x-twilio-signature": signature}
        )
        assert status == 200 and "Snoozed until" in body
        assert standing(runtime, meeting).channel == Channel.SMS
        try:
            urllib.request.urlopen(server.origin + "/actions/not-a-token", timeout=10)
            raise AssertionError("a link must not act without the link-signing key")
        except urllib.error.HTTPError as exc:
            assert exc.code == 503  # this deployment has no ACTION_LINK_SECRET: links are off
    finally:
        server.stop()
