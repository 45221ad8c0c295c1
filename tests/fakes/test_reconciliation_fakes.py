"""The fakes' history endpoints and fault switches, driven by the real slack_sdk / twilio clients.

What the issue-12 harness relies on: Slack keeps each DM's messages with their metadata and lists
them as ``conversations.history`` does; Twilio lists created messages as ``Messages.json`` does;
both can act and then lose the answer, and call a hook at an exact point of a request.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.metadata import Metadata

from tests.fakes._server import Request
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.twilio_api import FakeTwilioAPI

T0 = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
SID = "AC" + "0" * 32
TO = "+14155550123"
FROM = "+14155550100"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _slack(fake: FakeSlackAPI) -> WebClient:
    return WebClient(token="xoxb-1", base_url=fake.url, retry_handlers=[])


def _twilio(fake: FakeTwilioAPI) -> Any:
    from twilio.rest import Client

    client = Client(SID, "auth-token")
    client.api.base_url = fake.url
    return client


# Slack ------------------------------------------------------------------------------------


def test_slack_history_lists_a_dm_newest_first_with_metadata_only_on_request(
    fake_slack: FakeSlackAPI,
) -> None:
    clock = Clock()
    fake_slack.clock = clock
    client = _slack(fake_slack)
    dm = client.conversations_open(users="U0ADA1234")["channel"]["id"]
    assert dm == "D0ADA1234"
    first = client.chat_postMessage(
        channel="U0ADA1234",
        text="prep 1",
        metadata=Metadata(event_type="prep_notification", event_payload={"key": "k#prep", "n": 1}),
    )
    clock.now += timedelta(seconds=30)
    second = client.chat_postMessage(
        channel=dm,
        text="prep 2",
        metadata={
            "event_type": "prep_notification",
            "event_payload": {"key": "k#prep", "n": 2},
        },
    )
    client.chat_postMessage(channel="U0OTHER01", text="someone else")
    assert first["ts"] == f"{T0.timestamp():.6f}"  # ts on the injected time line
    assert float(second["ts"]) == T0.timestamp() + 30

    plain = client.conversations_history(channel=dm)
    assert [m["text"] for m in plain["messages"]] == ["prep 2", "prep 1"]
    assert all("metadata" not in m for m in plain["messages"])

    full = client.conversations_history(channel=dm, include_all_metadata=True)
    assert [m["metadata"] for m in full["messages"]] == [
        {"event_type": "prep_notification", "event_payload": {"key": "k#prep", "n": 2}},
        {"event_type": "prep_notification", "event_payload": {"key": "k#prep", "n": 1}},
    ]
    # oldest / latest are exclusive unless inclusive=true, as Slack's
    since = client.conversations_history(channel=dm, oldest=first["ts"])
    assert [m["ts"] for m in since["messages"]] == [second["ts"]]
    both = client.conversations_history(channel=dm, oldest=first["ts"], inclusive=True)
    assert len(both["messages"]) == 2
    before = client.conversations_history(channel=dm, latest=second["ts"])
    assert [m["ts"] for m in before["messages"]] == [first["ts"]]
    assert [m["text"] for m in fake_slack.messages_in("U0ADA1234")] == ["prep 1", "prep 2"]
    assert len(fake_slack.posted) == 3
    with pytest.raises(SlackApiError) as info:
        client.conversations_history(channel="C0NOWHERE")
    assert info.value.response["error"] == "channel_not_found"


def test_slack_history_pages_with_a_cursor(fake_slack: FakeSlackAPI) -> None:
    client = _slack(fake_slack)
    for n in range(5):
        client.chat_postMessage(channel="U0ADA1234", text=f"m{n}")
    texts, more, cursors = [], [], []
    # slack_sdk's iterator follows response_metadata.next_cursor, reusing one response object
    for page in client.conversations_history(channel="D0ADA1234", limit=2):
        texts.append([m["text"] for m in page["messages"]])
        more.append(page["has_more"])
        cursors.append(page["response_metadata"]["next_cursor"])
    assert texts == [["m4", "m3"], ["m2", "m1"], ["m0"]]
    assert more == [True, True, False]
    assert cursors[-1] == "" and all(cursors[:-1])


@pytest.mark.parametrize("mode", ["reset", "status"])
def test_slack_posts_then_loses_the_answer(fake_slack: FakeSlackAPI, mode: Any) -> None:
    client = _slack(fake_slack)
    fake_slack.lose_response_next("chat.postMessage", mode=mode, status=503)
    with pytest.raises((ConnectionError, SlackApiError)) as info:
        client.chat_postMessage(channel="U0ADA1234", text="lost answer")
    if mode == "reset":
        assert isinstance(info.value, ConnectionResetError)
    else:
        assert isinstance(info.value, SlackApiError)
        assert info.value.response.status_code == 503
    # The provider acted: the message is there, and the next call is answered normally.
    assert [m["text"] for m in fake_slack.messages_in("U0ADA1234")] == ["lost answer"]
    assert client.chat_postMessage(channel="U0ADA1234", text="fine")["ok"]
    assert len(fake_slack.messages_in("U0ADA1234")) == 2


def test_slack_hooks_run_at_arrival_after_acting_and_after_answering(
    fake_slack: FakeSlackAPI,
) -> None:
    seen: list[tuple[str, int]] = []
    answered = threading.Event()

    def hook(point: str) -> Any:
        def record(request: Request) -> None:
            seen.append((point, len(fake_slack.messages_in("U0ADA1234"))))
            if point == "answered":
                answered.set()

        return record

    for point in ("received", "acted", "answered"):
        fake_slack.on("chat.postMessage", point, hook(point))
    client = _slack(fake_slack)
    assert client.chat_postMessage(channel="U0ADA1234", text="hooked")["ok"]
    assert answered.wait(5)
    assert seen == [("received", 0), ("acted", 1), ("answered", 1)]
    # A hook fires ``times`` times (once by default), other methods never.
    client.chat_postMessage(channel="U0ADA1234", text="again")
    client.auth_test()
    assert len(seen) == 3


# Twilio -----------------------------------------------------------------------------------


def test_twilio_lists_created_messages_newest_first_filtered_and_paged(
    fake_twilio: FakeTwilioAPI,
) -> None:
    clock = Clock()
    fake_twilio.clock = clock
    client = _twilio(fake_twilio)
    sids = []
    for n in range(3):
        sids.append(client.messages.create(to=TO, from_=FROM, body=f"prep {n}").sid)
        clock.now += timedelta(hours=12)
    client.messages.create(to="+14155550999", from_=FROM, body="other")
    other_sender = client.messages.create(to=TO, from_="+14155550777", body="x").sid

    listed = client.messages.list(to=TO, from_=FROM)
    assert [m.sid for m in listed] == sids[::-1]
    assert [m.body for m in listed] == ["prep 2", "prep 1", "prep 0"]
    assert all(m.status == "sent" for m in listed)
    assert listed[-1].date_created == T0 and listed[-1].date_sent == T0
    assert client.messages.list(to=TO)[0].sid == other_sender
    # DateSent is a GMT date, inclusive; twilio-python sends a datetime as an ISO time
    day_one = client.messages.list(to=TO, from_=FROM, date_sent=T0)
    assert [m.body for m in day_one] == ["prep 0"]  # 14:00 on day one; the others next day
    since = client.messages.list(to=TO, from_=FROM, date_sent_after=T0 + timedelta(days=1))
    assert [m.body for m in since] == ["prep 2", "prep 1"]
    until = client.messages.list(to=TO, from_=FROM, date_sent_before=T0)
    assert [m.body for m in until] == ["prep 0"]
    # Paging: twilio-python follows next_page_uri
    first_page = client.messages.page(to=TO, page_size=2)
    assert len(list(first_page)) == 2 and first_page.next_page_url is not None
    assert len(list(client.messages.stream(page_size=2))) == 5
    assert len(fake_twilio.created) == 5


def test_twilio_queued_messages_match_no_date_filter(fake_twilio: FakeTwilioAPI) -> None:
    fake_twilio.send_immediately = False
    client = _twilio(fake_twilio)
    client.messages.create(to=TO, from_=FROM, body="still queued")
    [listed] = client.messages.list(to=TO)
    assert listed.status == "queued" and listed.date_sent is None
    assert client.messages.list(to=TO, date_sent_after=datetime.now(UTC)) == []


@pytest.mark.parametrize("mode", ["reset", "status"])
def test_twilio_creates_then_loses_the_answer(fake_twilio: FakeTwilioAPI, mode: Any) -> None:
    from requests.exceptions import ConnectionError as RequestsConnectionError
    from twilio.base.exceptions import TwilioRestException

    client = _twilio(fake_twilio)
    fake_twilio.lose_response_next("messages.create", mode=mode, status=500)
    with pytest.raises((RequestsConnectionError, TwilioRestException)) as info:
        client.messages.create(to=TO, from_=FROM, body="lost answer")
    if mode == "status":
        assert isinstance(info.value, TwilioRestException) and info.value.status == 500
    else:
        assert isinstance(info.value, RequestsConnectionError)
    [created] = fake_twilio.created
    assert created["body"] == "lost answer"
    assert [m.sid for m in client.messages.list(to=TO)] == [created["sid"]]


def test_twilio_hook_on_arrival_runs_before_the_message_exists(
    fake_twilio: FakeTwilioAPI,
) -> None:
    counts: list[int] = []
    fake_twilio.on("messages.create", "received", lambda r: counts.append(len(fake_twilio.created)))
    fake_twilio.on("messages.create", "acted", lambda r: counts.append(len(fake_twilio.created)))
    fake_twilio.on("messages.list", "received", lambda r: counts.append(-1))
    client = _twilio(fake_twilio)
    client.messages.create(to=TO, from_=FROM, body="hi")
    client.messages.list(to=TO)
    assert counts == [0, 1, -1]


def test_slack_slow_failure_posts_nothing(fake_slack: FakeSlackAPI) -> None:
    client = WebClient(token="xoxb-1", base_url=fake_slack.url, timeout=1, retry_handlers=[])
    fake_slack.fail_next("chat.postMessage", error="internal_error", status=500, delay=5)
    with pytest.raises(TimeoutError):
        client.chat_postMessage(channel="U0ADA1234", text="never posted")
    assert fake_slack.messages_in("U0ADA1234") == []
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
