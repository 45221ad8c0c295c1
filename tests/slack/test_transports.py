"""The same app behind each door: API Gateway HTTP API v2 and REST v1 events (header case,
base64 bodies, a missing ``isBase64Encoded``), and the local HTTP server end to end."""

from __future__ import annotations

import json

import pytest

from exec_assistant.errors import ConfigurationError
from exec_assistant.models import MeetingStatus, chat_session_id_for
from exec_assistant.runtime import Runtime
from tests.fakes.slack_api import FakeSlackAPI
from tests.slack.harness import (
    HttpTransport,
    LambdaTransport,
    Payloads,
    responded,
    v1_event,
    v2_event,
    wait_for,
)
from tests.slack.test_interactions import ANSWERS

pytestmark = pytest.mark.usefixtures("meeting")


@pytest.mark.parametrize(
    ("version", "b64"),
    [("v2", False), ("v2", True), ("v1", False), ("v1", True)],
    ids=["v2", "v2-base64", "v1-mixed-case", "v1-base64"],
)
def test_api_gateway_event_shapes(
    version: str,
    b64: bool,
    via_lambda: LambdaTransport,
    payloads: Payloads,
    fake_slack: FakeSlackAPI,
) -> None:
    via_lambda.version = "v1" if version == "v1" else "v2"
    reply = via_lambda.send(payloads.command("week"), b64=b64)
    assert reply.status == 200
    assert "Q1 board review" in json.dumps(responded(fake_slack)["blocks"])


def test_v1_headers_keep_their_case_and_missing_base64_flag_is_tolerated(
    via_lambda: LambdaTransport, payloads: Payloads, fake_slack: FakeSlackAPI
) -> None:
    body = payloads.command("week")
    headers = via_lambda.signing.headers(body)
    assert "X-Slack-Signature" in headers  # mixed case, as API Gateway REST passes them on
    event = v1_event(body, headers, omit_b64_flag=True)
    reply = via_lambda.deliver(event)
    assert reply.status == 200
    assert "Q1 board review" in json.dumps(responded(fake_slack)["blocks"])


def test_not_a_post_is_not_allowed(via_lambda: LambdaTransport, payloads: Payloads) -> None:
    event = v2_event(payloads.command(), {})
    event["requestContext"]["http"]["method"] = "GET"
    reply = via_lambda.deliver(event)
    assert (reply.status, reply.headers.get("allow")) == (405, "POST")


def test_local_http_server_whole_flow(
    runtime: Runtime, via_http: HttpTransport, payloads: Payloads, fake_slack: FakeSlackAPI
) -> None:
    meeting_id = "mtg-board-review"
    listing = via_http.send(payloads.command("week"))
    assert listing.status == 200
    wait_for(lambda: any(c.method.isdigit() for c in fake_slack.calls))
    assert "Q1 board review" in json.dumps(responded(fake_slack)["blocks"])

    assert via_http.send(payloads.block_action("start_prep", value=meeting_id)).status == 200
    wait_for(lambda: len(fake_slack.calls_to("chat.update")) == 1)
    assert len(fake_slack.calls_to("chat.postMessage")) == 1

    for n, answer in enumerate(ANSWERS, start=2):
        assert via_http.send(payloads.dm(answer)).status == 200
        wait_for(lambda n=n: len(fake_slack.calls_to("chat.postMessage")) == n)  # type: ignore[misc]

    meeting = runtime.store.get_meeting(meeting_id)
    assert meeting is not None and meeting.status == MeetingStatus.PREP_COMPLETED
    session = runtime.store.get_chat_session(chat_session_id_for(meeting_id))
    assert session is not None and list(session.prep_answers.values()) == ANSWERS
    assert "Prep brief" in json.dumps(fake_slack.calls_to("chat.postMessage")[-1].params["blocks"])


def test_local_server_other_paths_are_not_found(
    via_http: HttpTransport, payloads: Payloads
) -> None:
    via_http.url = via_http.url.replace("/slack/webhook", "/elsewhere")
    assert via_http.send(payloads.command()).status == 404


def test_socket_mode_needs_an_app_token(runtime: Runtime) -> None:
    from exec_assistant.interfaces.local_server import start_slack_server

    with pytest.raises(ConfigurationError, match="SLACK_APP_TOKEN"):
        start_slack_server(runtime, socket_mode=True)


def test_local_server_stops_cleanly_and_twice(runtime: Runtime) -> None:
    import urllib.request

    from exec_assistant.interfaces.local_server import start_slack_server

    server = start_slack_server(runtime, host="127.0.0.1", port=0)
    assert server.mode == "http"
    url = server.url
    server.stop()
    server.stop()
    with pytest.raises(OSError):
        urllib.request.urlopen(url, data=b"", timeout=2)


def test_the_bots_client_never_resends_a_post_whose_answer_was_lost(
    runtime: Runtime, fake_slack: FakeSlackAPI
) -> None:
    # Slack posted the message, then the connection was reset before the answer: slack_sdk's
    # default connection handler would post it again (the executive would see it twice).
    from exec_assistant.interfaces.slack_bot import create_app

    app = create_app(runtime, signing_secrets=None, socket_mode=True)
    fake_slack.lose_response_next("chat.postMessage", mode="reset")
    with pytest.raises(OSError):  # the lost answer surfaces as the socket's error
        app.client.chat_postMessage(channel="U0EXEC", text="hello")
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    assert len(fake_slack.posted) == 1
    # a 429 is still waited out and retried: Slack posted nothing
    fake_slack.fail_next("chat.postMessage", error="ratelimited", status=429, retry_after=0)
    app.client.chat_postMessage(channel="U0EXEC", text="again")
    assert len(fake_slack.calls_to("chat.postMessage")) == 3
