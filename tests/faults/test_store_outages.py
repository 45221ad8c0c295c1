"""DynamoDB unavailable during the first invocation: every request refused (connections reset),
or one write throttled through all of botocore's attempts — before the claim, after Slack
posted (the DELIVERED write), or on the meeting's notification fields. The invocation must raise
for a retry and log its one ``prep_trigger.retryable`` line (event id, meeting id, error class:
issue 12 item 7, checked by the harness); once the store is back, retries and the sweep deliver
exactly one notification — the one already posted, if any, found by reconciliation.
"""

from __future__ import annotations

import pytest

from exec_assistant.aws import client
from exec_assistant.store.base import Store
from tests.faults.dynamo_proxy import attempts_per_request, tag_store_calls
from tests.faults.harness import Harness
from tests.faults.stores import FaultyStore, as_store

ALL = 0  # refuse every attempt botocore makes for the request

CASES = [
    ("store-down", None, "reset", 10_000),
    ("claim-throttled", "claim_notification#1", "throttle", ALL),
    ("finish-throttled", "finish_notification#1", "throttle", ALL),
    ("meeting-fields-throttled", "record_meeting_notification#1", "throttle", ALL),
]


@pytest.mark.parametrize("backend", ["dynamodb"])
@pytest.mark.parametrize(("name", "call", "mode", "times"), CASES, ids=[c[0] for c in CASES])
def test_store_outage_then_retries_deliver_exactly_once(
    harness: Harness, name: str, call: str | None, mode: str, times: int
) -> None:
    proxy = harness.proxy
    assert proxy is not None

    def wrap(store: Store) -> Store:
        faulty = FaultyStore(store)
        tag_store_calls(client("dynamodb"), faulty.current_call)
        return as_store(faulty)

    times = times or attempts_per_request(client("dynamodb"))
    proxy.refuse_next(times=times, call=call, mode=mode)  # type: ignore[arg-type]
    ok = harness.first_in_process(wrap=wrap)
    refused = proxy.refused
    proxy.clear()  # the store is back
    assert refused >= 1, f"{name}: no request was refused\n{harness.report()}"
    assert not ok, f"{name}: the invocation returned through an outage\n{harness.report()}"
    harness.recover(first_ok=ok)
    harness.assert_invariant()
