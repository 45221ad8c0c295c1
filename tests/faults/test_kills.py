"""SIGKILL the worker at every step boundary of the prep trigger; then Lambda's retries and the
recovery sweep must deliver exactly one notification (see ``harness.py`` for the invariant).

Store points kill the worker from inside (a :class:`~tests.faults.stores.FaultyStore` around
the real store); provider points kill it from the fake, when the request arrived (the provider
then acts anyway: the request was complete), after the fake acted but before it answered, and
after it answered. Scenario ``slack``: Slack delivers. Scenario ``sms``: Slack refuses for good
(``channel_not_found``), so the unknown outcome is on SMS. Scenario ``slack-only``: Slack
delivers to an executive without a phone (nothing to escalate to), so the meeting's write rides
on the ledger's DELIVERED finish in one transaction (SQLite) or right after it (DynamoDB).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.fakes._server import HookPoint
from tests.faults.harness import Harness
from tests.faults.stores import STARTED, StorePoint


@dataclass(frozen=True)
class Kill:
    scenario: str  # "slack", "sms" or "slack-only" (see module docstring)
    store_point: StorePoint | None = None
    provider: tuple[str, HookPoint] | None = None  # (route on the scenario's fake, when)

    @property
    def id(self) -> str:
        where = str(self.store_point) if self.store_point else "-".join(self.provider or ())
        return f"{self.scenario}:{where}"


def _store(method: str, when: str, nth: int = 1, scenario: str = "slack") -> Kill:
    return Kill(scenario, store_point=StorePoint(method, when, nth))  # type: ignore[arg-type]


KILLS = [
    _store("claim_notification", "before"),
    _store("claim_notification", "after"),  # after the claim
    _store(STARTED, "after"),  # the attempt is STARTED: right before the provider request
    _store("record_attempt", "before"),
    _store("record_attempt", "after"),
    _store("finish_notification", "before"),
    _store("finish_notification", "after"),
    _store("transition_meeting", "before"),
    _store("transition_meeting", "after"),
    _store("record_meeting_notification", "before"),
    _store("record_meeting_notification", "after"),
    Kill("slack", provider=("chat.postMessage", "received")),
    Kill("slack", provider=("chat.postMessage", "acted")),  # posted, not answered
    Kill("slack", provider=("chat.postMessage", "answered")),
    # Slack refused for good: the SMS is the attempt whose outcome the crash hides
    _store("complete_attempt", "before", scenario="sms"),  # Slack's failure being recorded
    _store("complete_attempt", "after", scenario="sms"),
    _store(STARTED, "after", 2, scenario="sms"),  # right before the Twilio request
    _store("finish_notification", "before", scenario="sms"),
    Kill("sms", provider=("messages.create", "received")),
    Kill("sms", provider=("messages.create", "acted")),
    Kill("sms", provider=("messages.create", "answered")),
    # No escalation target: the finish carries the meeting's write (and the steps' mark)
    _store(STARTED, "after", scenario="slack-only"),
    _store("finish_notification", "before", scenario="slack-only"),
    _store("finish_notification", "after", scenario="slack-only"),
    Kill("slack-only", provider=("chat.postMessage", "acted")),
]


@pytest.mark.parametrize("kill", KILLS, ids=[k.id for k in KILLS])
def test_sigkill_at_each_step_then_retries_deliver_exactly_once(
    harness: Harness, kill: Kill
) -> None:
    if kill.scenario == "sms":
        harness.slack_down_for_good()
    if kill.scenario == "slack-only":
        harness.no_escalation_target()
    if kill.provider is not None:
        route, when = kill.provider
        fake = harness.twilio if kill.scenario == "sms" else harness.slack
        harness.kill_worker_at(fake, route, when)
    code = harness.first_in_worker(store_point=kill.store_point)
    assert code == -9, f"the worker was not killed at {kill.id}\n{harness.report()}"
    harness.recover(first_ok=False)
    harness.assert_invariant()
