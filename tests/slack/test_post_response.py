"""Post-response work that cannot be lost: registration only under the bot's own ``_HANDLER``,
the invocation's deadline, bounded retries of transient failures, and for work that still
fails a dead letter (SQS, moto) and a word to the executive in Slack. Faults are injected."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from exec_assistant.errors import PermanentError, StoreUnavailableError
from exec_assistant.interfaces import after_response as ar
from exec_assistant.interfaces.listener_kit import error_class
from exec_assistant.interfaces.post_response import (
    Job,
    Notice,
    Policy,
    PostResponse,
)
from exec_assistant.models import Meeting, MeetingStatus
from exec_assistant.runtime import Runtime
from tests.fakes.lambda_extensions import FakeExtensionsApi
from tests.fakes.slack_api import FakeSlackAPI
from tests.slack.conftest import serve_on_lambda
from tests.slack.harness import LAMBDA_CONTEXT, LambdaTransport, Payloads
from tests.slack.test_after_response import HANDLER, on_lambda_env

NOTICE = Notice("Start Prep", "click Start Prep again")


class Letters:
    def __init__(self, *, broken: bool = False) -> None:
        self.sent: list[dict[str, Any]] = []
        self.broken = broken

    def send(self, record: Any) -> None:
        if self.broken:
            raise ConnectionError("sqs unreachable")
        self.sent.append(dict(record))


class FakeClient:
    def __init__(self) -> None:
        self.posted: list[dict[str, Any]] = []

    def chat_postMessage(self, **kwargs: Any) -> None:
        self.posted.append(kwargs)


def _job(run: Any, client: FakeClient | None = None) -> Job:
    return Job("start_prep", run, client, "U0EXEC001", "T0FAKE001", NOTICE)  # type: ignore[arg-type]


def _post(letters: Letters, pauses: list[float]) -> PostResponse:
    return PostResponse(
        classify=error_class,
        dead_letters=letters,
        policy=Policy(attempts=3, pauses=(0.3, 1.0), attempt_seconds=13.0),
        sleep=pauses.append,
    )


# --- registration ------------------------------------------------------------------------------


def test_the_extension_registers_only_under_the_bots_own_handler() -> None:
    with FakeExtensionsApi() as api:
        other = ar.register_extension(HANDLER, on_lambda_env(api, "my_service.handler.main"))
        assert other.extension is None  # a library user's Lambda: nothing registers
        assert api.registrations == []
        mine = ar.register_extension(HANDLER, on_lambda_env(api))
        assert mine.extension is not None
        assert len(api.registrations) == 1


def test_importing_the_library_on_lambda_registers_nothing(tmp_path: Any) -> None:
    """``import exec_assistant; exec_assistant.create_app`` in a Lambda whose handler is
    someone else's: no registration reaches the Extensions API."""
    import os
    import subprocess
    import sys

    with FakeExtensionsApi() as api:
        env = os.environ | on_lambda_env(api, "my_service.handler.main")
        code = "import exec_assistant; exec_assistant.create_app"
        subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
        assert api.registrations == []


# --- the policy ---------------------------------------------------------------------------------


def test_a_transient_failure_is_retried_and_then_succeeds() -> None:
    letters, pauses, calls = Letters(), list[float](), list[int]()

    def flaky() -> None:
        calls.append(1)
        if len(calls) < 3:
            raise StoreUnavailableError("throttled")

    _post(letters, pauses).run(_job(flaky), ar.Deadline())
    assert (len(calls), pauses, letters.sent) == (3, [0.3, 1.0], [])


def test_a_transient_failure_that_persists_is_dead_lettered_and_told(
    caplog: pytest.LogCaptureFixture,
) -> None:
    letters, pauses, client = Letters(), list[float](), FakeClient()

    def down() -> None:
        raise StoreUnavailableError("throttled")

    with caplog.at_level(logging.WARNING):
        _post(letters, pauses).run(_job(down, client), ar.Deadline())
    [record] = letters.sent
    assert record["listener"] == "start_prep"
    assert (record["reason"], record["attempts"], record["error_class"]) == (
        "failed",
        3,
        "transient",
    )
    assert record["slack_user_id"] == "U0EXEC001"
    [notice] = client.posted
    assert notice["channel"] == "U0EXEC001"
    assert "Start Prep did not go through" in notice["text"]
    assert "click Start Prep again" in notice["text"]
    assert [r.getMessage() for r in caplog.records].count("slack.post_response_retry") == 2


