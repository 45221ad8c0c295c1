"""Calendar monitor: the prep window, once per meeting across runs, publish-then-transition."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from exec_assistant.errors import TransientError
from exec_assistant.events.base import BusEvent
from exec_assistant.models import Meeting, MeetingStatus, User
from exec_assistant.runtime import Runtime
from exec_assistant.workflows import calendar_monitor
from exec_assistant.workflows.calendar_monitor import run_once
from tests.workflows.conftest import NOW, Clock, CountingChannel, add_meeting


class RecordingBus:
    """Records what is published; fails the first ``failures`` publishes."""

    def __init__(self, failures: int = 0) -> None:
        self.events: list[BusEvent] = []
        self.failures = failures

    def publish(self, events: list[BusEvent]) -> list[str]:
        if self.failures:
            self.failures -= 1
            raise TransientError("bus down")
        self.events.extend(events)
        return [str(len(self.events))]


def _status(runtime: Runtime, meeting_id: str) -> MeetingStatus:
    meeting = runtime.store.get_meeting(meeting_id)
    assert meeting is not None
    return meeting.status


def test_only_meetings_whose_window_opened_are_published_once(runtime: Runtime, user: User) -> None:
    bus = RecordingBus()
    runtime.bus = bus
    add_meeting(runtime, user, "in-window", start=NOW + timedelta(hours=6))
    add_meeting(runtime, user, "edge", start=NOW + timedelta(hours=2), prep_hours=2)
    add_meeting(runtime, user, "later", start=NOW + timedelta(days=3))
    add_meeting(runtime, user, "long-prep", start=NOW + timedelta(days=5), prep_hours=24 * 6)
    add_meeting(runtime, user, "started", start=NOW - timedelta(minutes=5))
    add_meeting(
        runtime, user, "cancelled", start=NOW + timedelta(hours=1), status=MeetingStatus.CANCELLED
    )

    first = run_once(runtime, NOW)
    second = run_once(runtime, NOW + timedelta(minutes=1))

    assert sorted(first.published) == ["edge", "in-window", "long-prep"]
    assert second.published == []
    assert sorted(e.detail["meeting_id"] for e in bus.events) == ["edge", "in-window", "long-prep"]
    event = next(e for e in bus.events if e.detail["meeting_id"] == "in-window")
    assert event.source == "exec-assistant.calendar-monitor"
    assert event.detail_type == "MeetingPrepRequired"
    assert event.detail["user_id"] == user.user_id
    assert _status(runtime, "in-window") == MeetingStatus.PREP_REQUIRED
    assert _status(runtime, "later") == MeetingStatus.DISCOVERED

    later = run_once(runtime, NOW + timedelta(days=2))
    assert later.published == ["later"]


def test_a_failed_publish_leaves_the_meeting_for_the_next_run(runtime: Runtime, user: User) -> None:
    bus = RecordingBus(failures=1)
    runtime.bus = bus
    add_meeting(runtime, user, "m1", start=NOW + timedelta(hours=6))

    failed = run_once(runtime, NOW)
    assert failed.failed == ["m1"]
    assert _status(runtime, "m1") == MeetingStatus.DISCOVERED

    retried = run_once(runtime, NOW + timedelta(minutes=1))
    assert retried.published == ["m1"]
    assert len(bus.events) == 1


def test_end_to_end_on_the_local_bus_concurrent_monitors_notify_once(
    runtime: Runtime, user: User, slack: CountingChannel, sms: CountingChannel
) -> None:
    add_meeting(runtime, user, "m1", start=NOW + timedelta(hours=6))
    add_meeting(runtime, user, "m2", start=NOW + timedelta(hours=8))
    barrier = threading.Barrier(4)

    def monitor() -> None:
        barrier.wait()
        run_once(runtime, NOW)

    threads = [threading.Thread(target=monitor) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run_once(runtime, NOW + timedelta(minutes=1))

    assert sorted(n.meeting.meeting_id for n in slack.sent) == ["m1", "m2"]
    assert sms.sent == []
    assert _status(runtime, "m1") == MeetingStatus.PREP_SCHEDULED
    assert _status(runtime, "m2") == MeetingStatus.PREP_SCHEDULED


def test_a_transient_trigger_failure_locally_is_retried_by_the_next_run(
    runtime: Runtime, user: User, slack: CountingChannel, sms: CountingChannel, clock: Clock
) -> None:
    from exec_assistant.models import ErrorClass

    add_meeting(runtime, user, "m1", start=NOW + timedelta(hours=6))
    slack.fail_with = sms.fail_with = ErrorClass.TRANSIENT

    assert run_once(runtime, NOW).failed == ["m1"]
    assert _status(runtime, "m1") == MeetingStatus.DISCOVERED

    slack.fail_with = sms.fail_with = None
    clock.advance(timedelta(minutes=1))
    assert run_once(runtime).published == ["m1"]
    assert len(slack.sent) == 1


def test_run_forever_runs_until_stopped(runtime: Runtime, user: User) -> None:
    bus = RecordingBus()
    runtime.bus = bus
    add_meeting(runtime, user, "m1", start=NOW + timedelta(hours=6))
    stop = threading.Event()
    thread = threading.Thread(target=calendar_monitor.run_forever, args=(runtime, stop, 0.01))
    thread.start()
    for _ in range(500):
        if bus.events:
            break
        stop.wait(0.01)
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert len(bus.events) == 1


def test_a_pass_reads_only_the_meetings_whose_window_is_open(
    runtime: Runtime, user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime.bus = RecordingBus()
    for n in range(60):  # the next 14 days, windows still closed
        add_meeting(runtime, user, f"later-{n:02d}", start=NOW + timedelta(hours=30 + 5 * n))
    add_meeting(runtime, user, "open", start=NOW + timedelta(hours=6))
    read: list[str] = []
    by_json = Meeting.model_validate_json

    def counted(data: Any, *args: Any, **kwargs: Any) -> Meeting:
        meeting = by_json(data, *args, **kwargs)
        read.append(meeting.meeting_id)
        return meeting

    monkeypatch.setattr(Meeting, "model_validate_json", counted)

    result = run_once(runtime, NOW)

    assert (result.published, result.checked) == (["open"], 1)
    # the DISCOVERED read, the status move's own read, the sweep's PREP_REQUIRED read
    assert set(read) == {"open"}
    assert len(read) <= 3
