"""Lose the response of each ledger and meeting write on DynamoDB, then retries and the sweep
must still deliver exactly one notification.

The first invocation runs in this process with its store wrapped in a
:class:`~tests.faults.stores.FaultyStore`, which names each Store call; botocore sends that name
in a header (``tag_store_calls``), and :class:`~tests.faults.dynamo_proxy.DynamoProxy` lets moto
apply the named call's write, then resets the connection instead of answering. botocore retries
it (standard mode: the resent conditional write now meets the item it already changed); with
``all`` every attempt's answer is lost (as many as the client makes) and botocore gives up.
Scenario ``sms``: Slack refuses for good, so Slack's failure is completed and SMS is the
attempt in flight.
"""

from __future__ import annotations

import pytest

from exec_assistant.aws import client
from exec_assistant.store.base import Store
from tests.faults.dynamo_proxy import attempts_per_request, tag_store_calls
from tests.faults.harness import Harness
from tests.faults.stores import FaultyStore, as_store

ALL = 0  # lose the answer of every attempt botocore makes
LOSSES = [
    ("slack", "claim_notification#1", 1),
    ("slack", "claim_notification#1", ALL),
    ("slack", "record_attempt#1", 1),  # Slack's attempt STARTED
    ("slack", "record_attempt#1", ALL),
    ("slack", "finish_notification#1", 1),  # DELIVERED with the attempt's completion
    ("slack", "finish_notification#1", ALL),
    ("slack", "transition_meeting#1", 1),
    ("slack", "record_meeting_notification#1", 1),
    ("sms", "complete_attempt#1", 1),  # Slack's permanent failure
    ("sms", "record_attempt#2", 1),  # SMS's attempt STARTED
    ("sms", "finish_notification#1", 1),
]


@pytest.mark.parametrize("backend", ["dynamodb"])
@pytest.mark.parametrize(
    ("scenario", "call", "times"),
    LOSSES,
    ids=[f"{s}:{c}x{t or 'all'}" for s, c, t in LOSSES],
)
def test_lost_write_response_then_retries_deliver_exactly_once(
    harness: Harness, scenario: str, call: str, times: int
) -> None:
    assert harness.proxy is not None
    if scenario == "sms":
        harness.slack_down_for_good()

    def wrap(store: Store) -> Store:
        faulty = FaultyStore(store)
        tag_store_calls(client("dynamodb"), faulty.current_call)
        return as_store(faulty)

    times = times or attempts_per_request(client("dynamodb"))
    for _ in range(times):
        harness.proxy.lose_next(call=call)
    ok = harness.first_in_process(wrap=wrap)
    assert len(harness.proxy.lost) == times, (
        f"{call} made {len(harness.proxy.lost)} of the {times} writes to lose\n" + harness.report()
    )
    harness.recover(first_ok=ok)
    harness.assert_invariant()
