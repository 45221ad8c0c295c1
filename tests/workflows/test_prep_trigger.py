"""The prep trigger: real envelope shapes, the decision list, the error policy, exactly once."""

from __future__ import annotations

import copy
import json
import logging
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from exec_assistant.errors import StoreUnavailableError, TransientError
from exec_assistant.models import (
    Channel,
    ErrorClass,
    Meeting,
    MeetingStatus,
    NotificationStatus,
    User,
)
from exec_assistant.notifications.types import NotificationKind, NotificationOutcome
from exec_assistant.runtime import Runtime
from exec_assistant.workflows.prep_trigger_handler import TriggerResult, handle_event
from exec_assistant.workflows.reminders import escalation_reminder_id
from tests.workflows.conftest import NOW, Clock, CountingChannel, add_meeting

FIXTURE = Path(__file__).parents[1] / "fixtures" / "eventbridge-meeting-prep-required.json"


def envelope(**detail: Any) -> dict[str, Any]:
    """The real EventBridge envelope from the fixture, optionally with detail changes."""
    env: dict[str, Any] = json.loads(FIXTURE.read_text())
    env["detail"].update(detail)
    return env


def test_the_fixture_envelope_notifies_once_and_schedules_escalation(
    runtime: Runtime, meeting: Meeting, slack: CountingChannel, clock: Clock
) -> None:
    result = handle_event(envelope(), runtime)

    assert result.action == "notified"
    assert result.event_id == "6a7e8feb-b491-4cf7-a9f1-bf3703467718"
    assert result.notification is not None
    assert result.notification.outcome == NotificationOutcome.DELIVERED
    assert result.notification.delivered_channel == Channel.SLACK
    assert [n.kind for n in slack.sent] == [NotificationKind.INITIAL]
    assert slack.sent[0].key == f"{meeting.meeting_id}#prep"
    stored = runtime.store.get_meeting(meeting.meeting_id)
    assert stored is not None
    assert stored.status == MeetingStatus.PREP_SCHEDULED
    assert stored.notification_status == NotificationStatus.DELIVERED
    assert stored.notification_channel == Channel.SLACK
    assert stored.notification_cycle == "prep"
    pending = runtime.scheduler.pending()
    assert [p.name for p in pending] == [
        escalation_reminder_id(meeting.meeting_id, f"{meeting.meeting_id}#prep")
    ]
    assert pending[0].fire_at == NOW + timedelta(minutes=30)
    assert pending[0].event.detail["escalation"] is True
    assert pending[0].event.detail["reminder_id"].startswith("esc-")


def test_a_redelivered_event_does_not_notify_again(
    runtime: Runtime, meeting: Meeting, slack: CountingChannel, clock: Clock
) -> None:
    first = handle_event(envelope(), runtime)
    clock.advance(timedelta(minutes=2))
    again = handle_event(envelope(), runtime)

    assert first.action == "notified"
    assert again.action == "duplicate"
    assert len(slack.sent) == 1
    assert len(runtime.scheduler.pending()) == 1


def test_ten_threads_delivering_the_same_event_notify_once(
    runtime: Runtime, meeting: Meeting, slack: CountingChannel, sms: CountingChannel
) -> None:
    barrier = threading.Barrier(10)
    results: list[TriggerResult] = []
    errors: list[BaseException] = []

    busy: list[TransientError] = []

    def deliver() -> None:
        barrier.wait()
        try:
            results.append(handle_event(envelope(), runtime))
        except TransientError as exc:  # found the cycle claimed: Lambda would retry later
            busy.append(exc)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert {exc.code for exc in busy} <= {"busy"}
    assert len(results) + len(busy) == 10
    # Lambda's retries of the busy ones: the cycle is done by now, each is a duplicate
    results.extend(handle_event(envelope(), runtime) for _ in busy)
    assert len(slack.sent) + len(sms.sent) == 1
    assert sorted(r.action for r in results).count("notified") == 1
    assert {r.action for r in results} <= {"notified", "duplicate"}
    stored = runtime.store.get_meeting(meeting.meeting_id)
    assert stored is not None
    assert stored.status == MeetingStatus.PREP_SCHEDULED


