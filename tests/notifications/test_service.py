"""NotificationService policy: exactly once, skips, quiet hours, retryable, recovery, lease loss."""

from __future__ import annotations

import io
import logging
from datetime import time, timedelta
from typing import Any

import pytest

import exec_assistant
from exec_assistant.models import (
    AttemptStatus,
    Channel,
    DeliveryAttempt,
    ErrorClass,
    LedgerState,
    NotificationPreferences,
    QuietHours,
)
from exec_assistant.notifications.channels.console import ConsoleChannel
from exec_assistant.notifications.channels.email import EmailChannel
from exec_assistant.notifications.service import LEASE_MARGIN_SECONDS, NotificationService
from exec_assistant.notifications.types import (
    BeforeRequest,
    NotificationChannel,
    NotificationKind,
    NotificationOutcome,
    PrepNotification,
)
from exec_assistant.store.sqlite import SQLiteStore
from tests.fakes.ses import SENDER, FakeSES
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.notifications.conftest import (
    Clock,
    ServiceFactory,
    make_meeting,
    make_user,
    slack_channel,
    sms_channel,
)

KEY = "mtg-qbr-1#prep"
S, M, E = Channel.SLACK, Channel.SMS, Channel.EMAIL


def summary(attempts: list[DeliveryAttempt]) -> list[tuple[Any, ...]]:
    return [(a.channel, a.status, a.error_class, a.error_code, a.reason) for a in attempts]


@pytest.fixture
def slack_sms(
    fake_slack: FakeSlackAPI, fake_twilio: FakeTwilioAPI
) -> dict[Channel, NotificationChannel]:
    return {S: slack_channel(fake_slack, timeout=1), M: sms_channel(fake_twilio, timeout=0.5)}


def test_first_channel_delivers_and_the_ledger_says_so(
    slack_sms: dict[Channel, NotificationChannel],
    make_service: ServiceFactory,
    store: SQLiteStore,
    fake_twilio: FakeTwilioAPI,
    clock: Clock,
) -> None:
    result = make_service(slack_sms).notify(make_meeting(), make_user(), key=KEY)
    assert result.delivered and not result.duplicate
    assert result.delivered_channel == S
    [attempt] = result.attempts
    assert attempt.status == AttemptStatus.DELIVERED
    assert attempt.provider_id == "D0ADA1234:1700000001.000001"
    assert attempt.started_at == attempt.completed_at == clock.now
    record = store.get_notification(KEY)
    assert record is not None and record.state == LedgerState.DELIVERED
    assert record.attempts == result.attempts
    assert fake_twilio.messages == []


class _Recording:
    """Records the ledger writes and the send, in order, around the real store and channel."""

    def __init__(self, store: SQLiteStore, channel: NotificationChannel) -> None:
        self.calls: list[str] = []
        self.store, self.channel, self.name = store, channel, channel.name

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.store, name)
        if not callable(target) or name.startswith("get"):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            done = kwargs.get("completed") or kwargs.get("attempt")
            status = f":{done.status}" if done is not None else ""
            self.calls.append(name + status)
            return target(*args, **kwargs)

        return call

    def skip_reason(self, user: Any) -> str | None:
        return self.channel.skip_reason(user)

    def send(
        self, notification: PrepNotification, *, attempt: int, before_request: BeforeRequest
    ) -> str:
        def recorded_then_request(seconds: float) -> None:
            before_request(seconds)
            stored = self.store.get_notification(KEY)
            assert stored is not None and stored.attempts[-1].status == AttemptStatus.STARTED
            self.calls.append("request")

        return self.channel.send(
            notification, attempt=attempt, before_request=recorded_then_request
        )


def test_the_attempt_is_recorded_right_before_the_request_and_completed_with_the_finish(
    fake_slack: FakeSlackAPI, store: SQLiteStore, clock: Clock
) -> None:
    recording = _Recording(store, slack_channel(fake_slack, timeout=1))
    service = NotificationService(recording, {S: recording}, clock=clock)
    result = service.notify(make_meeting(), make_user(), key=KEY)
    assert result.delivered
    # three ledger writes: the claim, the STARTED attempt (checked before the request), the
    # finish carrying the attempt's completion
    assert recording.calls == [
        "claim_notification",
        "record_attempt:started",
        "request",
        "finish_notification:delivered",
    ]
    record = store.get_notification(KEY)
    assert record is not None and record.attempts == result.attempts
    assert record.attempts[0].status == AttemptStatus.DELIVERED


