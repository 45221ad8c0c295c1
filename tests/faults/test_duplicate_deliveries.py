"""EventBridge delivers at least once: the same event reaches several workers at the same time.
They race for the claim (moto's requests serialised by the proxy, as DynamoDB applies each
write atomically); the losers must not send and must not swallow the event while the holder may
still die (BUSY → TransientError, so Lambda retries them). Then exactly one notification.
"""

from __future__ import annotations

import pytest

from tests.faults.harness import Harness
from tests.faults.worker import EXIT_RETURNED, EXIT_TRANSIENT

COPIES = 3


@pytest.mark.parametrize("slow_slack", [False, True], ids=["fast", "slack-answers-after-3s"])
def test_the_same_event_delivered_to_three_workers_at_once(
    harness: Harness, slow_slack: bool
) -> None:
    if slow_slack:  # the holder is still sending while the others look at the claim
        harness.slack.hang_next("chat.postMessage", seconds=3)
    codes = harness.first_in_workers(COPIES)
    assert set(codes) <= {EXIT_RETURNED, EXIT_TRANSIENT}, harness.report()
    if slow_slack:
        assert codes.count(EXIT_TRANSIENT) >= 1, (
            "no copy found the cycle held under a live lease\n" + harness.report()
        )
    harness.recover(first_ok=[code == EXIT_RETURNED for code in codes])
    harness.assert_invariant()
