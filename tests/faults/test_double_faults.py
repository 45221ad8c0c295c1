"""Two crashes in a row: the worker dies after the provider acted (outcome unknown), and Lambda's
last retry (+3 min, once the first lease has expired) dies too — in the middle of reconciling
that outcome with the provider (``conversations.history`` / the Messages list answered, the
worker gone before it read the answer). No Lambda retry is left: the sweep must finish the
cycle, and the executive still gets exactly one notification.
"""

from __future__ import annotations

import pytest

from tests.faults.harness import RETRY_DELAYS, Harness

CASES = [
    ("slack", "chat.postMessage", "conversations.history"),
    ("sms", "messages.create", "messages.list"),
]


@pytest.mark.parametrize(("scenario", "send", "lookup"), CASES, ids=[c[0] for c in CASES])
def test_the_last_retry_dies_while_reconciling(
    harness: Harness, scenario: str, send: str, lookup: str
) -> None:
    if scenario == "sms":
        harness.slack_down_for_good()
    fake = harness.slack if scenario == "slack" else harness.twilio
    harness.kill_worker_at(fake, send, "acted")
    assert harness.first_in_worker() == -9, harness.report()
    harness.clock.jump(sum(RETRY_DELAYS))  # the +1 min retry met the live lease; this is +3 min
    harness.kill_worker_at(fake, lookup, "acted")
    last = harness.first_in_worker(label=f"+{sum(RETRY_DELAYS):.0f}s retry")
    assert last == -9, f"the retry never looked {lookup} up\n{harness.report()}"
    harness.recover(first_ok=False, retries_left=0)
    assert harness.republished >= 1, harness.report()
    harness.assert_invariant()
