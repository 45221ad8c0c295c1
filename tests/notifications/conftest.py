"""Fixtures for the notification tests: the provider fakes, a store, users, meetings, channels.

Channels are the real ones (real slack_sdk / twilio / boto3 clients) pointed at the loopback
fakes and moto, with short backoffs so retries stay fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from exec_assistant.models import Channel, Meeting, User
from exec_assistant.notifications.channels.email import EmailChannel
from exec_assistant.notifications.channels.slack import SlackChannel
from exec_assistant.notifications.channels.sms import SmsChannel
from exec_assistant.notifications.service import NotificationService
from exec_assistant.notifications.types import NotificationChannel, PrepNotification
from exec_assistant.store.sqlite import SQLiteStore
from tests.fakes.fixtures import fake_ses, fake_slack, fake_twilio, moto_server
from tests.fakes.ses import SENDER
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.twilio_api import FakeTwilioAPI

__all__ = ["fake_ses", "fake_slack", "fake_twilio", "moto_server"]

#: The tests' "now": 09:00 in New York on a Wednesday.
NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
SLACK_TOKEN = "xoxb-1111-2222-SECRETslacktoken"
TWILIO_SID = "AC" + "5ec4e7" * 5 + "ab"
TWILIO_TOKEN = "twilio-auth-SECRET-token-123"
TWILIO_FROM = "+15005550006"


class Clock:
    """An injectable clock the test moves by hand."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def make_user(**overrides: Any) -> User:
    fields: dict[str, Any] = {
        "user_id": "usr-ada",
        "slack_user_id": "U0ADA1234",
        "name": "Ada Exec",
        "email": "ada@example.com",
        "phone": "+14155550123",
        "timezone": "America/New_York",
        "created_at": NOW,
        "updated_at": NOW,
    }
    return User(**(fields | overrides))


def make_meeting(**overrides: Any) -> Meeting:
    start = NOW + timedelta(hours=20)
    fields: dict[str, Any] = {
        "meeting_id": "mtg-qbr-1",
        "user_id": "usr-ada",
        "title": "Q4 Business Review",
        "location": "Board room, 12th floor",
        "start_time": start,
        "end_time": start + timedelta(hours=1),
        "attendees": ["cfo@example.com", "coo@example.com", "vp-sales@example.com"],
        "created_at": NOW,
        "updated_at": NOW,
    }
    return Meeting(**(fields | overrides))


@pytest.fixture(autouse=True)
def _no_botocore_backoff_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's standard mode sleeps up to 1-4 s per throttling retry: skip the sleep here.
    The retries themselves (how many, on which errors) are botocore's, unchanged."""
    from botocore.retries.standard import ExponentialBackoff

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.0)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Any) -> Iterator[SQLiteStore]:
    sqlite = SQLiteStore(tmp_path / "ledger.db")
    yield sqlite
    sqlite.close()


def slack_channel(fake: FakeSlackAPI | str, *, timeout: int = 2) -> SlackChannel:
    url = fake if isinstance(fake, str) else fake.url
    return SlackChannel(token=SLACK_TOKEN, base_url=url, timeout=timeout, backoff_factor=0.01)


def sms_channel(fake: FakeTwilioAPI, *, timeout: float = 2.0) -> SmsChannel:
    return SmsChannel(
        account_sid=TWILIO_SID,
        auth_token=TWILIO_TOKEN,
        from_number=TWILIO_FROM,
        api_url=fake.url,
        timeout=timeout,
        backoff_factor=0.01,
    )


@pytest.fixture
def all_channels(
    fake_slack: FakeSlackAPI, fake_twilio: FakeTwilioAPI, fake_ses: Any
) -> dict[Channel, NotificationChannel]:
    """Slack, SMS and email, each against its fake (SES: moto, sender verified)."""
    return {
        Channel.SLACK: slack_channel(fake_slack),
        Channel.SMS: sms_channel(fake_twilio),
        Channel.EMAIL: EmailChannel(sender=SENDER),
    }


ServiceFactory = Callable[..., NotificationService]


@pytest.fixture
def make_service(store: SQLiteStore, clock: Clock) -> ServiceFactory:
    def build(channels: dict[Channel, NotificationChannel], **kwargs: Any) -> NotificationService:
        return NotificationService(store, channels, clock=clock, **kwargs)

    return build


def send_now(
    channel: NotificationChannel, notification: PrepNotification, *, attempt: int = 0
) -> str:
    """One ``channel.send`` as the service makes it, with a ``before_request`` that lets the
    request go (the service's records the attempt and checks the deadline there)."""
    return channel.send(notification, attempt=attempt, before_request=lambda seconds: None)
