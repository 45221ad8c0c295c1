"""The notification metrics through the real prep trigger and runtime: counted once per cycle
(a redelivered event adds nothing), per channel, with the prep-window latency; exhausted and
failed attempts; the calendar monitor's run."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from exec_assistant import runtime as runtime_module
from exec_assistant.errors import TransientError
from exec_assistant.metrics import Metric
from exec_assistant.models import AckAction, Channel, ErrorClass, Meeting, MeetingStatus, User
from exec_assistant.notifications.metered import MeteredNotificationService
from exec_assistant.runtime import Runtime
from exec_assistant.workflows import calendar_monitor
from exec_assistant.workflows.acknowledge import acknowledge
from exec_assistant.workflows.prep_trigger_handler import handle_event
from exec_assistant.workflows.recovery import GRACE
from tests.emf import Captured, emf
from tests.workflows.conftest import NOW, Clock, CountingChannel, add_meeting
from tests.workflows.test_prep_trigger import envelope

__all__ = ["emf"]


def test_the_runtime_meters_its_notification_service(runtime: Runtime) -> None:
    assert isinstance(runtime.notifications, MeteredNotificationService)


def test_a_delivery_is_counted_once_with_its_channel_and_latency(
    runtime: Runtime, meeting: Meeting, clock: Clock, emf: Captured
) -> None:
    handle_event(envelope(), runtime)
    clock.advance(timedelta(minutes=2))
    assert handle_event(envelope(), runtime).action == "duplicate"

    (delivered,) = emf.of(Metric.NOTIFICATION_DELIVERED)
    assert delivered["channel"] == "slack"
    assert delivered["meeting_id"] == meeting.meeting_id
    assert delivered["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["environment", "channel"]]
    (latency,) = emf.of(Metric.PREP_WINDOW_TO_DELIVERY)
    expected = (clock.now - timedelta(minutes=2) - meeting.prep_window_start).total_seconds()
    assert latency["PrepWindowToDelivery"] == pytest.approx(expected)
    assert latency["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] == "Seconds"
    assert emf.of(Metric.NOTIFICATION_EXHAUSTED) == []


def test_every_channel_failing_counts_one_exhausted_and_each_failed_attempt(
    runtime: Runtime,
    meeting: Meeting,
    slack: CountingChannel,
    sms: CountingChannel,
    emf: Captured,
) -> None:
    slack.fail_with = ErrorClass.PERMANENT
    sms.fail_with = ErrorClass.PERMANENT
    assert handle_event(envelope(), runtime).action == "failed"
    assert handle_event(envelope(), runtime).action == "duplicate"

    (exhausted,) = emf.of(Metric.NOTIFICATION_EXHAUSTED)
    assert exhausted["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["environment"]]
    failed = emf.of(Metric.DELIVERY_ATTEMPT_FAILED)
    assert sorted(d["channel"] for d in failed) == ["slack", "sms"]
    assert {d["error_class"] for d in failed} == {"permanent"}
    assert emf.of(Metric.NOTIFICATION_DELIVERED) == []


def test_a_transient_failure_counts_attempts_but_no_outcome_until_the_retry(
    runtime: Runtime,
    meeting: Meeting,
    slack: CountingChannel,
    sms: CountingChannel,
    emf: Captured,
) -> None:
    slack.fail_with = ErrorClass.TRANSIENT
    sms.fail_with = ErrorClass.TRANSIENT
    with pytest.raises(TransientError):
        handle_event(envelope(), runtime)
    assert emf.of(Metric.NOTIFICATION_EXHAUSTED) == []
    assert emf.of(Metric.NOTIFICATION_DELIVERED) == []
    failed = sorted(d["channel"] for d in emf.of(Metric.DELIVERY_ATTEMPT_FAILED))
    assert failed == ["slack", "sms"]
    slack.fail_with = None
    handle_event(envelope(), runtime)
    (delivered,) = emf.of(Metric.NOTIFICATION_DELIVERED)
    assert delivered["channel"] == Channel.SLACK.value
    # the retry took the released claim over with its two failures: counted once, not again
    assert len(emf.of(Metric.DELIVERY_ATTEMPT_FAILED)) == 2


def test_an_escalation_is_counted_on_the_channel_it_went_to(
    runtime: Runtime, meeting: Meeting, clock: Clock, sms: CountingChannel, emf: Captured
) -> None:
    handle_event(envelope(), runtime)
    clock.advance(timedelta(minutes=31))
    (pending,) = runtime.scheduler.pending()
    escalation: dict[str, Any] = envelope(**pending.event.detail)
    assert handle_event(escalation, runtime).action == "notified"

    (escalated,) = emf.of(Metric.ESCALATION_DELIVERED)
    assert escalated["channel"] == "sms"
    assert len(sms.sent) == 1
    # only the initial notification measures the prep window's latency
    assert len(emf.of(Metric.PREP_WINDOW_TO_DELIVERY)) == 1


def test_the_monitor_counts_a_completed_run(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, emf: Captured
) -> None:
    monkeypatch.setattr(runtime_module, "get_runtime", lambda: runtime)
    calendar_monitor.lambda_handler({}, None)
    (run,) = emf.of(Metric.CALENDAR_MONITOR_RUN)
    assert run["published"] == 0
    assert run["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["environment"]]


def test_the_monitor_counts_the_cycles_its_sweep_recovered(
    runtime: Runtime,
    user: User,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    emf: Captured,
) -> None:
    # published (PREP_REQUIRED) but never claimed: once the grace has passed, the sweep
    # republishes it
    start = NOW + timedelta(hours=6)
    add_meeting(runtime, user, "mtg-stuck", start=start, status=MeetingStatus.PREP_REQUIRED)
    clock.advance(GRACE + timedelta(minutes=1))
    monkeypatch.setattr(runtime_module, "get_runtime", lambda: runtime)
    calendar_monitor.lambda_handler({}, None)
    (recovered,) = emf.of(Metric.CYCLES_RECOVERED)
    assert recovered["CyclesRecovered"] == 1
    calendar_monitor.lambda_handler({}, None)  # delivered now: nothing more to recover
    assert len(emf.of(Metric.CYCLES_RECOVERED)) == 1
    assert len(emf.of(Metric.CALENDAR_MONITOR_RUN)) == 2


def test_an_acknowledgement_is_counted_once_per_cycle_with_its_channel(
    runtime: Runtime, meeting: Meeting, user: User, emf: Captured
) -> None:
    handle_event(envelope(), runtime)
    delivered = runtime.store.get_meeting(meeting.meeting_id)
    assert delivered is not None
    first = acknowledge(runtime, delivered, user, channel=Channel.SMS, action=AckAction.START_PREP)
    again = acknowledge(
        runtime, delivered, user, channel=Channel.SLACK, action=AckAction.REMIND_LATER
    )
    assert (first.recorded, again.recorded) == (True, False)
    (ack,) = emf.of(Metric.ACKNOWLEDGEMENT)
    assert (ack["channel"], ack["action"]) == ("sms", "start_prep")
    assert ack["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["environment", "channel"]]