def test_a_first_channel_that_is_skipped_is_recorded_after_the_claim(
    fake_slack: FakeSlackAPI, store: SQLiteStore, clock: Clock
) -> None:
    recording = _Recording(store, slack_channel(fake_slack, timeout=1))
    service = NotificationService(recording, {S: recording}, clock=clock)
    result = service.notify(
        make_meeting(), make_user(), key=KEY, channel_order=[Channel.SMS, Channel.SLACK]
    )
    assert result.delivered_channel == S
    assert recording.calls == [
        "claim_notification",
        "record_attempt:skipped",
        "record_attempt:started",
        "request",
        "finish_notification:delivered",
    ]
    assert summary(result.attempts) == [
        (M, AttemptStatus.SKIPPED, None, None, "channel not configured in this deployment"),
        (S, AttemptStatus.DELIVERED, None, None, None),
    ]


class _Crash(BaseException):
    """The process dying: nothing in the service catches it."""


class _CrashBeforeTheRequest:
    """Dies while getting ready (a secret read, a client): before ``before_request``."""

    name = S

    def skip_reason(self, user: Any) -> str | None:
        return None

    def send(
        self, notification: PrepNotification, *, attempt: int, before_request: BeforeRequest
    ) -> str:
        raise _Crash


def test_a_crash_before_the_request_leaves_the_channel_untried(
    slack_sms: dict[Channel, NotificationChannel],
    make_service: ServiceFactory,
    store: SQLiteStore,
    fake_slack: FakeSlackAPI,
    fake_twilio: FakeTwilioAPI,
    clock: Clock,
) -> None:
    with pytest.raises(_Crash):
        make_service({S: _CrashBeforeTheRequest(), M: slack_sms[M]}).notify(
            make_meeting(), make_user(), key=KEY
        )
    record = store.get_notification(KEY)
    # The process "died" (BaseException): the service still tried to give the claim back.
    assert record is not None and record.state == LedgerState.RELEASED
    assert record.attempts == []  # no attempt: nothing can have left

    result = make_service(slack_sms).notify(make_meeting(), make_user(), key=KEY)

    assert result.delivered_channel == S  # Slack is tried: it never was
    assert len(fake_slack.calls_to("chat.postMessage")) == 1 and fake_twilio.messages == []


def test_a_duplicate_key_returns_the_first_result_without_contacting_providers(
    slack_sms: dict[Channel, NotificationChannel],
    make_service: ServiceFactory,
    fake_slack: FakeSlackAPI,
    fake_twilio: FakeTwilioAPI,
) -> None:
    fake_slack.fail_next("chat.postMessage", error="channel_not_found")
    first = make_service(slack_sms).notify(make_meeting(), make_user(), key=KEY)
    calls = (len(fake_slack.calls), len(fake_twilio.requests))
    second = make_service(slack_sms).notify(make_meeting(), make_user(), key=KEY)
    assert (len(fake_slack.calls), len(fake_twilio.requests)) == calls == (1, 1)
    assert second.duplicate and not first.duplicate
    assert second.model_dump(exclude={"duplicate"}) == first.model_dump(exclude={"duplicate"})
    assert second.delivered_channel == M


@pytest.mark.parametrize(("hour_utc", "sms_used"), [(8, False), (15, True)])
def test_quiet_hours_skip_sms_only(
    hour_utc: int,
    sms_used: bool,
    fake_slack: FakeSlackAPI,
    fake_twilio: FakeTwilioAPI,
    fake_ses: FakeSES,
    all_channels: dict[Channel, NotificationChannel],
    make_service: ServiceFactory,
    clock: Clock,
) -> None:
    # Quiet 22:00-07:00 in New York; 08:00 UTC is 03:00 there, 15:00 UTC is 10:00.
    clock.now = clock.now.replace(hour=hour_utc)
    user = make_user(
        preferences=NotificationPreferences(quiet_hours=QuietHours(start=time(22), end=time(7)))
    )
    fake_slack.fail_next("chat.postMessage", error="account_inactive")
    result = make_service(all_channels).notify(make_meeting(), user, key=KEY)
    if sms_used:
        assert result.delivered_channel == M
        assert len(fake_twilio.messages) == 1 and fake_ses.sends == []
    else:
        assert result.delivered_channel == E
        assert summary(result.attempts)[1] == (M, AttemptStatus.SKIPPED, None, None, "quiet hours")
        assert fake_twilio.requests == [] and len(fake_ses.delivered) == 1


