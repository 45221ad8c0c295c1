"""Reconciliation against the real SDK clients: Slack message metadata read back from the DM's
history, Twilio's Messages list matched by body. The fakes act on the request and then lose the
answer (a reset connection, or a 5xx that came with the message created), exactly the outcome
nobody can know without asking the provider."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from exec_assistant.models import AttemptStatus, Channel, ErrorClass
from exec_assistant.notifications.channels.slack import METADATA_EVENT_TYPE
from exec_assistant.notifications.service import SETTLE_SECONDS, NotificationService
from exec_assistant.notifications.types import (
    NotificationChannel,
    NotificationOutcome,
    PrepNotification,
)
from exec_assistant.store.sqlite import SQLiteStore
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.notifications.conftest import (
    Clock,
    make_meeting,
    make_user,
    send_now,
    slack_channel,
    sms_channel,
)

KEY = "mtg-qbr-1#prep"
S, M = Channel.SLACK, Channel.SMS


@pytest.fixture
def slack_api(clock: Clock) -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI(clock=clock) as fake:
        yield fake


@pytest.fixture
def twilio_api(clock: Clock) -> Iterator[FakeTwilioAPI]:
    with FakeTwilioAPI(clock=clock) as fake:
        yield fake


@pytest.fixture
def service(
    store: SQLiteStore, clock: Clock, slack_api: FakeSlackAPI, twilio_api: FakeTwilioAPI
) -> NotificationService:
    channels: dict[Channel, NotificationChannel] = {
        S: slack_channel(slack_api),
        M: sms_channel(twilio_api),
    }
    return NotificationService(store, channels, clock=clock)


def notify(service: NotificationService, order: list[Channel]) -> Any:
    return service.notify(make_meeting(), make_user(), key=KEY, channel_order=order)


def test_every_prep_message_carries_its_key_in_slack_metadata(slack_api: FakeSlackAPI) -> None:
    note = PrepNotification(meeting=make_meeting(), user=make_user(), key=KEY)
    send_now(slack_channel(slack_api), note, attempt=3)
    [message] = slack_api.posted
    assert message["metadata"] == {
        "event_type": METADATA_EVENT_TYPE,
        "event_payload": {"key": KEY, "attempt": 3},
    }


@pytest.mark.parametrize(("mode", "code"), [("reset", "connection_lost"), ("status", "http_500")])
def test_a_slack_post_whose_answer_was_lost_is_found_and_not_posted_again(
    service: NotificationService,
    clock: Clock,
    slack_api: FakeSlackAPI,
    twilio_api: FakeTwilioAPI,
    mode: Any,
    code: str,
) -> None:
    slack_api.lose_response_next("chat.postMessage", mode=mode)
    first = notify(service, [S, M])
    assert first.outcome == NotificationOutcome.RETRYABLE
    assert (first.attempts[0].error_class, first.attempts[0].error_code) == (
        ErrorClass.UNKNOWN,
        code,
    )
    clock.advance(seconds=SETTLE_SECONDS)

    done = notify(service, [S, M])

    [message] = slack_api.posted  # exactly one notification, on Slack
    assert done.delivered_channel == S
    assert done.attempts[0].provider_id == f"{message['channel']}:{message['ts']}"
    history = slack_api.calls_to("conversations.history")
    assert history and history[0].params.get("include_all_metadata") in (True, "true", "1", 1)
    assert twilio_api.messages == []


def test_a_slack_post_that_never_arrived_is_posted_again(
    service: NotificationService, clock: Clock, slack_api: FakeSlackAPI, twilio_api: FakeTwilioAPI
) -> None:
    slack_api.fail_next("chat.postMessage", error="internal_error", status=500)  # nothing posted
    notify(service, [S, M])
    clock.advance(seconds=SETTLE_SECONDS)

    done = notify(service, [S, M])

    assert done.delivered_channel == S
    assert [(a.status, a.error_code) for a in done.attempts] == [
        (AttemptStatus.FAILED, "not_sent"),
        (AttemptStatus.DELIVERED, None),
    ]
    [message] = slack_api.posted
    assert message["metadata"]["event_payload"] == {"key": KEY, "attempt": 1}
    assert twilio_api.messages == []


@pytest.mark.parametrize("queued", [False, True])
def test_an_sms_whose_answer_was_lost_is_found_in_the_messages_list(
    service: NotificationService,
    clock: Clock,
    slack_api: FakeSlackAPI,
    twilio_api: FakeTwilioAPI,
    queued: bool,
) -> None:
    # queued: Twilio has not sent it yet, so it has no DateSent — the lookup must not need one
    twilio_api.send_immediately = not queued
    twilio_api.lose_response_next("messages.create", mode="reset")
    assert notify(service, [M, S]).outcome == NotificationOutcome.RETRYABLE
    clock.advance(seconds=SETTLE_SECONDS)

    done = notify(service, [M, S])

    [created] = twilio_api.created
    assert done.delivered_channel == M
    assert done.attempts[0].provider_id == created["sid"]
    assert len(twilio_api.messages) == 1 and slack_api.posted == []


def test_an_sms_refused_with_a_5xx_and_not_created_is_sent_again(
    service: NotificationService, clock: Clock, twilio_api: FakeTwilioAPI, slack_api: FakeSlackAPI
) -> None:
    twilio_api.fail_next(status=503)  # answered 503 and created nothing
    notify(service, [M, S])
    clock.advance(seconds=SETTLE_SECONDS)

    done = notify(service, [M, S])

    assert done.delivered_channel == M
    assert len(twilio_api.created) == 1 and slack_api.posted == []


def test_an_older_sms_with_the_same_text_does_not_count(
    service: NotificationService, clock: Clock, twilio_api: FakeTwilioAPI
) -> None:
    # The same text sent hours ago (an earlier cycle) is not this attempt's message.
    note = PrepNotification(meeting=make_meeting(), user=make_user(), key=KEY)
    send_now(sms_channel(twilio_api), note)
    clock.advance(hours=3)
    twilio_api.fail_next(status=503)
    notify(service, [M, S])
    clock.advance(seconds=SETTLE_SECONDS)
    assert notify(service, [M, S]).attempts[0].error_code == "not_sent"
    assert len(twilio_api.created) == 2
