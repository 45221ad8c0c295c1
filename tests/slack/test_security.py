"""Verification through the real entry points: a bad signature is a 401 and nothing runs;
url_verification only when signed; other workspaces ignored; cold start makes no Slack call."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from exec_assistant.models import Meeting, chat_session_id_for
from exec_assistant.runtime import Runtime
from tests.fakes.slack_api import FakeSlackAPI
from tests.slack.conftest import Clock, serve_on_lambda
from tests.slack.harness import HttpTransport, LambdaTransport, Payloads, responded

BAD_REQUESTS = ["tampered", "wrong_secret", "stale", "missing_signature", "missing_timestamp"]


def _assert_nothing_happened(fake: FakeSlackAPI, runtime: Runtime, meeting: Meeting) -> None:
    assert fake.calls == []
    stored = runtime.store.get_meeting(meeting.meeting_id)
    assert stored is not None
    assert stored.status == meeting.status
    assert runtime.store.get_chat_session(chat_session_id_for(meeting.meeting_id)) is None


def _bad_send(
    transport: LambdaTransport | HttpTransport,
    payloads: Payloads,
    meeting: Meeting,
    clock: Clock,
    case: str,
) -> tuple[int, str]:
    body = payloads.block_action("start_prep", value=meeting.meeting_id)
    if case == "tampered":
        headers = transport.signing.headers(body)
        tampered = type(body)(body.text.replace("U0EXEC001", "U0EXEC009"), body.content_type)
        return _raw(transport, tampered, headers)
    if case == "wrong_secret":
        reply = transport.send(body, secret="0000000000000000000000000000000000")
    elif case == "stale":
        reply = transport.send(body, timestamp=int(clock().timestamp()) - 301)
    elif case == "missing_signature":
        reply = transport.send(body, unsigned=True)
    else:
        headers = transport.signing.headers(body)
        del headers["X-Slack-Request-Timestamp"]
        return _raw(transport, body, headers)
    return reply.status, reply.body


def _raw(
    transport: LambdaTransport | HttpTransport, body: object, headers: dict[str, str]
) -> tuple[int, str]:
    """Send with exactly these headers (no re-signing)."""
    from tests.slack.harness import Body, v2_event

    assert isinstance(body, Body)
    if isinstance(transport, LambdaTransport):
        reply = transport.deliver(v2_event(body, headers))
        return reply.status, reply.body
    original = transport.signing.headers
    transport.signing.headers = lambda *_a, **_k: headers  # type: ignore[method-assign]
    try:
        reply = transport.send(body)
    finally:
        transport.signing.headers = original  # type: ignore[method-assign]
    return reply.status, reply.body


@pytest.mark.parametrize("case", BAD_REQUESTS)
def test_bad_signature_is_401_and_nothing_runs_lambda(
    case: str,
    via_lambda: LambdaTransport,
    payloads: Payloads,
    meeting: Meeting,
    clock: Clock,
    fake_slack: FakeSlackAPI,
    runtime: Runtime,
) -> None:
    from exec_assistant.interfaces.slack_bot import after_response

    queued = after_response.queued
    status, body = _bad_send(via_lambda, payloads, meeting, clock, case)
    assert status == 401
    assert json.loads(body) == {"error": "invalid request"}
    assert after_response.queued == queued
    _assert_nothing_happened(fake_slack, runtime, meeting)


@pytest.mark.parametrize("case", BAD_REQUESTS)
def test_bad_signature_is_401_and_nothing_runs_http(
    case: str,
    via_http: HttpTransport,
    payloads: Payloads,
    meeting: Meeting,
    clock: Clock,
    fake_slack: FakeSlackAPI,
    runtime: Runtime,
) -> None:
    status, body = _bad_send(via_http, payloads, meeting, clock, case)
    assert status == 401
    assert json.loads(body) == {"error": "invalid request"}
    _assert_nothing_happened(fake_slack, runtime, meeting)


def test_url_verification_only_when_signed(
    via_lambda: LambdaTransport, fake_slack: FakeSlackAPI
) -> None:
    body = Payloads.url_verification("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
    reply = via_lambda.send(body)
    assert reply.status == 200
    assert reply.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    refused = via_lambda.send(body, secret="not-the-signing-secret-000")
    assert refused.status == 401
    assert "3eZbrw" not in refused.body
    assert fake_slack.calls == []


def test_other_workspace_is_ignored_when_team_id_set(
    runtime: Runtime,
    via_lambda: LambdaTransport,
    payloads: Payloads,
    meeting: Meeting,
    fake_slack: FakeSlackAPI,
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"slack_team_id": "T0FAKE001"})
    serve_on_lambda()

    foreign = Payloads(payloads.response_url, team_id="T0ELSEWHERE")
    reply = via_lambda.send(foreign.block_action("start_prep", value=meeting.meeting_id))
    assert reply.status == 200
    command = via_lambda.send(foreign.command("week"))
    assert command.status == 200
    assert "not set up for this workspace" in command.body
    dm = via_lambda.send(foreign.dm("hello"))
    assert dm.status == 200
    _assert_nothing_happened(fake_slack, runtime, meeting)

    # the configured workspace is served
    via_lambda.send(payloads.command("week"))
    assert "Q1 board review" in json.dumps(responded(fake_slack)["blocks"])


def test_building_the_app_calls_no_slack_api(runtime: Runtime, fake_slack: FakeSlackAPI) -> None:
    from exec_assistant.interfaces.slack_bot import create_app

    create_app(runtime, process_before_response=True)
    assert fake_slack.calls == []


def test_cold_start_from_environment(
    monkeypatch: pytest.MonkeyPatch, fake_slack: FakeSlackAPI, tmp_path: object, clock: Clock
) -> None:
    """No injection at all: lambda_handler builds the runtime from the environment (SQLite here)
    and answers /meetings for a caller the store does not know."""
    from exec_assistant.interfaces import slack_bot
    from exec_assistant.runtime import reset_runtime
    from tests.slack.harness import SECRET, LambdaTransport, Signing

    monkeypatch.setenv("EXEC_ASSISTANT_STORE", f"sqlite:///{tmp_path}/cold.db")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-cold-start-0000")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("SLACK_API_URL", fake_slack.url)
    reset_runtime()
    slack_bot.reset_app()
    try:
        transport = LambdaTransport(Signing(lambda: datetime.now(UTC)))
        reply = transport.send(
            Payloads(f"{fake_slack.origin}/response").command("", user="U0NEWBIE1")
        )
        assert reply.status == 200
        text = responded(fake_slack)["text"]
        assert "exec-assistant users add --slack-user-id U0NEWBIE1" in text
    finally:
        slack_bot.reset_app()
        reset_runtime()