def test_a_permanent_failure_is_not_retried() -> None:
    letters, pauses, calls = Letters(), list[float](), list[int]()

    def refused() -> None:
        calls.append(1)
        raise PermanentError("bad meeting id")

    _post(letters, pauses).run(_job(refused, FakeClient()), ar.Deadline())
    assert (len(calls), pauses) == (1, [])
    assert letters.sent[0]["error_class"] == "permanent"


def test_work_that_no_longer_fits_the_deadline_is_not_started() -> None:
    letters, pauses, client, calls = Letters(), list[float](), FakeClient(), list[int]()
    deadline = ar.Deadline.of(SimpleNamespace(get_remaining_time_in_millis=lambda: 5000))
    _post(letters, pauses).run(_job(lambda: calls.append(1), client), deadline)
    assert calls == []
    assert (letters.sent[0]["reason"], letters.sent[0]["attempts"]) == ("deadline", 0)
    assert len(client.posted) == 1


def test_no_retry_past_the_deadline() -> None:
    letters, pauses, calls = Letters(), list[float](), list[int]()
    deadline = ar.Deadline.of(SimpleNamespace(get_remaining_time_in_millis=lambda: 13_200))

    def down() -> None:
        calls.append(1)
        raise StoreUnavailableError("throttled")

    _post(letters, pauses).run(_job(down, FakeClient()), deadline)
    assert calls == [1]  # 13.2 s left: one attempt fits, a second (13 s + 0.3 s pause) does not
    assert letters.sent[0]["reason"] == "deadline"


