"""Fixtures for the workflow tests: a controllable clock, counting channels, a local runtime.

The runtime is the real composition root on the embedded default (SQLite store, in-process bus
wired to the prep trigger, SQLite-backed scheduler in the store's file, the real
NotificationService); only the channels are counting stand-ins, so provider sends can be counted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from exec_assistant.config import Settings
from exec_assistant.models import Channel, ErrorClass, Meeting, MeetingStatus, User
from exec_assistant.notifications.types import (
    BeforeRequest,
    DeliveryError,
    NotificationChannel,
    PrepNotification,
)
from exec_assistant.runtime import Runtime, build_runtime
from exec_assistant.store.sqlite import SQLiteStore

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self.now += delta
            return self.now


class CountingChannel:
    """A channel that records every send; ``fail_with`` makes the next sends fail."""

    def __init__(self, name: Channel) -> None:
        self.name = name
        self.sent: list[PrepNotification] = []
        self.fail_with: ErrorClass | None = None
        self._lock = threading.Lock()

    def skip_reason(self, user: User) -> str | None:
        return None

    def send(
        self, notification: PrepNotification, *, attempt: int, before_request: BeforeRequest
    ) -> str:
        before_request(1.0)
        with self._lock:
            if self.fail_with is not None:
                raise DeliveryError(self.fail_with, "scripted", "scripted failure")
            self.sent.append(notification)
            return f"{self.name.value}-{len(self.sent)}"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def slack() -> CountingChannel:
    return CountingChannel(Channel.SLACK)


@pytest.fixture
def sms() -> CountingChannel:
    return CountingChannel(Channel.SMS)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "exec-assistant.db"


@pytest.fixture
def make_runtime(
    db_path: Path, clock: Clock, slack: CountingChannel, sms: CountingChannel
) -> Iterator[Callable[[], Runtime]]:
    built: list[Runtime] = []

    def make() -> Runtime:
        channels: dict[Channel, NotificationChannel] = {Channel.SLACK: slack, Channel.SMS: sms}
        runtime = build_runtime(
            Settings(exec_assistant_store=f"sqlite:///{db_path}"),
            store=SQLiteStore(db_path),
            channels=channels,
            clock=clock,
        )
        built.append(runtime)
        return runtime

    yield make
    for runtime in built:
        runtime.close()


@pytest.fixture
def runtime(make_runtime: Callable[[], Runtime]) -> Runtime:
    return make_runtime()


@pytest.fixture
def user(runtime: Runtime) -> User:
    return runtime.store.put_user(
        User(
            user_id="usr-7f3c",
            name="Ada Exec",
            slack_user_id="U0EXEC",
            phone="+14155550123",
            email="ada@example.com",
            timezone="America/New_York",
        )
    )


@pytest.fixture
def meeting(runtime: Runtime, user: User) -> Meeting:
    return add_meeting(runtime, user, "mtg-2026-11-25-qbr", start=NOW + timedelta(hours=6))


def add_meeting(
    runtime: Runtime,
    user: User,
    meeting_id: str,
    *,
    start: datetime,
    prep_hours: float = 24.0,
    status: MeetingStatus = MeetingStatus.DISCOVERED,
) -> Meeting:
    runtime.store.upsert_meeting_calendar(
        Meeting(
            meeting_id=meeting_id,
            user_id=user.user_id,
            title="Q4 Business Review",
            start_time=start,
            end_time=start + timedelta(hours=1),
            attendees=["cfo@example.com"],
            prep_hours_before=prep_hours,
        )
    )
    path = {
        MeetingStatus.DISCOVERED: [],
        MeetingStatus.PREP_SCHEDULED: [MeetingStatus.PREP_SCHEDULED],
        MeetingStatus.PREP_IN_PROGRESS: [MeetingStatus.PREP_IN_PROGRESS],
        MeetingStatus.PREP_COMPLETED: [
            MeetingStatus.PREP_IN_PROGRESS,
            MeetingStatus.PREP_COMPLETED,
        ],
        MeetingStatus.CANCELLED: [MeetingStatus.CANCELLED],
        MeetingStatus.COMPLETED: [MeetingStatus.COMPLETED],
        MeetingStatus.PREP_REQUIRED: [MeetingStatus.PREP_REQUIRED],
    }[status]
    for step in path:
        assert runtime.store.transition_meeting(meeting_id, step, now=NOW)
    stored = runtime.store.get_meeting(meeting_id)
    assert stored is not None
    return stored


def slack_runtime(
    db: Path, slack_api_url: str, clock: Clock, **more: NotificationChannel
) -> Runtime:
    """The embedded runtime on ``db`` with the real Slack channel pointed at a loopback fake
    (plus ``more`` channels by name, e.g. ``sms=CountingChannel(Channel.SMS)``)."""
    from exec_assistant.notifications.channels.slack import SlackChannel

    channels: dict[Channel, NotificationChannel] = {
        Channel.SLACK: SlackChannel(token="xoxb-test", base_url=slack_api_url, max_retries=0),
        **{Channel(name): channel for name, channel in more.items()},
    }
    return build_runtime(
        Settings(exec_assistant_store=f"sqlite:///{db}"),
        store=SQLiteStore(db),
        channels=channels,
        clock=clock,
    )
