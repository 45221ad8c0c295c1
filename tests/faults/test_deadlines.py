"""Providers slow enough to exceed the invocation: the walk must end before Lambda stops it
(release the claim and raise for a retry), and the retries then deliver exactly once.

The worker's channels have 1 s client timeouts and no SDK retries (a send's worst case is then
a few seconds, see ``worker.short_timeout_channels``), and a watchdog SIGKILLs it when its fake
Lambda context runs out, as Lambda does. An invocation that ends by itself (returned, or raised
TransientError) passes that part; one that Lambda had to kill ran past its deadline.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from exec_assistant.errors import TransientError
from exec_assistant.models import LedgerState
from exec_assistant.workflows.prep_trigger_handler import handle_event
from tests.faults.harness import Harness
from tests.faults.worker import EXIT_RETURNED, EXIT_TRANSIENT, build_test_runtime

CHANNEL_TIMEOUT = 1


def _slow_first_invocation_then_recover(harness: Harness, timeout_ms: int = 6_000) -> None:
    """The first invocation under Lambda's timeout must end by itself; then retries + sweep."""
    code = harness.first_in_worker(
        timeout_ms=timeout_ms, enforce_timeout=True, channel_timeout=CHANNEL_TIMEOUT
    )
    assert code in (EXIT_RETURNED, EXIT_TRANSIENT), (
        f"the invocation did not end by itself (exit {code}): Lambda stopped it mid-walk\n"
        + harness.report()
    )
    harness.recover(first_ok=code == EXIT_RETURNED)
    harness.assert_invariant()


def test_slack_hangs_past_its_timeout(harness: Harness) -> None:
    """chat.postMessage is posted but answered after the client gave up: an unknown outcome
    inside a deadline that fits one send; reconciliation must find the post, not resend."""
    harness.slack.hang_next("chat.postMessage", seconds=3)
    _slow_first_invocation_then_recover(harness)


def test_every_provider_answers_5xx_slowly(harness: Harness) -> None:
    """Slack and Twilio each answer HTTP 500 after 0.5 s, twice (nothing posted or created):
    issue 12 item 4 in small. The walk must fit the invocation, then a retry delivers."""
    harness.slack.fail_next(
        "chat.postMessage", error="internal_error", status=500, delay=0.5, times=2
    )
    harness.twilio.fail_next(status=500, delay=0.5, times=2)
    _slow_first_invocation_then_recover(harness)


def test_no_channel_fits_the_invocation(harness: Harness) -> None:
    """A deadline shorter than any channel's worst case: nothing is sent, the claim is released
    and the invocation raises for a retry, which delivers."""
    code = harness.first_in_worker(
        timeout_ms=2_000, enforce_timeout=True, channel_timeout=CHANNEL_TIMEOUT
    )
    assert code == EXIT_TRANSIENT, f"exit {code}\n{harness.report()}"
    assert harness.slack.calls_to("chat.postMessage") == []
    assert harness.twilio.messages == []
    harness.recover(first_ok=False)
    harness.assert_invariant()


def test_handle_event_with_a_short_deadline_releases_the_claim(harness: Harness) -> None:
    """``handle_event(..., deadline=)`` directly: too short → TransientError, no provider
    request, and no claim left held (no record, or RELEASED): the same event with time to spare
    right after delivers."""
    store = harness.open_store()
    runtime = build_test_runtime(
        harness.settings, store=store, clock=harness.clock, channel_timeout=CHANNEL_TIMEOUT
    )
    try:
        with pytest.raises(TransientError):
            handle_event(harness.envelope, runtime, deadline=harness.clock() + timedelta(seconds=2))
        record = store.get_notification(harness.key)
        assert record is None or record.state == LedgerState.RELEASED, harness.report()
        assert harness.deliveries() == (0, 0)
        result = handle_event(
            harness.envelope, runtime, deadline=harness.clock() + timedelta(seconds=60)
        )
        assert result.action == "notified", result
    finally:
        runtime.close()
    assert harness.deliveries() == (1, 0)
    assert harness.settled(), harness.report()
