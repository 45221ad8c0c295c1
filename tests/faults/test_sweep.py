"""A cycle whose Lambda retries all failed (the event is in the DLQ) is still delivered: the
recovery sweep republishes it while the prep window is open, and once it settled it stops.
Slack fails transiently (``ratelimited``, asking for longer than the channel waits: nothing
posted, no SDK retry) for the first invocation and both retries; SMS is refused for good (21610,
the recipient opted out). So every try releases the cycle, the event ends in the DLQ, and only
the sweep can bring it back — Slack then delivers.
"""

from __future__ import annotations

from tests.faults.harness import RETRY_DELAYS, Harness

TRIES = 1 + len(RETRY_DELAYS)


def test_the_sweep_rescues_a_cycle_after_the_dlq(harness: Harness) -> None:
    harness.slack.fail_next(
        "chat.postMessage", error="ratelimited", status=429, retry_after=600, times=TRIES
    )
    harness.twilio.fail_next(error_code=21610, times=50)
    ok = harness.first_in_process()
    assert not ok, harness.report()
    harness.recover(first_ok=ok)
    assert harness.republished >= 1, "the sweep never republished the cycle\n" + harness.report()
    harness.assert_invariant()
