"""The provider acted, its answer was lost: a connection reset after the request was read, or an
HTTP 500 in place of the real answer — while the message *was* posted (Slack) or created
(Twilio). The trigger must reconcile (Slack: the message metadata in the DM's history; Twilio:
the Messages list) rather than resend, through Lambda's retries and the sweep: exactly one
notification. Some cases also make the reconciliation lookup itself fail once, or leave the SMS
queued without a ``date_sent``. Scenario ``sms``: Slack refuses for good.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from tests.faults.harness import Harness


@dataclass(frozen=True)
class Lost:
    scenario: str
    mode: str  # "reset" or "status" (HTTP 500)
    also: tuple[str, ...] = field(default=())  # extra faults, by name (see _EXTRA)

    @property
    def id(self) -> str:
        return "-".join([self.scenario, self.mode, *self.also])


def _history_fails_once(harness: Harness) -> None:
    harness.slack.fail_next("conversations.history", error="internal_error", status=500)


def _list_fails_once(harness: Harness) -> None:
    harness.twilio.lose_response_next("messages.list", mode="status", status=500)


def _stays_queued(harness: Harness) -> None:
    harness.twilio.send_immediately = False


_EXTRA: dict[str, Callable[[Harness], None]] = {
    "history-fails-once": _history_fails_once,
    "list-fails-once": _list_fails_once,
    "sms-stays-queued": _stays_queued,
}

CASES = [
    Lost("slack", "reset"),
    Lost("slack", "status"),
    Lost("slack", "reset", ("history-fails-once",)),
    Lost("sms", "reset"),
    Lost("sms", "status"),
    Lost("sms", "reset", ("list-fails-once",)),
    Lost("sms", "status", ("sms-stays-queued",)),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_provider_acted_but_the_answer_was_lost(harness: Harness, case: Lost) -> None:
    if case.scenario == "sms":
        harness.slack_down_for_good()
        harness.twilio.lose_response_next("messages.create", mode=case.mode)  # type: ignore[arg-type]
    else:
        harness.slack.lose_response_next("chat.postMessage", mode=case.mode)  # type: ignore[arg-type]
    for extra in case.also:
        _EXTRA[extra](harness)
    ok = harness.first_in_process()
    sent = harness.deliveries()
    assert sum(sent) >= 1, f"the provider was never asked to send\n{harness.report()}"
    harness.recover(first_ok=ok)
    harness.assert_invariant()