def test_channels_the_user_lacks_or_the_deployment_lacks_are_skipped_and_recorded(
    fake_ses: FakeSES, make_service: ServiceFactory, store: SQLiteStore
) -> None:
    user = make_user(slack_user_id=None, phone=None)
    channels: dict[Channel, NotificationChannel] = {E: EmailChannel(sender=SENDER)}
    result = make_service(channels).notify(make_meeting(), user, key=KEY)
    assert result.delivered_channel == E
    assert summary(result.attempts) == [
        (S, AttemptStatus.SKIPPED, None, None, "channel not configured in this deployment"),
        (M, AttemptStatus.SKIPPED, None, None, "channel not configured in this deployment"),
        (E, AttemptStatus.DELIVERED, None, None, None),
    ]
    user_lacks = make_service(
        {S: slack_channel("http://127.0.0.1:9/api/"), E: EmailChannel(sender=SENDER)}
    ).notify(make_meeting(), user, key=KEY + "-2")
    assert summary(user_lacks.attempts)[0] == (
        S,
        AttemptStatus.SKIPPED,
        None,
        None,
        "user has no Slack user id",
    )
    record = store.get_notification(KEY)
    assert record is not None and record.attempts == result.attempts


def test_console_is_the_embedded_default(make_service: ServiceFactory) -> None:
    out = io.StringIO()
    result = make_service({Channel.CONSOLE: ConsoleChannel(out)}).notify(
        make_meeting(), make_user(), key=KEY, kind=NotificationKind.REMINDER
    )
    assert result.delivered_channel == Channel.CONSOLE
    assert [a.status for a in result.attempts] == [AttemptStatus.SKIPPED] * 3 + [
        AttemptStatus.DELIVERED
    ]
    assert "Reminder: prep for your meeting" in out.getvalue()


def test_all_transient_is_retryable_and_a_later_call_delivers(
    slack_sms: dict[Channel, NotificationChannel],
    make_service: ServiceFactory,
    store: SQLiteStore,
    fake_slack: FakeSlackAPI,
    fake_twilio: FakeTwilioAPI,
) -> None:
    fake_slack.fail_next("chat.postMessage", error="ratelimited", status=429, retry_after=3600)
    fake_twilio.fail_next(error_code=20429, retry_after=0, times=3)
    order = [S, M]
    first = make_service(slack_sms).notify(
        make_meeting(), make_user(), key=KEY, channel_order=order
    )
    assert first.outcome == NotificationOutcome.RETRYABLE and not first.delivered
    record = store.get_notification(KEY)
    assert record is not None and record.state == LedgerState.RELEASED
    assert [(a.channel, a.error_class) for a in record.attempts] == [
        (S, ErrorClass.TRANSIENT),
        (M, ErrorClass.TRANSIENT),
    ]

    second = make_service(slack_sms).notify(
        make_meeting(), make_user(), key=KEY, channel_order=order
    )
    assert second.outcome == NotificationOutcome.DELIVERED and not second.duplicate
    assert second.delivered_channel == S
    assert [a.status for a in second.attempts] == [
        AttemptStatus.FAILED,
        AttemptStatus.FAILED,
        AttemptStatus.DELIVERED,
    ]
    assert len(fake_slack.calls_to("chat.postMessage")) == 2
    assert len(fake_twilio.messages) == 2  # 1 + one bounded retry, in the first call only


def test_a_retry_never_resends_a_channel_that_failed_unknown_or_permanently(
    fake_slack: FakeSlackAPI,
    fake_twilio: FakeTwilioAPI,
    fake_ses: FakeSES,
    all_channels: dict[Channel, NotificationChannel],
    make_service: ServiceFactory,
) -> None:
    fake_ses.fail_next("timeout")  # unknown, and SES cannot be asked: never resent
    fake_slack.fail_next("chat.postMessage", error="channel_not_found")  # permanent
    fake_twilio.fail_next(error_code=20429, retry_after=0, times=3)  # transient
    order = [E, S, M]
    first = make_service(all_channels).notify(
        make_meeting(), make_user(), key=KEY, channel_order=order
    )
    assert first.outcome == NotificationOutcome.RETRYABLE

    second = make_service(all_channels).notify(
        make_meeting(), make_user(), key=KEY, channel_order=order
    )
    assert second.delivered_channel == M
    assert len(fake_slack.calls_to("chat.postMessage")) == 1  # never resent
    assert len(fake_ses.sends) == 1  # never resent
    assert summary(second.attempts)[3] == (M, AttemptStatus.DELIVERED, None, None, None)
    assert len(second.attempts) == 4


