"""Whole paths: Lambda entry on the cached runtime, the local bus, EventBridge (moto) into the
trigger, the real Slack channel against the fake Slack API, and the composition root's choices."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from exec_assistant.config import Settings
from exec_assistant.errors import ConfigurationError, TransientError
from exec_assistant.events.base import BusEvent, ScheduledEvent
from exec_assistant.events.eventbridge import EventBridgeBus
from exec_assistant.events.local import LocalEventBus
from exec_assistant.events.local_scheduler import LocalScheduler
from exec_assistant.events.scheduler import EventBridgeScheduler, UnavailableScheduler
from exec_assistant.models import (
    PREP_EVENT_DETAIL_TYPE,
    PREP_EVENT_SOURCE,
    Channel,
    Meeting,
    MeetingStatus,
    User,
    utcnow,
)
from exec_assistant.notifications.types import NotificationChannel
from exec_assistant.runtime import build_runtime, get_runtime, reset_runtime, uses_aws
from exec_assistant.store.sqlite import SQLiteStore
from exec_assistant.workflows import prep_trigger_handler
from exec_assistant.workflows.prep_trigger_handler import handle_event
from tests.fakes.fixtures import fake_slack  # noqa: F401 - pytest fixture
from tests.fakes.slack_api import FakeSlackAPI
from tests.workflows.conftest import NOW, Clock, CountingChannel
from tests.workflows.test_prep_trigger import envelope

ROLE = "arn:aws:iam::123456789012:role/exec-assistant-scheduler-test"
BUS = "exec-assistant-bus-test"


def _seed(store: Any, start_in: timedelta, now: Any = None) -> Meeting:
    now = now or utcnow()
    store.put_user(
        User(
            user_id="usr-7f3c",
            name="Ada Exec",
            slack_user_id="U0EXEC",
            phone="+14155550123",
            timezone="Europe/Vienna",
        )
    )
    return store.upsert_meeting_calendar(  # type: ignore[no-any-return]
        Meeting(
            meeting_id="mtg-2026-11-25-qbr",
            user_id="usr-7f3c",
            title="Q4 Business Review",
            start_time=now + start_in,
            end_time=now + start_in + timedelta(hours=1),
        )
    )


@pytest.fixture
def cached_runtime_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    db = tmp_path / "lambda.db"
    monkeypatch.setenv("EXEC_ASSISTANT_STORE", f"sqlite:///{db}")
    reset_runtime()
    yield db
    reset_runtime()


def test_lambda_handler_on_the_embedded_default(
    cached_runtime_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = SQLiteStore(cached_runtime_env)
    meeting = _seed(store, timedelta(hours=6))

    answer = prep_trigger_handler.lambda_handler(envelope(), None)
    again = prep_trigger_handler.lambda_handler(envelope(), None)

    assert answer["action"] == "notified"
    assert answer["notification"]["delivered_channel"] == "console"
    assert again["action"] == "duplicate"
    assert get_runtime() is get_runtime()
    assert capsys.readouterr().out.count("Q4 Business Review") >= 1
    stored = store.get_meeting(meeting.meeting_id)
    assert stored is not None
    assert stored.status == MeetingStatus.PREP_SCHEDULED
    store.close()


def test_a_locally_published_event_ends_in_one_delivery(
    tmp_path: Path, clock: Clock, slack: CountingChannel
) -> None:
    store = SQLiteStore(tmp_path / "e.db")
    runtime = build_runtime(
        Settings(exec_assistant_store=f"sqlite:///{tmp_path / 'e.db'}"),
        store=store,
        channels={Channel.SLACK: slack},
        clock=clock,
    )
    assert isinstance(runtime.bus, LocalEventBus)
    assert isinstance(runtime.scheduler, LocalScheduler)
    assert runtime.scheduler.path == store.path  # shares the store's file
    meeting = _seed(store, timedelta(hours=6), NOW)
    event = BusEvent(
        source=PREP_EVENT_SOURCE,
        detail_type=PREP_EVENT_DETAIL_TYPE,
        detail={"meeting_id": meeting.meeting_id, "user_id": meeting.user_id},
    )

    runtime.bus.publish([event])
    runtime.bus.publish([event])  # at-least-once delivery: a duplicate

    assert len(slack.sent) == 1
    stored = store.get_meeting(meeting.meeting_id)
    assert stored is not None
    assert stored.status == MeetingStatus.PREP_SCHEDULED
    runtime.close()


def test_an_event_put_on_eventbridge_reaches_the_trigger_and_schedules_escalation(
    tmp_path: Path, clock: Clock, slack: CountingChannel, sms: CountingChannel
) -> None:
    import boto3
    from moto import mock_aws

    with mock_aws():
        events = boto3.client("events", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        scheduler_client = boto3.client("scheduler", region_name="us-east-1")
        bus_arn = events.create_event_bus(Name=BUS)["EventBusArn"]
        scheduler_client.create_schedule_group(Name="exec-assistant-test")
        queue = sqs.create_queue(QueueName="prep")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events.put_rule(
            Name="prep",
            EventBusName=BUS,
            EventPattern=json.dumps({"detail-type": [PREP_EVENT_DETAIL_TYPE]}),
        )
        events.put_targets(Rule="prep", EventBusName=BUS, Targets=[{"Id": "q", "Arn": queue_arn}])
        store = SQLiteStore(tmp_path / "aws.db")
        channels: dict[Channel, NotificationChannel] = {Channel.SLACK: slack, Channel.SMS: sms}
        runtime = build_runtime(
            Settings(
                exec_assistant_store="dynamodb",
                event_bus_name=BUS,
                scheduler_group_name="exec-assistant-test",
                scheduler_role_arn=ROLE,
            ),
            store=store,
            channels=channels,
            clock=clock,
        )
        assert isinstance(runtime.bus, EventBridgeBus)
        assert isinstance(runtime.scheduler, EventBridgeScheduler)
        assert runtime.scheduler.target_arn == bus_arn  # derived from the bus
        meeting = _seed(store, timedelta(hours=6), NOW)
        from exec_assistant.workflows.calendar_monitor import prep_event

        runtime.bus.publish([prep_event(meeting)])
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
        delivered = [json.loads(m["Body"]) for m in messages]
        results = [handle_event(body, runtime) for body in delivered + delivered]

        assert [r.action for r in results] == ["notified", "duplicate"]
        assert len(slack.sent) == 1
        schedules = scheduler_client.list_schedules(GroupName="exec-assistant-test")["Schedules"]
        assert len(schedules) == 1
        got = scheduler_client.get_schedule(
            Name=schedules[0]["Name"], GroupName="exec-assistant-test"
        )
        assert got["ScheduleExpression"] == (
            f"at({(NOW + timedelta(minutes=30)).strftime('%Y-%m-%dT%H:%M:%S')})"
        )
        assert got["Target"]["Arn"] == bus_arn
        assert json.loads(got["Target"]["Input"])["escalation"] is True

        from exec_assistant.workflows.reminders import cancel_escalation

        cancel_escalation(runtime, meeting)
        assert scheduler_client.list_schedules(GroupName="exec-assistant-test")["Schedules"] == []
        store.close()


def test_ten_threads_one_slack_message_through_the_real_client(
    tmp_path: Path,
    clock: Clock,
    fake_slack: FakeSlackAPI,  # noqa: F811
) -> None:
    from exec_assistant.notifications.channels import build_channels

    settings = Settings(
        exec_assistant_store=f"sqlite:///{tmp_path / 's.db'}",
        slack_bot_token="xoxb-test-token",
        slack_api_url=fake_slack.url,
    )
    store = SQLiteStore(tmp_path / "s.db")
    runtime = build_runtime(settings, store=store, channels=build_channels(settings), clock=clock)
    assert set(runtime.channels) == {Channel.SLACK}
    _seed(store, timedelta(hours=6), NOW)
    barrier = threading.Barrier(10)
    actions: list[str] = []

    def deliver() -> None:
        barrier.wait()
        try:
            actions.append(handle_event(envelope(), runtime).action)
        except TransientError as exc:  # the cycle was claimed: Lambda would retry later
            actions.append(f"retry:{exc.code}")

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(actions) == 10
    assert set(actions) <= {"notified", "duplicate", "retry:busy"}
    assert actions.count("notified") == 1
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    runtime.close()


def test_runtime_selection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = SQLiteStore(tmp_path / "sel.db")
    channels: dict[Channel, NotificationChannel] = {}
    assert not uses_aws(Settings(exec_assistant_store="sqlite:////tmp/x.db"))
    assert uses_aws(Settings(exec_assistant_store="dynamodb"))
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "exec-assistant-prep-trigger-test")
    assert uses_aws(Settings())
    without_scheduler = build_runtime(Settings(), store=store, channels=channels)
    assert isinstance(without_scheduler.scheduler, UnavailableScheduler)
    assert without_scheduler.scheduler.cancel("esc-anything") is False
    item = ScheduledEvent(
        name="rem-x", fire_at=NOW, event=BusEvent(source="s", detail_type="d", detail={})
    )
    with pytest.raises(ConfigurationError, match="SCHEDULER_GROUP_NAME"):
        without_scheduler.scheduler.schedule(item)
    with pytest.raises(ConfigurationError, match="SCHEDULER_ROLE_ARN"):
        build_runtime(Settings(scheduler_group_name="g"), store=store, channels=channels)
    aws = build_runtime(
        Settings(
            scheduler_group_name="g",
            scheduler_role_arn=ROLE,
            scheduler_target_arn="arn:aws:events:us-east-1:123456789012:event-bus/b",
        ),
        store=store,
        channels=channels,
    )
    assert isinstance(aws.bus, EventBridgeBus)
    assert isinstance(aws.scheduler, EventBridgeScheduler)
    store.close()


def test_importing_the_handlers_pulls_in_no_sdk() -> None:
    code = (
        "import sys, exec_assistant.runtime, exec_assistant.workflows.prep_trigger_handler, "
        "exec_assistant.workflows.calendar_monitor, exec_assistant.workflows.reminders; "
        "print(sorted(m for m in ('boto3', 'botocore', 'slack_sdk', 'twilio', 'icalendar') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert out.strip() == "[]"


def test_background_loops_fire_reminders_and_stop(
    tmp_path: Path, clock: Clock, slack: CountingChannel
) -> None:
    store = SQLiteStore(tmp_path / "bg.db")
    settings = Settings(
        exec_assistant_store=f"sqlite:///{tmp_path / 'bg.db'}",
        calendar_monitor_interval_seconds=0.01,
    )
    runtime = build_runtime(settings, store=store, channels={Channel.SLACK: slack}, clock=clock)
    _seed(store, timedelta(hours=6), NOW)  # in its prep window: the monitor loop publishes it
    stop = threading.Event()

    threads = runtime.start_background(stop)
    for _ in range(500):
        if slack.sent:
            break
        stop.wait(0.01)
    stop.set()
    for thread in threads:
        thread.join(timeout=10)

    assert len(threads) == 3  # calendar monitor + digest planner + local scheduler
    assert not any(t.is_alive() for t in threads)
    assert len(slack.sent) == 1
    runtime.close()
