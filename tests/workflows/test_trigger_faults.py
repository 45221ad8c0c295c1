"""The trigger under the faults of issue 12: a held cycle is retried, never dropped; the Lambda
deadline bounds the claim; an outage leaves one log line; hostile input is rejected, not crashed
on; the recovery sweep republishes every stuck cycle while its prep window is open, and nothing
else."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exec_assistant.errors import StoreUnavailableError, TransientError
from exec_assistant.models import (
    DeliveryAttempt,
    LedgerState,
    Meeting,
    MeetingStatus,
    User,
)
from exec_assistant.notifications.service import LEASE_MARGIN_SECONDS
from exec_assistant.runtime import Runtime
from exec_assistant.workflows import calendar_monitor, recovery
from exec_assistant.workflows.prep_trigger_handler import handle_event, lambda_handler
from tests.workflows.conftest import NOW, Clock, CountingChannel, add_meeting

FIXTURE = Path(__file__).parents[1] / "fixtures" / "eventbridge-meeting-prep-required.json"


def envelope(**detail: Any) -> dict[str, Any]:
    env: dict[str, Any] = json.loads(FIXTURE.read_text())
    env["detail"].update(detail)
    return env


def key_of(meeting: Meeting) -> str:
    return f"{meeting.meeting_id}#prep"


class LambdaContext:
    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms
        self.aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def test_a_cycle_held_under_a_live_lease_is_retried_not_dropped(
    runtime: Runtime, meeting: Meeting, slack: CountingChannel, clock: Clock, caplog: Any
) -> None:
    # A worker claimed the cycle and died (OOM, timeout): its lease is still live.
    runtime.store.claim_notification(
        key_of(meeting), meeting.meeting_id, owner="dead", now=NOW, lease_seconds=65
    )
    with (
        caplog.at_level(logging.INFO, logger="exec_assistant"),
        pytest.raises(TransientError) as info,
    ):
        handle_event(envelope(), runtime)
    assert info.value.code == "busy"
    [line] = [r for r in caplog.records if r.getMessage() == "prep_trigger.retryable"]
    fields = line.fields
    assert fields["event_id"] == "6a7e8feb-b491-4cf7-a9f1-bf3703467718"
    assert (fields["meeting_id"], fields["error_code"]) == (meeting.meeting_id, "busy")
    # Lambda's first retry, about a minute later: the lease has run out, the retry delivers.
    clock.advance(timedelta(seconds=66))
    assert handle_event(envelope(), runtime).action == "notified"
    assert len(slack.sent) == 1


def test_the_lambda_deadline_bounds_the_claims_lease(
    runtime: Runtime, meeting: Meeting, monkeypatch: pytest.MonkeyPatch
) -> None:
    leases: list[Any] = []
    claim = runtime.store.claim_notification

    def spy(*args: Any, **kwargs: Any) -> Any:
        leases.append(kwargs["lease_seconds"])
        return claim(*args, **kwargs)

    monkeypatch.setattr(runtime.store, "claim_notification", spy)
    monkeypatch.setattr("exec_assistant.runtime.get_runtime", lambda: runtime)
    result = lambda_handler(envelope(), LambdaContext(remaining_ms=42_000))
    assert result["action"] == "notified"
    assert leases == [42 + LEASE_MARGIN_SECONDS]


class _DownStore:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        if name == "claim_notification":

            def down(*args: Any, **kwargs: Any) -> Any:
                raise StoreUnavailableError("DynamoDB unreachable", code="connection")

            return down
        return getattr(self.inner, name)


def test_a_store_outage_is_one_retryable_line_with_the_ids(
    runtime: Runtime, meeting: Meeting, caplog: Any
) -> None:
    runtime.store = _DownStore(runtime.store)
    runtime.notifications.store = runtime.store  # type: ignore[attr-defined]
    with (
        caplog.at_level(logging.INFO, logger="exec_assistant"),
        pytest.raises(StoreUnavailableError),
    ):
        handle_event(envelope(), runtime)
    lines = [r for r in caplog.records if r.getMessage().startswith("prep_trigger.")]
    assert [r.getMessage() for r in lines] == ["prep_trigger.retryable"]
    fields = lines[0].fields
    assert fields["event_id"] == "6a7e8feb-b491-4cf7-a9f1-bf3703467718"
    assert fields["meeting_id"] == meeting.meeting_id
    assert (fields["error_class"], fields["error_code"]) == ("transient", "connection")


HOSTILE: list[tuple[str, dict[str, Any]]] = [
    ("time before year 1 in UTC", {"time": "0001-01-01T00:00:00+05:00"}),
    ("time after year 9999 in UTC", {"time": "9999-12-31T23:59:59-05:00"}),
    ("huge reminder id", {"detail": {"reminder_id": "r" * 600}}),
    ("huge cycle", {"detail": {"cycle": "c" * 600}}),
    ("huge meeting id", {"detail": {"meeting_id": "m" * 300}}),
    ("lone surrogate", {"detail": {"meeting_id": "mtg-\ud800"}}),
    ("NUL in an id", {"detail": {"user_id": "usr\x00x"}}),
    ("huge event id", {"id": "e" * 5000}),
    ("detail not an object", {"detail": "meeting"}),
]


@pytest.mark.parametrize(("why", "change"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_input_is_rejected_and_changes_nothing(
    runtime: Runtime, meeting: Meeting, slack: CountingChannel, why: str, change: dict[str, Any]
) -> None:
    env = envelope()
    detail = change.pop("detail", None)
    env.update(change)
    if isinstance(detail, dict):
        env["detail"].update(detail)
    elif detail is not None:
        env["detail"] = detail
    result = handle_event(env, runtime)
    assert result.action == "rejected", why
    assert slack.sent == []
    assert runtime.store.get_notification(key_of(meeting)) is None
    again = runtime.store.get_meeting(meeting.meeting_id)
    assert again is not None and again.status == meeting.status


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
_ids = st.one_of(
    st.text(max_size=600),
    st.just("mtg-2026-11-25-qbr"),
    st.just("usr-7f3c"),
    st.integers(),
    st.none(),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    envelope_extra=st.dictionaries(
        st.sampled_from(["id", "time", "source", "detail-type"]), _json | st.text(max_size=40)
    ),
    detail=st.fixed_dictionaries(
        {},
        optional={
            "meeting_id": _ids,
            "user_id": _ids,
            "reminder_id": _ids,
            "cycle": _ids,
            "escalation": _json,
            "source_key": _ids,
        },
    ),
)
def test_fuzzed_events_are_handled_or_rejected_never_crashed_on(
    runtime: Runtime, meeting: Meeting, envelope_extra: dict[str, Any], detail: dict[str, Any]
) -> None:
    env = envelope()
    env.update(envelope_extra)
    env["detail"] = detail
    try:
        result = handle_event(env, runtime)
    except TransientError:
        return  # a retry may succeed: allowed
    assert result.action in {"rejected", "skipped", "notified", "duplicate", "failed"}


# --- the recovery sweep -------------------------------------------------------------------------


@pytest.fixture
def pending(runtime: Runtime, user: User) -> Meeting:
    """A meeting published (PREP_REQUIRED) whose trigger never finished."""
    return add_meeting(
        runtime,
        user,
        "mtg-pending",
        start=NOW + timedelta(hours=6),
        status=MeetingStatus.PREP_REQUIRED,
    )


def test_sweep_republishes_a_cycle_whose_worker_died_once_its_lease_expires(
    runtime: Runtime, pending: Meeting, slack: CountingChannel, clock: Clock
) -> None:
    runtime.store.claim_notification(
        key_of(pending), pending.meeting_id, owner="dead", now=NOW, lease_seconds=65
    )
    assert recovery.sweep(runtime).republished == []  # its lease is live: someone may be on it
    clock.advance(timedelta(seconds=65))
    result = calendar_monitor.run_once(runtime)
    assert result.recovery.republished == [pending.meeting_id]
    assert len(slack.sent) == 1  # the in-process bus delivered it to the trigger
    stored = runtime.store.get_meeting(pending.meeting_id)
    assert stored is not None and stored.status == MeetingStatus.PREP_SCHEDULED
    assert recovery.sweep(runtime).republished == []  # DELIVERED: never again


@pytest.mark.parametrize("state", ["missing", LedgerState.RELEASED])
def test_sweep_republishes_missing_and_released_cycles_after_the_grace(
    runtime: Runtime, pending: Meeting, slack: CountingChannel, clock: Clock, state: Any
) -> None:
    if state == LedgerState.RELEASED:
        runtime.store.claim_notification(
            key_of(pending), pending.meeting_id, owner="w", now=NOW, lease_seconds=60
        )
        runtime.store.finish_notification(
            key_of(pending), owner="w", state=LedgerState.RELEASED, delivered_channel=None, now=NOW
        )
    assert recovery.sweep(runtime).republished == []  # Lambda's own retries come first
    clock.advance(recovery.GRACE)
    assert recovery.sweep(runtime).republished == [pending.meeting_id]
    assert len(slack.sent) == 1


@pytest.mark.parametrize("final", [LedgerState.DELIVERED, LedgerState.EXHAUSTED])
def test_sweep_never_republishes_a_finished_cycle(
    runtime: Runtime, pending: Meeting, slack: CountingChannel, clock: Clock, final: LedgerState
) -> None:
    runtime.store.claim_notification(
        key_of(pending), pending.meeting_id, owner="w", now=NOW, lease_seconds=60
    )
    runtime.store.finish_notification(
        key_of(pending), owner="w", state=final, delivered_channel=None, now=NOW
    )
    clock.advance(timedelta(hours=1))
    assert recovery.sweep(runtime).republished == []
    assert slack.sent == []


def test_sweep_leaves_meetings_outside_their_prep_window(
    runtime: Runtime, user: User, slack: CountingChannel, clock: Clock
) -> None:
    later = add_meeting(
        runtime,
        user,
        "mtg-later",
        start=NOW + timedelta(days=3),
        prep_hours=24,
        status=MeetingStatus.PREP_REQUIRED,
    )
    clock.advance(timedelta(hours=1))
    assert recovery.sweep(runtime).republished == []
    assert runtime.store.get_notification(key_of(later)) is None


def test_sweep_finishes_a_cycle_whose_send_outcome_was_unknown(
    runtime: Runtime, pending: Meeting, slack: CountingChannel, sms: CountingChannel, clock: Clock
) -> None:
    # A dead worker left a STARTED attempt on a channel that cannot be asked (CountingChannel):
    # settled as unknown, never resent there; the next channel delivers.
    runtime.store.claim_notification(
        key_of(pending), pending.meeting_id, owner="dead", now=NOW, lease_seconds=60
    )
    runtime.store.record_attempt(
        key_of(pending),
        owner="dead",
        attempt=DeliveryAttempt(seq=0, channel=slack.name, owner="dead", started_at=NOW),
    )
    clock.advance(timedelta(seconds=61))
    assert recovery.sweep(runtime).republished == [pending.meeting_id]
    assert slack.sent == [] and len(sms.sent) == 1
