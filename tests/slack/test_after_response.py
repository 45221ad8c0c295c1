"""Lazy work after the response: the internal Lambda extension, against a loopback fake of the
Lambda Extensions API, and the inline fallback when there is none."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator

import pytest

from exec_assistant.interfaces import after_response as ar
from exec_assistant.models import Meeting, MeetingStatus
from exec_assistant.runtime import Runtime
from tests.fakes.lambda_extensions import FakeExtensionsApi
from tests.fakes.slack_api import FakeSlackAPI
from tests.slack.conftest import serve_on_lambda
from tests.slack.harness import LambdaTransport, Payloads, responded, wait_for

HANDLER = "exec_assistant.interfaces.slack_bot.lambda_handler"


def on_lambda_env(api: FakeExtensionsApi, handler: str = HANDLER) -> dict[str, str]:
    """What Lambda sets in a process that runs ``handler``."""
    return {"AWS_LAMBDA_RUNTIME_API": api.address, "_HANDLER": handler}


@pytest.fixture
def extensions_api() -> Iterator[FakeExtensionsApi]:
    with FakeExtensionsApi() as api:
        yield api


@pytest.fixture
def on_lambda(
    extensions_api: FakeExtensionsApi,
    via_lambda: LambdaTransport,
    monkeypatch: pytest.MonkeyPatch,
) -> ar.AfterResponse:
    """The Slack bot's handler as on Lambda: the extension registered at init."""
    from exec_assistant.interfaces import slack_bot

    after = ar.register_extension(HANDLER, on_lambda_env(extensions_api))
    monkeypatch.setattr(slack_bot, "after_response", after)
    serve_on_lambda()
    return after


def test_registers_for_invoke_events_only(extensions_api: FakeExtensionsApi) -> None:
    after = ar.register_extension(HANDLER, on_lambda_env(extensions_api))
    assert after.extension is not None and after.extension.alive
    [(name, body)] = extensions_api.registrations
    assert name == ar.EXTENSION_NAME
    assert json.loads(body) == {"events": ["INVOKE"]}  # internal extensions cannot get SHUTDOWN


def test_the_invocation_ends_only_after_the_queued_work_ran(
    extensions_api: FakeExtensionsApi,
) -> None:
    after = ar.register_extension(HANDLER, on_lambda_env(extensions_api))
    gate, ran = threading.Event(), list[str]()

    def work(_deadline: ar.Deadline) -> None:
        gate.wait(10)
        ran.append("work")

    extensions_api.invoke()
    after.add(work)
    after.invocation_done()  # what the handler does just before it returns its response

    assert ran == []  # the handler did not wait for the work...
    assert extensions_api.completed == 0  # ...and Lambda is still waiting for the extension
    gate.set()
    extensions_api.wait_done(1)
    assert ran == ["work"]

    extensions_api.invoke()  # an invocation with nothing queued ends at once
    after.invocation_done()
    extensions_api.wait_done(2)


def test_a_failing_piece_of_work_is_logged_and_the_rest_still_runs(
    extensions_api: FakeExtensionsApi, caplog: pytest.LogCaptureFixture
) -> None:
    after = ar.register_extension(HANDLER, on_lambda_env(extensions_api))
    ran: list[str] = []

    def broken(_deadline: ar.Deadline) -> None:
        raise RuntimeError("boom")

    extensions_api.invoke()
    after.add(broken)
    after.add(lambda _d: ran.append("second"))
    with caplog.at_level(logging.ERROR):
        after.invocation_done()
        extensions_api.wait_done(1)
    assert ran == ["second"]
    [failed] = [r for r in caplog.records if r.getMessage() == "slack.after_response_failed"]
    assert failed.__dict__["fields"]["error"] == "RuntimeError: boom"


def test_click_is_answered_then_prep_starts_in_the_same_invocation(
    on_lambda: ar.AfterResponse,
    extensions_api: FakeExtensionsApi,
    via_lambda: LambdaTransport,
    payloads: Payloads,
    runtime: Runtime,
    meeting: Meeting,
    fake_slack: FakeSlackAPI,
) -> None:
    runtime.store.transition_meeting(
        meeting.meeting_id, MeetingStatus.PREP_SCHEDULED, now=runtime.clock()
    )
    fake_slack.hang_next("chat.update", seconds=3)  # keeps the work running past the ack
    extensions_api.invoke()
    reply = via_lambda.send(payloads.block_action("start_prep", value=meeting.meeting_id))
    assert (reply.status, reply.body) == (200, "")
    assert extensions_api.completed == 0  # answered while the work still runs

    extensions_api.wait_done(1)
    stored = runtime.store.get_meeting(meeting.meeting_id)
    assert stored is not None and stored.status == MeetingStatus.PREP_IN_PROGRESS
    assert len(fake_slack.calls_to("chat.update")) == 1

    extensions_api.invoke()
    via_lambda.send(payloads.command("week"))
    extensions_api.wait_done(2)
    assert "Q1 board review" in json.dumps(responded(fake_slack)["blocks"])


def test_registration_refused_runs_the_work_before_returning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with FakeExtensionsApi(refuse=True) as api, caplog.at_level(logging.WARNING):
        after = ar.register_extension(HANDLER, on_lambda_env(api))
    assert after.extension is None
    assert "slack.extension_unavailable" in caplog.text
    ran: list[str] = []
    after.add(lambda _d: ran.append("work"))
    after.invocation_done()
    assert ran == ["work"]


def test_off_lambda_the_work_runs_before_returning() -> None:
    after = ar.register_extension(HANDLER, {})
    assert after.extension is None
    ran: list[str] = []
    after.add(lambda _d: ran.append("work"))
    assert ran == []
    after.invocation_done()
    assert ran == ["work"]


def test_an_extension_that_lost_the_api_hands_work_back_to_the_handler(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ar, "NEXT_ATTEMPTS", 2)
    api = FakeExtensionsApi().start()
    after = ar.register_extension(HANDLER, on_lambda_env(api))
    assert after.extension is not None
    api.invoke()
    api.stop()  # the invocation's event is lost, and so is every later event/next
    ran: list[str] = []
    after.add(lambda _d: ran.append("first"))
    after.invocation_done()
    wait_for(lambda: not after.extension.alive)  # type: ignore[union-attr]
    assert ran == ["first"]  # the work handed over still ran
    after.add(lambda _d: ran.append("second"))
    after.invocation_done()  # no extension any more: runs before returning
    assert ran == ["first", "second"]
