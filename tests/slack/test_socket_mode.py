"""Socket Mode end to end on loopback: the local server asks the fake Web API's
``apps.connections.open`` for a WebSocket URL, connects to a fake Socket Mode endpoint, and
answers real ``/meetings`` and Start Prep envelopes exactly as Slack delivers them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import pytest
from pydantic import SecretStr

from exec_assistant.config import Settings
from exec_assistant.interfaces.local_server import LocalSlackServer, start_slack_server
from exec_assistant.models import Meeting, MeetingStatus, chat_session_id_for
from exec_assistant.runtime import Runtime
from tests.fakes.slack_api import FakeSlackAPI, dm_channel_for
from tests.fakes.socket_mode import FakeSocketMode
from tests.slack.harness import OWNER_SLACK_ID, Body, Payloads, responded, wait_for

APP_TOKEN = "xapp-1-A0EXECAPP-1234567890-socketmodetesttoken"
DM = dm_channel_for(OWNER_SLACK_ID)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The usual Socket Mode setup: bot and app-level tokens, no signing secret."""
    return settings.model_copy(
        update={"slack_app_token": SecretStr(APP_TOKEN), "slack_signing_secret": None}
    )


@pytest.fixture
def socket_mode(fake_slack: FakeSlackAPI) -> Iterator[FakeSocketMode]:
    with FakeSocketMode() as fake:
        fake_slack.socket_mode_url = fake.url
        yield fake


@pytest.fixture
def server(runtime: Runtime, socket_mode: FakeSocketMode) -> Iterator[LocalSlackServer]:
    server = start_slack_server(runtime)  # Socket Mode because SLACK_APP_TOKEN is set
    try:
        yield server
    finally:
        server.stop()


def command_payload(body: Body) -> dict[str, Any]:
    """A slash command as Socket Mode carries it: the HTTP form fields as a JSON object."""
    return dict(parse_qsl(body.text, keep_blank_values=True))


def interactive_payload(body: Body) -> dict[str, Any]:
    """An interaction as Socket Mode carries it: the HTTP ``payload=`` field, decoded."""
    payload: dict[str, Any] = json.loads(dict(parse_qsl(body.text))["payload"])
    return payload


def _action_values(blocks: list[dict[str, Any]], action_id: str) -> list[str]:
    return [
        str(e.get("value"))
        for b in blocks
        if b.get("type") == "actions"
        for e in b.get("elements", [])
        if e.get("action_id") == action_id
    ]


def test_socket_mode_meetings_then_start_prep_then_stop(
    runtime: Runtime,
    meeting: Meeting,
    server: LocalSlackServer,
    socket_mode: FakeSocketMode,
    fake_slack: FakeSlackAPI,
    payloads: Payloads,
) -> None:
    assert server.mode == "socket_mode"
    socket_mode.wait_connected()
    [opened] = fake_slack.calls_to("apps.connections.open")
    assert opened.token == APP_TOKEN  # the app-level token, never the bot token
    assert socket_mode.paths == [f"/link/?ticket={socket_mode.ticket}&app_id=A0EXECAPP"]

    # /meetings: the envelope is acknowledged empty, the list follows through response_url
    listing = socket_mode.send_envelope(
        "slash_commands", command_payload(payloads.command("week")), accepts_response_payload=True
    )
    assert socket_mode.ack_for(listing) == {"envelope_id": listing}
    wait_for(lambda: any(c.method.isdigit() for c in fake_slack.calls))
    answer = responded(fake_slack)
    assert answer["response_type"] == "ephemeral"
    assert "Q1 board review" in json.dumps(answer["blocks"])
    assert _action_values(answer["blocks"], "start_prep") == [meeting.meeting_id]
    # nothing else: the URL request, Bolt's one-time auth.test, the response_url post
    assert {c.method for c in fake_slack.calls if not c.method.isdigit()} == {
        "apps.connections.open",
        "auth.test",
    }

    # Start Prep on the notification message: acknowledged empty, the work runs after
    click = socket_mode.send_envelope(
        "interactive",
        interactive_payload(
            payloads.block_action(
                "start_prep", value=meeting.meeting_id, message_ts="1700000001.000001"
            )
        ),
        accepts_response_payload=False,
    )
    assert socket_mode.ack_for(click) == {"envelope_id": click}
    wait_for(lambda: len(fake_slack.calls_to("chat.postMessage")) == 1)
    wait_for(lambda: len(fake_slack.calls_to("chat.update")) == 1)

    [update] = fake_slack.calls_to("chat.update")
    assert (update.params["channel"], update.params["ts"]) == (DM, "1700000001.000001")
    [question] = fake_slack.calls_to("chat.postMessage")
    assert question.params["channel"] == DM
    assert "goal of this meeting" in question.params["text"]
    stored = runtime.store.get_meeting(meeting.meeting_id)
    assert stored is not None and stored.status == MeetingStatus.PREP_IN_PROGRESS
    session = runtime.store.get_active_chat_session(OWNER_SLACK_ID)
    assert session is not None
    assert session.session_id == chat_session_id_for(meeting.meeting_id)
    assert session.slack_channel_id == DM

    # stop(): the socket is closed, and the client does not reconnect
    server.stop()
    socket_mode.wait_disconnected()
    server.stop()  # safe twice
    assert len(socket_mode.paths) == 1
    assert len(fake_slack.calls_to("apps.connections.open")) == 1