def _bad_envelopes() -> list[tuple[str, Any]]:
    missing_meeting = envelope()
    del missing_meeting["detail"]["meeting_id"]
    empty_user = envelope(user_id="")
    wrong_type = envelope()
    wrong_type["detail-type"] = "MeetingCancelled"
    wrong_source = envelope()
    wrong_source["source"] = "someone.else"
    no_detail = envelope()
    del no_detail["detail"]
    detail_not_object = envelope()
    detail_not_object["detail"] = "mtg-2026-11-25-qbr"
    no_id = envelope()
    del no_id["id"]
    return [
        ("missing meeting_id", missing_meeting),
        ("empty user_id", empty_user),
        ("wrong detail-type", wrong_type),
        ("wrong source", wrong_source),
        ("no detail", no_detail),
        ("detail not an object", detail_not_object),
        ("no id", no_id),
        ("garbage string", "garbage"),
        ("none", None),
        ("list", [1, 2, 3]),
        ("empty", {}),
    ]


@pytest.mark.parametrize(("label", "bad"), _bad_envelopes(), ids=[b[0] for b in _bad_envelopes()])
def test_bad_input_is_rejected_and_logged_without_raising(
    runtime: Runtime,
    meeting: Meeting,
    slack: CountingChannel,
    caplog: pytest.LogCaptureFixture,
    label: str,
    bad: Any,
) -> None:
    caplog.set_level(logging.INFO, logger="exec_assistant.workflows.prep_trigger_handler")

    result = handle_event(copy.deepcopy(bad), runtime)

    assert result.action == "rejected"
    assert result.reason
    assert slack.sent == []
    records = [r for r in caplog.records if r.getMessage() == "prep_trigger.rejected"]
    assert len(records) == 1
    fields = records[0].fields  # type: ignore[attr-defined]
    expected_id = bad.get("id") if isinstance(bad, dict) else None
    assert fields["event_id"] == expected_id
    stored = runtime.store.get_meeting(meeting.meeting_id)
    assert stored is not None
    assert stored.status == MeetingStatus.DISCOVERED


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (MeetingStatus.CANCELLED, "meeting cancelled"),
        (MeetingStatus.COMPLETED, "meeting completed"),
        (MeetingStatus.PREP_IN_PROGRESS, "prep already in progress"),
        (MeetingStatus.PREP_COMPLETED, "prep already done"),
    ],
)
def test_meetings_past_the_need_for_a_nudge_are_skipped(
    runtime: Runtime,
    user: User,
    slack: CountingChannel,
    status: MeetingStatus,
    reason: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="exec_assistant.workflows.prep_trigger_handler")
    add_meeting(runtime, user, "mtg-2026-11-25-qbr", start=NOW + timedelta(hours=6), status=status)

    result = handle_event(envelope(), runtime)

    assert (result.action, result.reason) == ("skipped", reason)
    assert slack.sent == []
    logged = [r for r in caplog.records if r.getMessage() == "prep_trigger.skipped"]
    assert logged[0].fields["reason"] == reason  # type: ignore[attr-defined]


def test_a_meeting_that_has_started_is_skipped(
    runtime: Runtime, meeting: Meeting, slack: CountingChannel, clock: Clock
) -> None:
    clock.now = meeting.start_time
    result = handle_event(envelope(), runtime)
    assert (result.action, result.reason) == ("skipped", "meeting already started")
    assert slack.sent == []


