"""Unknown outcomes are reconciled with the provider, and the walk fits the caller's deadline.

A scripted provider stands in for Slack/Twilio here, so each policy case is exact: what the
provider *has* (a message may be there although the send failed) and what a lookup answers are
set per case. The same flows against the real SDK clients and the loopback fakes, with processes
killed at each step, are in tests/faults/.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from exec_assistant.errors import StoreUnavailableError
from exec_assistant.models import (
    AttemptStatus,
    Channel,
    DeliveryAttempt,
    ErrorClass,
    LedgerState,
    User,
)
from exec_assistant.notifications.service import (
    RECONCILE_GIVE_UP_SECONDS,
    SETTLE_SECONDS,
    NotificationService,
)
from exec_assistant.notifications.types import (
    BeforeRequest,
    DeliveryError,
    NotificationOutcome,
    PrepNotification,
    Reconcilable,
)
from exec_assistant.store.sqlite import SQLiteStore
from tests.notifications.conftest import Clock, make_meeting, make_user

KEY = "mtg-qbr-1#prep"
S, M = Channel.SLACK, Channel.SMS


@dataclass
class Provider:
    """What one provider has received, and how its next sends and lookups go.

    ``script`` entries, one per send: ``"ok"``; ``"lost"`` (it has the message, but the answer
    never came: UNKNOWN); ``"dropped"`` (it has nothing, and the answer never came: UNKNOWN);
    or a :class:`DeliveryError` raised without the provider keeping anything.
    """

    messages: list[tuple[str, int]] = field(default_factory=list)  # (key, attempt)
    script: list[Any] = field(default_factory=list)
    lookup_error: DeliveryError | None = None
    lookups: int = 0
    requests: int = 0


class ScriptedChannel:
    """A channel whose provider cannot be asked (like SES)."""

    request_seconds = 5.0

    def __init__(self, name: Channel, provider: Provider, clock: Clock) -> None:
        self.name, self.provider, self.clock = name, provider, clock

    def skip_reason(self, user: User) -> str | None:
        return None

    def send(
        self, notification: PrepNotification, *, attempt: int, before_request: BeforeRequest
    ) -> str:
        before_request(self.request_seconds)
        self.provider.requests += 1
        step = self.provider.script.pop(0) if self.provider.script else "ok"
        if isinstance(step, DeliveryError):
            raise step
        if step in ("ok", "lost"):
            self.provider.messages.append((notification.key, attempt))
        if step != "ok":
            raise DeliveryError(ErrorClass.UNKNOWN, "timeout", "no answer in time")
        return f"{self.name.value}:{len(self.provider.messages)}"


class LookupChannel(ScriptedChannel):
    """A channel whose provider can be asked what it delivered (like Slack or Twilio)."""

    lookup_seconds = 10.0

    def find_sent(self, notification: PrepNotification, *, since: datetime) -> str | None:
        self.provider.lookups += 1
        if self.provider.lookup_error is not None:
            raise self.provider.lookup_error
        for number, (key, _) in enumerate(self.provider.messages, start=1):
            if key == notification.key:
                return f"{self.name.value}:{number}"
        return None


@pytest.fixture
def slack(clock: Clock) -> Provider:
    return Provider()


@pytest.fixture
def sms(clock: Clock) -> Provider:
    return Provider()


@pytest.fixture
def service(
    store: SQLiteStore, clock: Clock, slack: Provider, sms: Provider
) -> NotificationService:
    channels = {S: LookupChannel(S, slack, clock), M: LookupChannel(M, sms, clock)}
    assert all(isinstance(c, Reconcilable) for c in channels.values())
    return NotificationService(store, channels, clock=clock)


def notify(service: NotificationService, **kwargs: Any) -> Any:
    return service.notify(make_meeting(), make_user(), key=KEY, channel_order=[S, M], **kwargs)


def test_a_lost_answer_is_found_at_the_provider_and_never_resent(
    service: NotificationService, store: SQLiteStore, clock: Clock, slack: Provider, sms: Provider
) -> None:
    slack.script = ["lost"]  # Slack posted it; the answer was lost
    first = notify(service)
    assert first.outcome == NotificationOutcome.RETRYABLE  # nothing else sent: ask first
    [pending] = first.attempts
    assert (pending.status, pending.error_class, pending.error_code) == (
        AttemptStatus.STARTED,
        ErrorClass.UNKNOWN,
        "timeout",
    )
    # a retry that lands at once does not ask yet: the request may still be in flight
    assert notify(service).outcome == NotificationOutcome.RETRYABLE
    assert slack.lookups == 0
    clock.advance(seconds=SETTLE_SECONDS)

    done = notify(service)

    assert done.outcome == NotificationOutcome.DELIVERED and done.delivered_channel == S
    [attempt] = done.attempts
    assert (attempt.status, attempt.provider_id) == (AttemptStatus.DELIVERED, "slack:1")
    assert attempt.reason == "found at the provider by reconciliation"
    assert slack.messages == [(KEY, 0)] and slack.requests == 1
    assert sms.requests == 0  # exactly one notification
    record = store.get_notification(KEY)
    assert record is not None and record.state == LedgerState.DELIVERED


def test_a_dropped_request_is_found_missing_and_sent_again_on_the_same_channel(
    service: NotificationService, clock: Clock, slack: Provider, sms: Provider
) -> None:
    slack.script = ["dropped"]
    assert notify(service).outcome == NotificationOutcome.RETRYABLE
    clock.advance(seconds=SETTLE_SECONDS + 1)

    done = notify(service)

    assert done.delivered_channel == S
    assert [(a.status, a.error_class, a.error_code) for a in done.attempts] == [
        (AttemptStatus.FAILED, ErrorClass.TRANSIENT, "not_sent"),
        (AttemptStatus.DELIVERED, None, None),
    ]
    assert slack.messages == [(KEY, 1)]  # the one the executive got: attempt 1
    assert sms.requests == 0


def test_a_provider_that_cannot_answer_holds_the_cycle_then_the_walk_moves_on(
    service: NotificationService, clock: Clock, slack: Provider, sms: Provider
) -> None:
    slack.script = ["lost"]
    slack.lookup_error = DeliveryError(ErrorClass.TRANSIENT, "ratelimited", "429")
    notify(service)
    clock.advance(seconds=SETTLE_SECONDS)
    held = notify(service)
    assert held.outcome == NotificationOutcome.RETRYABLE and sms.requests == 0
    assert "could not ask slack" in held.reason
    clock.advance(seconds=RECONCILE_GIVE_UP_SECONDS)

    done = notify(service)

    # Given up on knowing: Slack is never resent; SMS delivers (one duplicate is possible
    # here, a lost cycle is not — the README's remaining window).
    assert done.delivered_channel == M
    assert done.attempts[0].status == AttemptStatus.FAILED
    assert done.attempts[0].error_class == ErrorClass.UNKNOWN
    assert slack.requests == 1 and sms.requests == 1


def test_a_worker_killed_after_its_request_is_reconciled_by_the_next_one(
    service: NotificationService, store: SQLiteStore, clock: Clock, slack: Provider
) -> None:
    # The dead worker recorded its attempt STARTED, Slack posted, then the process died.
    claim = store.claim_notification(
        KEY, "mtg-qbr-1", owner="dead", now=clock.now, lease_seconds=60
    )
    assert claim.owned
    store.record_attempt(
        KEY,
        owner="dead",
        attempt=DeliveryAttempt(seq=0, channel=S, owner="dead", started_at=clock.now),
    )
    slack.messages.append((KEY, 0))
    assert notify(service).outcome == NotificationOutcome.IN_PROGRESS  # its lease is live
    clock.advance(seconds=61)

    done = notify(service)

    assert done.delivered_channel == S and slack.requests == 0
    assert done.attempts[0].provider_id == "slack:1"


def test_the_walk_releases_the_claim_when_a_send_would_outlive_the_deadline(
    service: NotificationService, store: SQLiteStore, clock: Clock, slack: Provider
) -> None:
    # 7 s left: a 5 s send plus the 3 s kept for the finish does not fit.
    result = notify(service, deadline=clock.now + timedelta(seconds=7))
    assert result.outcome == NotificationOutcome.RETRYABLE
    assert "may take 5.0 s" in result.reason
    assert slack.requests == 0
    record = store.get_notification(KEY)
    assert record is not None and record.state == LedgerState.RELEASED and record.attempts == []
    # the retry, with a fresh invocation's time, delivers
    assert notify(service, deadline=clock.now + timedelta(seconds=60)).delivered
    assert slack.requests == 1


def test_the_walk_stops_between_channels_when_the_next_one_does_not_fit(
    store: SQLiteStore, clock: Clock, slack: Provider, sms: Provider
) -> None:
    class Slow(LookupChannel):
        def send(
            self, notification: PrepNotification, *, attempt: int, before_request: BeforeRequest
        ) -> str:
            before_request(self.request_seconds)
            clock.advance(seconds=6)  # the provider took its time, then refused
            raise DeliveryError(ErrorClass.PERMANENT, "channel_not_found")

    channels = {S: Slow(S, slack, clock), M: LookupChannel(M, sms, clock)}
    service = NotificationService(store, channels, clock=clock)
    result = notify(service, deadline=clock.now + timedelta(seconds=12))
    assert result.outcome == NotificationOutcome.RETRYABLE and sms.requests == 0
    assert notify(service, deadline=clock.now + timedelta(seconds=60)).delivered_channel == M


def test_no_time_left_claims_nothing(
    service: NotificationService, store: SQLiteStore, clock: Clock
) -> None:
    result = notify(service, deadline=clock.now + timedelta(seconds=1))
    assert result.outcome == NotificationOutcome.RETRYABLE
    assert store.get_notification(KEY) is None


class _FailingFinish(SQLiteStore):
    def finish_notification(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("state") == LedgerState.DELIVERED:
            raise StoreUnavailableError("DynamoDB ThrottlingException", code="Throttling")
        return super().finish_notification(*args, **kwargs)


def test_a_store_failure_after_the_send_releases_and_the_retry_does_not_resend(
    tmp_path: Any, clock: Clock, slack: Provider, sms: Provider
) -> None:
    store = _FailingFinish(tmp_path / "s.db")
    channels = {S: LookupChannel(S, slack, clock), M: LookupChannel(M, sms, clock)}
    with pytest.raises(StoreUnavailableError):
        notify(NotificationService(store, channels, clock=clock))
    record = store.get_notification(KEY)
    # given back; the delivered send is STARTED in the ledger: the retry asks Slack first
    assert record is not None and record.state == LedgerState.RELEASED
    assert [a.status for a in record.attempts] == [AttemptStatus.STARTED]
    clock.advance(seconds=SETTLE_SECONDS)
    retry = NotificationService(SQLiteStore(tmp_path / "s.db"), channels, clock=clock)
    assert notify(retry).delivered_channel == S
    assert slack.requests == 1 and sms.requests == 0
    store.close()


def test_an_unknown_outcome_on_a_channel_that_cannot_be_asked_is_never_resent(
    store: SQLiteStore, clock: Clock, slack: Provider, sms: Provider
) -> None:
    channels = {S: ScriptedChannel(S, slack, clock), M: LookupChannel(M, sms, clock)}
    slack.script = ["lost"]
    result = notify(NotificationService(store, channels, clock=clock))
    assert result.delivered_channel == M  # on at once: no lookup to wait for
    assert result.attempts[0].error_class == ErrorClass.UNKNOWN
    assert slack.requests == 1