def test_a_failing_dead_letter_still_tells_the_executive(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = FakeClient()

    def refused() -> None:
        raise PermanentError("nope")

    with caplog.at_level(logging.ERROR):
        _post(Letters(broken=True), []).run(_job(refused, client), ar.Deadline())
    assert len(client.posted) == 1
    assert "slack.dead_letter_failed" in caplog.text


# --- through the Lambda handler, on the Extensions API fake, with SQS (moto) -------------------


@pytest.fixture
def dlq(runtime: Runtime) -> Iterator[str]:
    import boto3
    from moto import mock_aws

    with mock_aws():
        url = boto3.client("sqs", region_name="us-east-1").create_queue(
            QueueName="exec-assistant-slack-post-response-dlq-test"
        )["QueueUrl"]
        runtime.settings = runtime.settings.model_copy(update={"post_response_dlq_url": url})
        yield url


def _dead_letters(url: str) -> list[dict[str, Any]]:
    import boto3

    sqs = boto3.client("sqs", region_name="us-east-1")
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


@pytest.fixture
def lambda_with_extension(
    via_lambda: LambdaTransport, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeExtensionsApi]:
    from exec_assistant.interfaces import slack_bot

    with FakeExtensionsApi() as api:
        after = ar.register_extension(HANDLER, on_lambda_env(api))
        monkeypatch.setattr(slack_bot, "after_response", after)
        serve_on_lambda()
        yield api


def test_start_prep_failing_for_good_is_dead_lettered_and_told(
    dlq: str,
    lambda_with_extension: FakeExtensionsApi,
    via_lambda: LambdaTransport,
    payloads: Payloads,
    runtime: Runtime,
    meeting: Meeting,
    fake_slack: FakeSlackAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*_a: Any, **_k: Any) -> Any:
        raise PermanentError("chat session refused", code="refused")

    monkeypatch.setattr(runtime.store, "create_chat_session", broken)
    lambda_with_extension.invoke()
    reply = via_lambda.send(payloads.block_action("start_prep", value=meeting.meeting_id))
    assert reply.status == 200
    lambda_with_extension.wait_done(1)

    [letter] = _dead_letters(dlq)
    assert (letter["listener"], letter["reason"], letter["error_class"]) == (
        "start_prep",
        "failed",
        "permanent",
    )
    notices = [
        c for c in fake_slack.calls_to("chat.postMessage") if "did not go through" in str(c.params)
    ]
    assert [c.params["channel"] for c in notices] == ["U0EXEC001"]
    stored = runtime.store.get_meeting(meeting.meeting_id)
    assert stored is not None and stored.status == meeting.status


def test_a_transient_store_failure_is_retried_within_the_invocation(
    dlq: str,
    lambda_with_extension: FakeExtensionsApi,
    via_lambda: LambdaTransport,
    payloads: Payloads,
    runtime: Runtime,
    meeting: Meeting,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = runtime.store.create_chat_session
    failures = [StoreUnavailableError("throttled")]

    def once(*args: Any, **kwargs: Any) -> Any:
        if failures:
            raise failures.pop()
        return real(*args, **kwargs)

    monkeypatch.setattr(runtime.store, "create_chat_session", once)
    lambda_with_extension.invoke()
    via_lambda.send(payloads.block_action("start_prep", value=meeting.meeting_id))
    lambda_with_extension.wait_done(1)
    stored = runtime.store.get_meeting(meeting.meeting_id)
    assert stored is not None and stored.status == MeetingStatus.PREP_IN_PROGRESS
    assert _dead_letters(dlq) == []


def test_an_invocation_near_its_deadline_dead_letters_instead_of_starting(
    dlq: str,
    lambda_with_extension: FakeExtensionsApi,
    payloads: Payloads,
    runtime: Runtime,
    meeting: Meeting,
    fake_slack: FakeSlackAPI,
    clock: Any,
) -> None:
    from exec_assistant.interfaces.slack_bot import lambda_handler
    from tests.slack.harness import Signing, v2_event

    body = payloads.block_action("start_prep", value=meeting.meeting_id)
    context = SimpleNamespace(**vars(LAMBDA_CONTEXT), get_remaining_time_in_millis=lambda: 2_000)
    lambda_with_extension.invoke()
    reply = lambda_handler(v2_event(body, Signing(clock).headers(body)), context)
    assert reply["statusCode"] == 200
    lambda_with_extension.wait_done(1)
    [letter] = _dead_letters(dlq)
    assert (letter["reason"], letter["attempts"]) == ("deadline", 0)
    stored = runtime.store.get_meeting(meeting.meeting_id)
    assert stored is not None and stored.status == meeting.status
    assert any(
        "did not go through" in str(c.params) for c in fake_slack.calls_to("chat.postMessage")
    )


def test_start_prep_resumes_after_slack_failed_the_opening_question_once(
    dlq: str,
    via_lambda: LambdaTransport,
    payloads: Payloads,
    runtime: Runtime,
    meeting: Meeting,
    fake_slack: FakeSlackAPI,
) -> None:
    """The first attempt created the chat session and stored the opening, then Slack answered
    500 to the post; the retry posts that same opening and updates the message, once."""
    from exec_assistant.models import chat_session_id_for

    fake_slack.fail_next("chat.postMessage", status=500, error="internal_error")
    reply = via_lambda.send(payloads.block_action("start_prep", value=meeting.meeting_id))
    assert reply.status == 200
    posts = fake_slack.calls_to("chat.postMessage")
    assert len(posts) == 2  # the failed one, then the retry's
    assert posts[0].params["text"] == posts[1].params["text"]
    assert len(fake_slack.calls_to("chat.update")) == 1
    session = runtime.store.get_chat_session(chat_session_id_for(meeting.meeting_id))
    assert session is not None
    assert [m.role for m in session.messages] == ["assistant"]  # the opening, stored once
    assert _dead_letters(dlq) == []

    via_lambda.send(payloads.block_action("start_prep", value=meeting.meeting_id))  # a double click
    assert len(fake_slack.calls_to("chat.postMessage")) == 2  # not a retry: nothing resumes
