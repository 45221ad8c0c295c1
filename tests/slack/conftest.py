"""Fixtures for the Slack bot tests: a test clock, a real runtime (SQLite store, local bus and
scheduler, the real Slack channel) pointed at the fake Slack Web API, seeded users and meetings,
and the two transports (Lambda handler, local HTTP server)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from exec_assistant.config import Settings
from exec_assistant.events.base import BusEvent
from exec_assistant.models import PREP_EVENT_DETAIL_TYPE, PREP_EVENT_SOURCE, Meeting, User
from exec_assistant.runtime import Runtime, build_runtime
from exec_assistant.store.sqlite import SQLiteStore
from tests.fakes.fixtures import fake_slack
from tests.fakes.slack_api import FakeSlackAPI
from tests.slack.harness import (
    OTHER_SLACK_ID,
    OWNER_SLACK_ID,
    SECRET,
    HttpTransport,
    LambdaTransport,
    Payloads,
    Signing,
)

__all__ = ["fake_slack"]

#: Monday 2 March 2026, 09:00 UTC (10:00 in Paris).
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BOT_TOKEN = "xoxb-test-0000-exec-assistant"


class Clock:
    """The runtime's clock, moved by the test (never by sleeping)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


def bot_settings(fake_slack: FakeSlackAPI, tmp_path: Any, **extra: Any) -> Settings:
    """The Slack bot's settings (plus ``extra``) against the fake Slack API."""
    return Settings(
        exec_assistant_store=f"sqlite:///{tmp_path / 'exec.db'}",
        slack_bot_token=SecretStr(BOT_TOKEN),
        slack_signing_secret=SecretStr(SECRET),
        slack_api_url=fake_slack.url,
        ses_from_email="prep@example.com",  # a second channel, so deliveries get escalation checks
        **extra,
    )


@pytest.fixture
def settings(fake_slack: FakeSlackAPI, tmp_path: Any) -> Settings:
    return bot_settings(fake_slack, tmp_path)


@pytest.fixture
def runtime(settings: Settings, clock: Clock, tmp_path: Any) -> Iterator[Runtime]:
    rt = build_runtime(settings, store=SQLiteStore(tmp_path / "exec.db"), clock=clock)
    yield rt
    rt.close()


@pytest.fixture
def owner(runtime: Runtime) -> User:
    return runtime.store.put_user(
        User(
            user_id="exec-1",
            slack_user_id=OWNER_SLACK_ID,
            name="Ada Exec",
            email="ada@example.com",
            timezone="Europe/Paris",
        )
    )


@pytest.fixture
def other(runtime: Runtime) -> User:
    return runtime.store.put_user(
        User(
            user_id="exec-2",
            slack_user_id=OTHER_SLACK_ID,
            name="Bob Other",
            timezone="America/New_York",
        )
    )


def make_meeting(
    runtime: Runtime, user: User, meeting_id: str, start: datetime, title: str
) -> Meeting:
    return runtime.store.upsert_meeting_calendar(
        Meeting(
            meeting_id=meeting_id,
            user_id=user.user_id,
            title=title,
            location="Board room",
            start_time=start,
            end_time=start + timedelta(hours=1),
            attendees=["ceo@example.com", "cfo@example.com"],
            created_at=T0,
            updated_at=T0,
        )
    )


def notify_prep(runtime: Runtime, meeting: Meeting) -> Meeting:
    """Deliver the meeting's prep notification as production does (the event on the bus); the
    meeting as stored afterwards."""
    runtime.bus.publish(
        [
            BusEvent(
                source=PREP_EVENT_SOURCE,
                detail_type=PREP_EVENT_DETAIL_TYPE,
                detail={"meeting_id": meeting.meeting_id, "user_id": meeting.user_id},
            )
        ]
    )
    stored = runtime.store.get_meeting(meeting.meeting_id)
    assert stored is not None
    return stored


@pytest.fixture
def meeting(runtime: Runtime, owner: User) -> Meeting:
    """Today 14:00 UTC (15:00 in Paris), five hours after T0."""
    return make_meeting(
        runtime, owner, "mtg-board-review", T0 + timedelta(hours=5), "Q1 board review"
    )


@pytest.fixture
def payloads(fake_slack: FakeSlackAPI) -> Payloads:
    return Payloads(response_url=f"{fake_slack.origin}/response")


def serve_on_lambda() -> None:
    """(Re)build the Lambda handler's cached app from the current runtime."""
    from exec_assistant.interfaces import slack_bot

    slack_bot.reset_app()
    slack_bot.slack_ingress()


@pytest.fixture
def via_lambda(
    runtime: Runtime, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LambdaTransport]:
    """``lambda_handler`` serving an app built from the test runtime (handed over as
    ``get_runtime()`` would on Lambda)."""
    import exec_assistant.runtime as runtime_module
    from exec_assistant.interfaces import slack_bot

    monkeypatch.setattr(runtime_module, "get_runtime", lambda: runtime)
    serve_on_lambda()
    yield LambdaTransport(Signing(clock))
    slack_bot.reset_app()


@pytest.fixture
def via_http(runtime: Runtime, clock: Clock) -> Iterator[HttpTransport]:
    from exec_assistant.interfaces.local_server import start_slack_server

    server = start_slack_server(runtime, host="127.0.0.1", port=0)
    try:
        yield HttpTransport(Signing(clock), server.url)
    finally:
        server.stop()