def test_unknown_meeting_user_and_owner_mismatch_are_skipped(
    runtime: Runtime, user: User, slack: CountingChannel
) -> None:
    assert handle_event(envelope(meeting_id="mtg-nope"), runtime).reason == "unknown meeting"

    orphan = Meeting(
        meeting_id="mtg-orphan",
        user_id="usr-gone",
        title="Orphan",
        start_time=NOW + timedelta(hours=2),
        end_time=NOW + timedelta(hours=3),
    )
    runtime.store.upsert_meeting_calendar(orphan)
    result = handle_event(envelope(meeting_id="mtg-orphan", user_id="usr-gone"), runtime)
    assert result.reason == "unknown user"

    add_meeting(runtime, user, "mtg-2026-11-25-qbr", start=NOW + timedelta(hours=6))
    mismatch = handle_event(envelope(user_id="usr-someone-else"), runtime)
    assert mismatch.action == "skipped"
    assert mismatch.reason.startswith("user mismatch")
    assert slack.sent == []


def test_every_channel_failing_transiently_raises_for_lambda_to_retry(
    runtime: Runtime,
    meeting: Meeting,
    slack: CountingChannel,
    sms: CountingChannel,
    clock: Clock,
) -> None:
    slack.fail_with = ErrorClass.TRANSIENT
    sms.fail_with = ErrorClass.TRANSIENT

    with pytest.raises(TransientError):
        handle_event(envelope(), runtime)
    stored = runtime.store.get_meeting(meeting.meeting_id)
    assert stored is not None
    assert stored.status == MeetingStatus.DISCOVERED
    assert stored.notification_status == NotificationStatus.NONE

    slack.fail_with = sms.fail_with = None  # the outage ends; Lambda's retry arrives
    clock.advance(timedelta(minutes=1))
    retried = handle_event(envelope(), runtime)
    assert retried.action == "notified"
    assert len(slack.sent) + len(sms.sent) == 1


class DownStore:
    """A store whose every call fails as an unreachable database does."""

    def __getattr__(self, name: str) -> Any:
        def fail(*_: Any, **__: Any) -> Any:
            raise StoreUnavailableError("connection refused")

        return fail


def test_a_store_outage_raises(runtime: Runtime, slack: CountingChannel) -> None:
    store, runtime.store = runtime.store, DownStore()
    try:
        with pytest.raises(StoreUnavailableError):
            handle_event(envelope(), runtime)
    finally:
        runtime.store = store
    assert slack.sent == []


def test_every_channel_failing_permanently_is_recorded_and_returned(
    runtime: Runtime,
    meeting: Meeting,
    slack: CountingChannel,
    sms: CountingChannel,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    slack.fail_with = ErrorClass.PERMANENT
    sms.fail_with = ErrorClass.PERMANENT

    result = handle_event(envelope(), runtime)

    assert result.action == "failed"
    assert result.notification is not None
    assert result.notification.outcome == NotificationOutcome.EXHAUSTED
    stored = runtime.store.get_meeting(meeting.meeting_id)
    assert stored is not None
    assert stored.notification_status == NotificationStatus.FAILED
    assert any(
        r.levelno == logging.ERROR and r.getMessage() == "prep_trigger.failed"
        for r in caplog.records
    )
    slack.fail_with = sms.fail_with = None
    assert handle_event(envelope(), runtime).action == "duplicate"
    assert slack.sent == sms.sent == []


def test_a_new_cycle_notifies_again(
    runtime: Runtime, meeting: Meeting, slack: CountingChannel
) -> None:
    assert handle_event(envelope(), runtime).action == "notified"
    assert handle_event(envelope(cycle="replay-1"), runtime).action == "notified"
    assert handle_event(envelope(cycle="replay-1"), runtime).action == "duplicate"
    assert [n.key for n in slack.sent] == [
        f"{meeting.meeting_id}#prep",
        f"{meeting.meeting_id}#prep:replay-1",
    ]


def test_with_nothing_to_escalate_to_the_status_moves_with_the_notification_fields(
    runtime: Runtime,
    meeting: Meeting,
    slack: CountingChannel,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    del runtime.channels[Channel.SMS]  # only Slack configured: no escalation target
    moves: list[object] = []
    real = runtime.store.transition_meeting

    def transition(*args: Any, **kwargs: Any) -> bool:
        moves.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(runtime.store, "transition_meeting", transition)

    assert handle_event(envelope(), runtime).action == "notified"
    stored = runtime.store.get_meeting(meeting.meeting_id)
    assert stored is not None
    assert (stored.status, stored.notification_cycle) == (MeetingStatus.PREP_SCHEDULED, "prep")
    assert stored.notification_status == NotificationStatus.DELIVERED
    assert moves == []  # one write did both
    assert runtime.scheduler.pending() == []

    clock.advance(timedelta(minutes=10))  # a reminder cycle: already PREP_SCHEDULED, stays
    assert handle_event(envelope(reminder_id="r1"), runtime).action == "notified"
    stored = runtime.store.get_meeting(meeting.meeting_id)
    assert stored is not None
    assert (stored.status, stored.notification_cycle) == (
        MeetingStatus.PREP_SCHEDULED,
        "reminder:r1",
    )
    assert len(slack.sent) == 2


def _info_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, dict[str, Any]]]:
    return [
        (r.getMessage(), getattr(r, "fields", {}))
        for r in caplog.records
        if r.levelno >= logging.INFO and r.name.startswith("exec_assistant")
    ]