def test_everything_failing_is_exhausted_and_logged_as_an_error(
    slack_sms: dict[Channel, NotificationChannel],
    make_service: ServiceFactory,
    store: SQLiteStore,
    fake_slack: FakeSlackAPI,
    fake_twilio: FakeTwilioAPI,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_slack.fail_next("chat.postMessage", error="user_not_found")
    fake_twilio.fail_next(error_code=21610)
    with caplog.at_level(logging.INFO, logger="exec_assistant"):
        result = make_service(slack_sms).notify(make_meeting(), make_user(), key=KEY)
    assert result.outcome == NotificationOutcome.EXHAUSTED
    assert summary(result.attempts) == [
        (
            S,
            AttemptStatus.FAILED,
            ErrorClass.PERMANENT,
            "user_not_found",
            "Slack answered HTTP 200 user_not_found",
        ),
        (M, AttemptStatus.FAILED, ErrorClass.PERMANENT, "21610", "Twilio answered HTTP 400"),
        (E, AttemptStatus.SKIPPED, None, None, "channel not configured in this deployment"),
    ]
    record = store.get_notification(KEY)
    assert record is not None and record.state == LedgerState.EXHAUSTED
    [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert error.getMessage() == "notification.exhausted"
    fields = error.fields  # type: ignore[attr-defined]
    assert fields["meeting_id"] == "mtg-qbr-1" and fields["key"] == KEY
    assert fields["failures"] == [
        {"channel": S, "error_class": ErrorClass.PERMANENT, "error_code": "user_not_found"},
        {"channel": M, "error_class": ErrorClass.PERMANENT, "error_code": "21610"},
    ]
    again = make_service(slack_sms).notify(make_meeting(), make_user(), key=KEY)
    assert again.outcome == NotificationOutcome.EXHAUSTED and again.duplicate
    assert len(fake_slack.calls) == 1 and len(fake_twilio.requests) == 1


def test_an_expired_lease_mid_send_on_a_channel_that_cannot_be_asked_is_not_resent(
    fake_ses: FakeSES,
    all_channels: dict[Channel, NotificationChannel],
    make_service: ServiceFactory,
    store: SQLiteStore,
    fake_twilio: FakeTwilioAPI,
    clock: Clock,
) -> None:
    # A worker claimed the key, wrote its email attempt and died before completing it.
    store.claim_notification(
        KEY, "mtg-qbr-1", owner="dead-worker", now=clock.now, lease_seconds=120
    )
    store.record_attempt(
        KEY, owner="dead-worker", attempt=DeliveryAttempt(seq=0, channel=E, started_at=clock.now)
    )
    order = [E, M]
    busy = make_service(all_channels).notify(
        make_meeting(), make_user(), key=KEY, channel_order=order
    )
    assert busy.outcome == NotificationOutcome.IN_PROGRESS and busy.duplicate
    clock.advance(seconds=121)

    result = make_service(all_channels).notify(
        make_meeting(), make_user(), key=KEY, channel_order=order
    )

    assert result.delivered_channel == M
    assert summary(result.attempts) == [
        (
            E,
            AttemptStatus.FAILED,
            ErrorClass.UNKNOWN,
            "interrupted",
            "outcome unknown and the provider cannot be asked; not resent",
        ),
        (M, AttemptStatus.DELIVERED, None, None, None),
    ]
    assert fake_ses.sends == []
    assert len(fake_twilio.messages) == 1


def test_a_recovered_claim_that_had_delivered_is_finished_without_sending(
    slack_sms: dict[Channel, NotificationChannel],
    make_service: ServiceFactory,
    store: SQLiteStore,
    fake_slack: FakeSlackAPI,
    fake_twilio: FakeTwilioAPI,
    clock: Clock,
) -> None:
    store.claim_notification(KEY, "mtg-qbr-1", owner="w1", now=clock.now, lease_seconds=60)
    attempt = DeliveryAttempt(seq=0, channel=S, started_at=clock.now)
    store.record_attempt(KEY, owner="w1", attempt=attempt)
    store.complete_attempt(
        KEY,
        owner="w1",
        attempt=attempt.model_copy(
            update={"status": AttemptStatus.DELIVERED, "provider_id": "D1:1.0"}
        ),
    )
    clock.advance(minutes=5)  # w1 died before finish_notification
    result = make_service(slack_sms).notify(make_meeting(), make_user(), key=KEY)
    assert result.outcome == NotificationOutcome.DELIVERED and result.delivered_channel == S
    assert fake_slack.calls == [] and fake_twilio.requests == []
    record = store.get_notification(KEY)
    assert record is not None and record.state == LedgerState.DELIVERED


class _Broken:
    name = S

    def __init__(self, *, after_request: bool) -> None:
        self.after_request = after_request

    def skip_reason(self, user: Any) -> str | None:
        return None

    def send(
        self, notification: PrepNotification, *, attempt: int, before_request: BeforeRequest
    ) -> str:
        if self.after_request:
            before_request(1.0)
        raise KeyError("bug")


@pytest.mark.parametrize(
    ("after_request", "expected"),
    [
        (False, (ErrorClass.PERMANENT, "unexpected_error", "before the request: KeyError")),
        (True, (ErrorClass.UNKNOWN, "unexpected_error", "KeyError")),
    ],
)
def test_a_bug_in_a_channel_is_recorded_and_the_next_channel_delivers(
    fake_twilio: FakeTwilioAPI,
    make_service: ServiceFactory,
    after_request: bool,
    expected: tuple[Any, ...],
) -> None:
    # Before the request nothing left: not unknown, but a bug: not retried blindly either.
    result = make_service(
        {S: _Broken(after_request=after_request), M: sms_channel(fake_twilio)}
    ).notify(make_meeting(), make_user(), key=KEY)
    assert summary(result.attempts)[0] == (S, AttemptStatus.FAILED, *expected)
    assert result.delivered_channel == M


def test_notification_service_is_a_lazy_public_name() -> None:
    assert exec_assistant.NotificationService is NotificationService
    assert "NotificationService" in exec_assistant.__all__


def test_logs_are_json_with_ids(
    slack_sms: dict[Channel, NotificationChannel],
    make_service: ServiceFactory,
    fake_slack: FakeSlackAPI,
) -> None:
    import json

    from exec_assistant.logs import JsonFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("exec_assistant.notifications")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        fake_slack.fail_next("chat.postMessage", error="is_archived")
        make_service(slack_sms).notify(make_meeting(), make_user(), key=KEY)
    finally:
        log.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    failed = next(line for line in lines if line["event"] == "notification.attempt_failed")
    assert {k: failed[k] for k in ("meeting_id", "key", "channel", "attempt")} == {
        "meeting_id": "mtg-qbr-1",
        "key": KEY,
        "channel": "slack",
        "attempt": 0,
    }
    assert (failed["error_class"], failed["error_code"]) == ("permanent", "is_archived")
    # one line per outcome at INFO and above: the delivering attempt is named by the final line
    assert [(line["level"], line["event"]) for line in lines] == [
        ("WARNING", "notification.attempt_failed"),
        ("INFO", "notification.delivered"),
    ]
    assert {k: lines[-1][k] for k in ("meeting_id", "key", "channel", "attempt")} == {
        "meeting_id": "mtg-qbr-1",
        "key": KEY,
        "channel": "sms",
        "attempt": 1,
    }
    assert lines[-1]["failures"] == [
        {"channel": "slack", "error_class": "permanent", "error_code": "is_archived"}
    ]


class _LeaseSpy:
    name = S

    def __init__(self, store: SQLiteStore) -> None:
        self.store = store
        self.lease: Any = None

    def skip_reason(self, user: Any) -> str | None:
        return None

    def send(
        self, notification: PrepNotification, *, attempt: int, before_request: BeforeRequest
    ) -> str:
        before_request(1.0)
        record = self.store.get_notification(notification.key)
        assert record is not None
        self.lease = record.lease_expires_at
        return "spy:1"


def test_the_claim_lease_is_lease_seconds_long_without_a_deadline(
    store: SQLiteStore, clock: Clock
) -> None:
    spy = _LeaseSpy(store)
    service = NotificationService(store, {S: spy}, clock=clock, lease_seconds=30)
    assert service.notify(make_meeting(), make_user(), key=KEY).delivered
    assert spy.lease == clock.now + timedelta(seconds=30)


def test_the_claim_lease_ends_just_after_the_callers_deadline(
    store: SQLiteStore, clock: Clock
) -> None:
    # A Lambda invocation with 50 s left: its claim must be expired by the time Lambda's first
    # retry comes (about a minute after a timeout), whatever lease_seconds says.
    spy = _LeaseSpy(store)
    service = NotificationService(store, {S: spy}, clock=clock, lease_seconds=600)
    deadline = clock.now + timedelta(seconds=50)
    assert service.notify(make_meeting(), make_user(), key=KEY, deadline=deadline).delivered
    assert spy.lease == deadline + timedelta(seconds=LEASE_MARGIN_SECONDS)
