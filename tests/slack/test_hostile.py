"""Hostile requests at both doors (the Lambda handler, the local server), fuzzed with hypothesis.

Unsigned or badly signed: 401 ``{"error": "invalid request"}`` whatever the bytes. Signed but
malformed: 2xx, or 400 when it is not a Slack request at all. Never a 5xx, never a traceback in
the logs, and nothing changes: no Slack call, the meeting's status and chat session untouched.
"""

from __future__ import annotations

import base64
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exec_assistant.models import Meeting, MeetingStatus, chat_session_id_for
from exec_assistant.runtime import Runtime
from tests.fakes.slack_api import FakeSlackAPI
from tests.slack.conftest import Clock
from tests.slack.harness import SECRET, Body, HttpTransport, LambdaTransport, Payloads, v2_event
from tests.slack.signing import signature

Send = Callable[[bytes, dict[str, str]], tuple[int, str]]

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

CONTENT_TYPES = st.sampled_from(
    ["application/json", "application/x-www-form-urlencoded", "text/plain", ""]
)
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.just({}),
    st.just("x"),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)


# --- the two doors, taking raw bytes ------------------------------------------------------------


def _lambda_sender(b64: bool) -> Send:
    from exec_assistant.interfaces.slack_bot import lambda_handler
    from tests.slack.harness import LAMBDA_CONTEXT

    def send(body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        event = v2_event(Body("", "application/json"), headers)
        if b64:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
        else:
            event["body"] = body.decode("utf-8", "replace")
        raw = lambda_handler(event, LAMBDA_CONTEXT)
        return int(raw["statusCode"]), str(raw["body"])

    return send


def _http_sender(url: str) -> Send:
    def send(body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    return send


@pytest.fixture(params=["lambda", "lambda-base64", "http"])
def door(
    request: pytest.FixtureRequest,
    runtime: Runtime,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Send]:
    if request.param == "http":
        http: HttpTransport = request.getfixturevalue("via_http")
        yield _http_sender(http.url)
    else:
        request.getfixturevalue("via_lambda")
        yield _lambda_sender(b64=request.param == "lambda-base64")


def signed(clock: Clock, body: bytes, content_type: str) -> dict[str, str]:
    ts = int(clock().timestamp())
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": signature(SECRET, ts, body.decode("utf-8")),
    }


@pytest.fixture
def watch(
    runtime: Runtime,
    meeting: Meeting,
    fake_slack: FakeSlackAPI,
    caplog: pytest.LogCaptureFixture,
) -> Callable[[int], None]:
    """Asserts, after each request, that it changed nothing and left no traceback."""
    caplog.set_level(logging.DEBUG)

    def check(status: int) -> None:
        assert status < 500
        # reads, and a refusal to the clicker, are not changes
        assert {c.method for c in fake_slack.calls} <= {"auth.test", "chat.postEphemeral"}
        fake_slack.reset()  # hypothesis runs many examples in one test
        stored = runtime.store.get_meeting(meeting.meeting_id)
        assert stored is not None and stored.status == meeting.status
        assert runtime.store.get_chat_session(chat_session_id_for(meeting.meeting_id)) is None
        tracebacks = [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
        assert tracebacks == []

    return check


# --- unsigned --------------------------------------------------------------------------------


@FUZZ
@given(
    body=st.binary(max_size=300) | JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    content_type=CONTENT_TYPES,
    sig=st.sampled_from(["", "v0=", "v0=" + "0" * 64, "garbage", None]),
    timestamp=st.sampled_from(["", "abc", "-1", "1772442000", None]),
)
def test_unsigned_or_badly_signed_is_401_whatever_the_bytes(
    door: Send,
    watch: Callable[[int], None],
    body: bytes,
    content_type: str,
    sig: str | None,
    timestamp: str | None,
) -> None:
    headers = {"Content-Type": content_type}
    if sig is not None:
        headers["X-Slack-Signature"] = sig
    if timestamp is not None:
        headers["X-Slack-Request-Timestamp"] = timestamp
    status, text = door(body, headers)
    assert (status, json.loads(text)) == (401, {"error": "invalid request"})
    watch(status)


@pytest.mark.parametrize(
    "body",
    [b"{", b"payload=%7B", b"\xff\xfe\x00garbage", b'{"event": "str"}', b"[1, 2]", b"null"],
    ids=["brace", "form-payload", "non-utf8", "event-str", "array", "null"],
)
def test_the_reported_garbage_with_a_wrong_signature_is_401(
    door: Send, watch: Callable[[int], None], clock: Clock, body: bytes
) -> None:
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": str(int(clock().timestamp())),
        "X-Slack-Signature": "v0=" + "ab" * 32,
    }
    status, _ = door(body, headers)
    assert status == 401
    watch(status)


def test_invalid_base64_is_401(via_lambda: LambdaTransport, watch: Callable[[int], None]) -> None:
    from exec_assistant.interfaces.slack_bot import lambda_handler
    from tests.slack.harness import LAMBDA_CONTEXT

    event = v2_event(Body("", "application/json"), {"x-slack-signature": "v0=00"})
    event["body"], event["isBase64Encoded"] = "!!not base64!!", True
    reply = lambda_handler(event, LAMBDA_CONTEXT)
    assert reply["statusCode"] == 401
    watch(reply["statusCode"])


# --- signed, malformed ---------------------------------------------------------------------------


@FUZZ
@given(
    body=st.binary(max_size=200) | JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    content_type=CONTENT_TYPES,
)
def test_signed_garbage_is_never_a_5xx(
    door: Send,
    watch: Callable[[int], None],
    clock: Clock,
    body: bytes,
    content_type: str,
) -> None:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:  # Slack signs UTF-8 only: such bytes cannot be signed by it
        status, _ = door(body, {"Content-Type": content_type})
        assert status == 401
        return
    status, _ = door(body, signed(clock, body, content_type))
    assert status in (200, 400)
    watch(status)


def _block_action(payloads: Payloads, meeting: Meeting, path: list[str | int], junk: Any) -> bytes:
    form = dict(
        pair.split("=", 1)
        for pair in payloads.block_action("start_prep", value=meeting.meeting_id).text.split("&")
    )
    from urllib.parse import unquote_plus

    payload = json.loads(unquote_plus(form["payload"]))
    _mutate(payload, path, junk)
    return urlencode({"payload": json.dumps(payload)}).encode()


def _mutate(document: Any, path: list[str | int], junk: Any) -> None:
    *parents, last = path
    for key in parents:
        document = document[key]
    if junk is _DELETE:
        del document[last]
    else:
        document[last] = junk


_DELETE = object()
ACTION_PATHS: list[list[str | int]] = [
    ["actions"],
    ["actions", 0],
    ["actions", 0, "value"],
    ["actions", 0, "action_id"],
    ["user"],
    ["user", "id"],
    ["container"],
    ["container", "type"],
    ["type"],
]
EVENT_PATHS: list[list[str | int]] = [
    ["event"],
    ["event", "user"],
    ["event", "channel"],
    ["event", "type"],
    ["event", "channel_type"],
    ["type"],
]


@FUZZ
@given(
    path=st.sampled_from(ACTION_PATHS),
    junk=JUNK.filter(lambda v: not isinstance(v, str)) | st.just(_DELETE),
)
def test_signed_block_actions_with_broken_parts_change_nothing(
    door: Send,
    watch: Callable[[int], None],
    clock: Clock,
    payloads: Payloads,
    meeting: Meeting,
    path: list[str | int],
    junk: Any,
) -> None:
    body = _block_action(payloads, meeting, path, junk)
    status, _ = door(body, signed(clock, body, "application/x-www-form-urlencoded"))
    assert status in (200, 400)
    watch(status)


@FUZZ
@given(
    path=st.sampled_from(EVENT_PATHS),
    junk=JUNK.filter(lambda v: not isinstance(v, str)) | st.just(_DELETE),
)
def test_signed_events_with_broken_parts_change_nothing(
    door: Send,
    watch: Callable[[int], None],
    clock: Clock,
    payloads: Payloads,
    path: list[str | int],
    junk: Any,
) -> None:
    envelope = json.loads(payloads.dm("hello").text)
    _mutate(envelope, path, junk)
    body = json.dumps(envelope).encode()
    status, _ = door(body, signed(clock, body, "application/json"))
    assert status in (200, 400)
    watch(status)


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b"{", "application/json", 400),
        (b"user_id=U1&command=%2Fmeetings", "application/json", 400),  # form labelled JSON
        (b'{"type": "event_callback", "event": "str"}', "application/json", 200),
        (b'{"type": "event_callback", "event": null}', "application/json", 200),
        (b'{"type": "block_actions", "actions": "x"}', "application/json", 200),
        (b"[1]", "application/json", 400),
        (b'{"hello": 1}', "application/json", 400),
    ],
    ids=["brace", "form-as-json", "event-str", "event-null", "actions-str", "array", "no-type"],
)
def test_the_reported_signed_shapes(
    door: Send,
    watch: Callable[[int], None],
    clock: Clock,
    body: bytes,
    content_type: str,
    expected: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    status, _ = door(body, signed(clock, body, content_type))
    assert status == expected
    watch(status)
    dropped = [r for r in caplog.records if r.getMessage() == "slack.request.dropped"]
    assert len(dropped) == 1  # one warning line, and never the body in it
    logged = json.dumps(dropped[0].__dict__["fields"])
    assert len(body) < 4 or body.decode() not in logged


def test_a_dm_event_without_a_channel_is_acknowledged_and_logged_once(
    via_lambda: LambdaTransport,
    payloads: Payloads,
    watch: Callable[[int], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    envelope = json.loads(payloads.dm("hello").text)
    del envelope["event"]["channel"]
    reply = via_lambda.send(Body(json.dumps(envelope), "application/json"))
    assert reply.status == 200
    watch(reply.status)
    [line] = [r for r in caplog.records if r.getMessage() == "slack.payload_malformed"]
    assert line.levelno == logging.WARNING
    assert line.__dict__["fields"] == {"listener": "direct_message", "fields": ["channel"]}


def test_a_meeting_still_starts_after_the_fuzzing(
    via_lambda: LambdaTransport,
    payloads: Payloads,
    meeting: Meeting,
    runtime: Runtime,
) -> None:
    """The guard rails do not refuse the real thing."""
    reply = via_lambda.send(payloads.block_action("start_prep", value=meeting.meeting_id))
    assert reply.status == 200
    stored = runtime.store.get_meeting(meeting.meeting_id)
    assert stored is not None and stored.status == MeetingStatus.PREP_IN_PROGRESS