def test_a_delivered_event_logs_one_line_its_decision_with_the_delivery(
    runtime: Runtime,
    meeting: Meeting,
    slack: CountingChannel,
    caplog: pytest.LogCaptureFixture,
) -> None:
    del runtime.channels[Channel.SMS]  # nothing to escalate to: no escalation.* line either
    caplog.set_level(logging.INFO, logger="exec_assistant")

    handle_event(envelope(), runtime)

    lines = _info_lines(caplog)
    assert [event for event, _ in lines] == ["prep_trigger.notified"]  # one INFO line per event
    decision = lines[0][1]
    key = f"{meeting.meeting_id}#prep"
    # what notification.delivered said (the service leaves it to the decision line)
    assert (decision["channel"], decision["attempt"]) == (Channel.SLACK, 0)
    assert (decision["attempts"], decision["failures"]) == (1, [])
    assert decision["event_id"] == "6a7e8feb-b491-4cf7-a9f1-bf3703467718"
    assert (decision["meeting_id"], decision["key"]) == (meeting.meeting_id, key)
    assert (decision["reason"], decision["outcome"]) == ("delivered via slack", "delivered")
    assert decision["escalation"] == (
        "none: no configured channel after the first that the user can be reached on"
    )


def test_with_an_escalation_target_its_scheduling_is_logged_on_its_own_line(
    runtime: Runtime, meeting: Meeting, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="exec_assistant")

    handle_event(envelope(), runtime)

    lines = _info_lines(caplog)
    assert [event for event, _ in lines] == [
        "scheduler.created",
        "escalation.scheduled",
        "prep_trigger.notified",
    ]
    assert "escalation" not in lines[-1][1]