def test_socket_mode_moves_to_a_new_connection_when_slack_asks(
    meeting: Meeting,
    server: LocalSlackServer,
    socket_mode: FakeSocketMode,
    fake_slack: FakeSlackAPI,
    payloads: Payloads,
) -> None:
    """Slack sends ``disconnect`` (``refresh_requested``) every few hours; a long-running local
    server must fetch a new URL, reconnect, and keep answering there."""
    socket_mode.wait_connected()
    socket_mode.send_disconnect()
    socket_mode.wait_connected(count=2)
    assert len(fake_slack.calls_to("apps.connections.open")) == 2

    listing = socket_mode.send_envelope(
        "slash_commands", command_payload(payloads.command("week")), accepts_response_payload=True
    )
    assert socket_mode.ack_for(listing) == {"envelope_id": listing}
    wait_for(lambda: any(c.method.isdigit() for c in fake_slack.calls))
    assert "Q1 board review" in json.dumps(responded(fake_slack)["blocks"])


def test_http_requests_are_refused_without_a_signing_secret(
    runtime: Runtime, fake_slack: FakeSlackAPI
) -> None:
    """In Socket Mode with no signing secret, the app takes nothing but socket envelopes."""
    from slack_bolt.request import BoltRequest

    from exec_assistant.interfaces.slack_bot import create_app

    app = create_app(runtime, process_before_response=False, socket_mode=True)
    body = Payloads(response_url=f"{fake_slack.origin}/response").command("week")
    response = app.dispatch(
        BoltRequest(body=body.text, headers={"content-type": body.content_type})
    )
    assert response.status == 401
    assert fake_slack.calls == []


@pytest.mark.parametrize(
    ("token", "error"),
    [("xoxb-bot-token-in-the-wrong-place", "not_allowed_token_type"), (APP_TOKEN, "invalid_auth")],
)
def test_a_refused_app_token_fails_start_clearly_and_leaves_no_threads(
    runtime: Runtime, fake_slack: FakeSlackAPI, token: str, error: str
) -> None:
    import threading

    from exec_assistant.errors import ConfigurationError

    runtime.settings.slack_app_token = SecretStr(token)
    if error == "invalid_auth":
        fake_slack.fail_next("apps.connections.open", error="invalid_auth")
    before = set(threading.enumerate())
    with pytest.raises(ConfigurationError, match="SLACK_APP_TOKEN") as refused:
        start_slack_server(runtime)
    assert refused.value.code == error
    assert token not in str(refused.value)
    # (the fake's thread for our closed keep-alive connection may take a moment to notice)
    wait_for(lambda: [t for t in set(threading.enumerate()) - before if t.is_alive()] == [])
