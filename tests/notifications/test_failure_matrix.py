"""Every error class of every provider (issue #3's lists): who delivers, what the ledger holds.

Each case makes the first channel fail in one way, through the real SDK client talking to the
provider fake (or moto), and checks what the failing provider saw — exactly as many requests as
its retry policy allows (1 for permanent and unknown: never resent; 1 + bounded retries for what
the SDK retries, only where nothing was created) — and what happens next:

* transient or permanent: the next channel delivers; the ledger holds two attempts — the failure
  with its class and raw code, the delivery with its provider id;
* unknown on a channel the service can reconcile (Slack, Twilio): nothing else is sent, the
  attempt stays STARTED with the class and code seen, and the claim is released for a retry
  that asks the provider first (tests/notifications/test_reconcile.py);
* unknown on SES (no lookup): never resent, the next channel delivers.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from exec_assistant.models import AttemptStatus, Channel, ErrorClass, LedgerState
from exec_assistant.notifications.channels.email import EmailChannel
from exec_assistant.notifications.types import NotificationChannel, NotificationOutcome
from exec_assistant.store.sqlite import SQLiteStore
from tests.fakes.ses import SENDER, FakeSES
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.notifications.conftest import (
    ServiceFactory,
    make_meeting,
    make_user,
    slack_channel,
    sms_channel,
)

T, P, U = ErrorClass.TRANSIENT, ErrorClass.PERMANENT, ErrorClass.UNKNOWN


@dataclass(frozen=True)
class Fakes:
    slack: FakeSlackAPI
    twilio: FakeTwilioAPI
    ses: FakeSES | None  # started only for cases that involve email (moto costs time)

    def requests(self, channel: Channel) -> int:
        if channel == Channel.SLACK:
            return len(self.slack.calls_to("chat.postMessage"))
        if channel == Channel.SMS:
            return len(self.twilio.messages)
        assert self.ses is not None
        return len(self.ses.sends)


@dataclass(frozen=True)
class Case:
    channel: Channel  # the provider that fails
    script: Callable[[Fakes], None]
    error_class: ErrorClass
    code: str
    requests: int  # requests the failing provider receives

    def __str__(self) -> str:
        return f"{self.channel.value}-{self.code}"


def slack_error(error: str, status: int = 200, **kw: int) -> Callable[[Fakes], None]:
    return lambda f: f.slack.fail_next("chat.postMessage", error=error, status=status, **kw)


def twilio_error(**kw: Any) -> Callable[[Fakes], None]:
    return lambda f: f.twilio.fail_next(**kw)


def ses_error(code: str, status: int = 400, times: int = 1) -> Callable[[Fakes], None]:
    def script(fakes: Fakes) -> None:
        assert fakes.ses is not None
        fakes.ses.fail_next(code, status=status, times=times)

    return script


def unreachable(_: Fakes) -> None:
    """Marker: the Slack channel is pointed at a closed port."""


S, M, E = Channel.SLACK, Channel.SMS, Channel.EMAIL
CASES = [
    # Slack: transient (429 honouring Retry-After, connection errors before sending)
    Case(S, slack_error("ratelimited", 429, retry_after=0, times=5), T, "ratelimited", 2),
    Case(S, unreachable, T, "connection_error", 0),
    # Slack: unknown (the message may have been posted): internal_error, 5xx — never resent
    Case(S, slack_error("internal_error"), U, "internal_error", 1),
    Case(S, slack_error("internal_error", 503, times=5), U, "http_503", 1),
    Case(S, slack_error("internal_error", 500, times=5), U, "http_500", 1),
    Case(S, slack_error("internal_error", 502), U, "http_502", 1),
    # Slack: permanent
    *(
        Case(S, slack_error(code), P, code, 1)
        for code in (
            "channel_not_found",
            "user_not_found",
            "invalid_auth",
            "not_authed",
            "account_inactive",
            "is_archived",
        )
    ),
    # Slack: unknown (a timeout after the request left, fatal_error): never resent
    Case(S, lambda f: f.slack.hang_next("chat.postMessage", seconds=10), U, "timeout", 1),
    Case(S, slack_error("fatal_error"), U, "fatal_error", 1),
    # Twilio: transient (20429, HTTP 429: nothing was created)
    Case(M, twilio_error(error_code=20429, retry_after=0, times=5), T, "20429", 2),
    Case(M, twilio_error(status=429, retry_after=0, times=5), T, "http_429", 2),
    # Twilio: unknown (5xx: the message may have been created)
    Case(M, twilio_error(status=503, times=5), U, "http_503", 1),
    Case(M, twilio_error(status=500, times=5), U, "http_500", 1),
    # Twilio: permanent
    *(
        Case(M, twilio_error(error_code=code), P, str(code), 1)
        for code in (21211, 21610, 21614, 21608, 20003)
    ),
    # Twilio: unknown
    Case(M, lambda f: f.twilio.hang_next(seconds=10), U, "timeout", 1),
    # SES: transient (botocore standard mode, RETRIES=1: 2 requests)
    Case(E, ses_error("TooManyRequestsException", 429, times=9), T, "TooManyRequestsException", 2),
    Case(E, ses_error("Throttling", 400, times=9), T, "Throttling", 2),
    Case(E, ses_error("ServiceUnavailable", 503, times=9), T, "ServiceUnavailable", 2),
    # SES: permanent
    *(
        Case(E, ses_error(code), P, code, 1)
        for code in (
            "MessageRejected",
            "MailFromDomainNotVerifiedException",
            "SendingPausedException",
            "AccountSuspendedException",
        )
    ),
    # SES: unknown
    Case(E, ses_error("timeout"), U, "ReadTimeoutError", 1),
]

#: The failing channel first, then the one expected to deliver.
FALLBACK = {S: M, M: E, E: S}


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/api/"


@pytest.mark.parametrize("case", CASES, ids=str)
def test_failure_matrix(
    case: Case,
    fake_slack: FakeSlackAPI,
    fake_twilio: FakeTwilioAPI,
    make_service: ServiceFactory,
    store: SQLiteStore,
    request: pytest.FixtureRequest,
) -> None:
    fallback = FALLBACK[case.channel]
    fake_ses: FakeSES | None = (
        request.getfixturevalue("fake_ses") if E in (case.channel, fallback) else None
    )
    fakes = Fakes(fake_slack, fake_twilio, fake_ses)
    slack_target = _closed_port_url() if case.script is unreachable else fake_slack.url
    channels: dict[Channel, NotificationChannel] = {
        # short timeouts only where a hang is scripted: a loaded machine must not time out the
        # fallback that is expected to deliver
        S: slack_channel(slack_target, timeout=1 if case.channel == S else 5),
        M: sms_channel(fake_twilio, timeout=0.5 if case.channel == M else 5),
        E: EmailChannel(sender=SENDER),
    }
    case.script(fakes)
    user = make_user()
    key = "mtg-qbr-1#prep"

    result = make_service(channels).notify(
        make_meeting(), user, key=key, channel_order=[case.channel, fallback]
    )

    assert fakes.requests(case.channel) == case.requests
    if case.error_class == U and case.channel in (S, M):
        assert result.outcome == NotificationOutcome.RETRYABLE
        [pending] = result.attempts
        assert (pending.channel, pending.status) == (case.channel, AttemptStatus.STARTED)
        assert (pending.error_class, pending.error_code) == (U, case.code)
        assert fakes.requests(fallback) == 0
        record = store.get_notification(key)
        assert record is not None and record.state == LedgerState.RELEASED
        assert record.attempts == result.attempts
        return
    assert result.outcome == NotificationOutcome.DELIVERED
    assert result.delivered_channel == fallback
    failed, delivered = result.attempts
    assert (failed.seq, failed.channel, failed.status) == (0, case.channel, AttemptStatus.FAILED)
    assert (failed.error_class, failed.error_code) == (case.error_class, case.code)
    assert failed.provider_id is None and failed.completed_at is not None
    assert (delivered.seq, delivered.channel, delivered.status) == (
        1,
        fallback,
        AttemptStatus.DELIVERED,
    )
    assert delivered.error_class is None and delivered.error_code is None
    if fallback == E:  # moto's MessageId is random: it must be there, and moto must have it
        assert fake_ses is not None and len(fake_ses.delivered) == 1
        assert delivered.provider_id and len(delivered.provider_id) > 10
    else:
        assert (
            delivered.provider_id
            == {
                S: "D0ADA1234:1700000001.000001",
                M: "SM" + f"{1:032x}",
            }[fallback]
        )
    assert fakes.requests(fallback) == 1
    record = store.get_notification(key)
    assert record is not None
    assert record.state == LedgerState.DELIVERED
    assert record.delivered_channel == fallback
    assert record.attempts == result.attempts