def _count_store_calls(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the store methods called from now on, in order."""
    calls: list[str] = []
    store = runtime.store
    for name in dir(store):
        method = getattr(store, name)
        if name.startswith("_") or not callable(method):
            continue

        def counted(*args: Any, _name: str = name, _method: Any = method, **kwargs: Any) -> Any:
            calls.append(_name)
            return _method(*args, **kwargs)

        monkeypatch.setattr(store, name, counted)
    return calls


def test_a_redelivered_event_reads_its_ledger_record_and_nothing_else(
    runtime: Runtime,
    meeting: Meeting,
    slack: CountingChannel,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert handle_event(envelope(), runtime).action == "notified"
    record = runtime.store.get_notification(f"{meeting.meeting_id}#prep")
    assert record is not None and record.meeting_recorded_at is not None  # steps marked done
    calls = _count_store_calls(runtime, monkeypatch)
    caplog.clear()
    caplog.set_level(logging.INFO, logger="exec_assistant")
    clock.advance(timedelta(minutes=2))

    again = handle_event(envelope(), runtime)

    assert (again.action, again.reason) == ("duplicate", "cycle already delivered")
    assert again.notification is not None and again.notification.duplicate
    assert calls == ["get_notification"]  # one consistent read: no meeting, no user, no claim
    assert [event for event, _ in _info_lines(caplog)] == ["prep_trigger.duplicate"]
    assert len(slack.sent) == 1


def test_a_first_delivery_reads_the_ledger_then_meeting_and_user_in_one_call(
    runtime: Runtime, meeting: Meeting, slack: CountingChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    del runtime.channels[Channel.SMS]  # no escalation target: the meeting rides on the finish
    calls = _count_store_calls(runtime, monkeypatch)

    assert handle_event(envelope(), runtime).action == "notified"

    assert calls == [
        "get_notification",
        "get_meeting_and_user",
        "claim_notification",
        "record_attempt",
        "finish_notification",  # with the meeting's fields, its status move and the mark
    ]
    stored = runtime.store.get_meeting(meeting.meeting_id)
    assert stored is not None
    assert (stored.status, stored.notification_cycle) == (MeetingStatus.PREP_SCHEDULED, "prep")
    assert (stored.notification_status, stored.notification_channel) == (
        NotificationStatus.DELIVERED,
        Channel.SLACK,
    )
    record = runtime.store.get_notification(f"{meeting.meeting_id}#prep")
    assert record is not None and record.meeting_recorded_at == stored.notified_at


def test_with_an_escalation_target_the_meeting_is_written_after_the_finish(
    runtime: Runtime, meeting: Meeting, slack: CountingChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_store_calls(runtime, monkeypatch)

    assert handle_event(envelope(), runtime).action == "notified"

    # the status first, for the escalation plan (which reads what it needs); the fields last
    assert calls[4:6] == ["finish_notification", "transition_meeting"]
    assert calls[-1] == "record_meeting_notification"


def test_a_redelivery_after_a_crash_before_the_mark_redoes_the_steps_after_the_delivery(
    runtime: Runtime,
    meeting: Meeting,
    slack: CountingChannel,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # With an escalation target (SMS) the meeting's fields are written after the finish.
    def crash(*args: Any, **kwargs: Any) -> bool:
        raise StoreUnavailableError("the process died before the meeting's write")

    with monkeypatch.context() as patch:
        patch.setattr(runtime.store, "record_meeting_notification", crash)
        with pytest.raises(StoreUnavailableError):
            handle_event(envelope(), runtime)
    stored = runtime.store.get_meeting(meeting.meeting_id)
    assert stored is not None and stored.notification_cycle is None
    record = runtime.store.get_notification(f"{meeting.meeting_id}#prep")
    assert record is not None and record.final and record.meeting_recorded_at is None
    clock.advance(timedelta(minutes=1))

    calls = _count_store_calls(runtime, monkeypatch)
    again = handle_event(envelope(), runtime)

    assert again.action == "duplicate"  # delivered once; its steps done now
    assert len(slack.sent) == 1
    assert calls[0] == "get_notification" and "record_meeting_notification" in calls
    stored = runtime.store.get_meeting(meeting.meeting_id)
    assert stored is not None
    assert (stored.status, stored.notification_cycle) == (MeetingStatus.PREP_SCHEDULED, "prep")
    record = runtime.store.get_notification(f"{meeting.meeting_id}#prep")
    assert record is not None and record.meeting_recorded_at is not None


def test_a_redelivered_event_of_an_exhausted_cycle_reads_its_ledger_record_only(
    runtime: Runtime,
    meeting: Meeting,
    slack: CountingChannel,
    sms: CountingChannel,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slack.fail_with = sms.fail_with = ErrorClass.PERMANENT
    assert handle_event(envelope(), runtime).action == "failed"
    calls = _count_store_calls(runtime, monkeypatch)

    again = handle_event(envelope(), runtime)

    assert (again.action, again.reason) == ("duplicate", "cycle already exhausted")
    assert calls == ["get_notification"]
