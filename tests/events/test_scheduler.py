"""Schedulers: EventBridge Scheduler through moto (what is created, and deleted) and the local
SQLite scheduler (fires once, survives a restart, idempotent, cancellable)."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from exec_assistant.errors import ConfigurationError, TransientError
from exec_assistant.events.base import BusEvent, ScheduledEvent
from exec_assistant.events.local import LocalEventBus
from exec_assistant.events.local_scheduler import LocalScheduler
from exec_assistant.events.scheduler import EventBridgeScheduler, at_expression
from exec_assistant.models import PREP_EVENT_DETAIL_TYPE, REMINDER_EVENT_SOURCE

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
ROLE = "arn:aws:iam::123456789012:role/exec-assistant-scheduler-test"
BUS_ARN = "arn:aws:events:us-east-1:123456789012:event-bus/exec-assistant-bus-test"
GROUP = "exec-assistant-test"


def _item(name: str, fire_at: datetime, **detail: Any) -> ScheduledEvent:
    return ScheduledEvent(
        name=name,
        fire_at=fire_at,
        event=BusEvent(
            source=REMINDER_EVENT_SOURCE,
            detail_type=PREP_EVENT_DETAIL_TYPE,
            detail={"meeting_id": "mtg-1", "user_id": "usr-1", **detail},
        ),
    )


# --- EventBridge Scheduler (moto) ---------------------------------------------------------


def test_at_expression_is_utc_to_the_second() -> None:
    from zoneinfo import ZoneInfo

    local = datetime(2026, 3, 8, 1, 30, 15, 999, tzinfo=ZoneInfo("America/Los_Angeles"))
    assert at_expression(local) == "at(2026-03-08T09:30:15)"
    with pytest.raises(ValueError):
        at_expression(datetime(2026, 1, 1))


def test_create_schedule_shape_and_deletion(scheduler_client: Any) -> None:
    scheduler_client.create_schedule_group(Name=GROUP)
    scheduler = EventBridgeScheduler(GROUP, ROLE, BUS_ARN, scheduler_client)
    name = "rem-" + "a" * 60  # the longest name allowed
    fire_at = datetime(2026, 11, 25, 16, 45, tzinfo=UTC)
    item = _item(name, fire_at, reminder_id="rem-1")

    scheduler.schedule(item)
    scheduler.schedule(item)  # ConflictException: idempotent no-op

    got = scheduler_client.get_schedule(Name=name, GroupName=GROUP)
    assert len(got["Name"]) <= 64
    assert got["ScheduleExpression"] == "at(2026-11-25T16:45:00)"
    assert got["ScheduleExpressionTimezone"] == "UTC"
    assert got["ActionAfterCompletion"] == "DELETE"
    assert got["FlexibleTimeWindow"] == {"Mode": "OFF"}
    target = got["Target"]
    assert target["Arn"] == BUS_ARN
    assert target["RoleArn"] == ROLE
    assert target["EventBridgeParameters"] == {
        "DetailType": PREP_EVENT_DETAIL_TYPE,
        "Source": REMINDER_EVENT_SOURCE,
    }
    assert json.loads(target["Input"]) == {
        "meeting_id": "mtg-1",
        "user_id": "usr-1",
        "reminder_id": "rem-1",
    }
    schedules = scheduler_client.list_schedules(GroupName=GROUP)["Schedules"]
    assert [s["Name"] for s in schedules] == [name]

    assert scheduler.cancel(name) is True
    assert scheduler.cancel(name) is False
    assert scheduler_client.list_schedules(GroupName=GROUP)["Schedules"] == []


def test_scheduler_errors_are_classified() -> None:
    from botocore.exceptions import ClientError

    class Throttled:
        def create_schedule(self, **_: Any) -> None:
            response: Any = {
                "Error": {"Code": "ThrottlingException", "Message": "slow"},
                "ResponseMetadata": {"HTTPStatusCode": 429},
            }
            raise ClientError(response, "CreateSchedule")

    with pytest.raises(TransientError):
        EventBridgeScheduler(GROUP, ROLE, BUS_ARN, Throttled()).schedule(_item("x", T0))


# --- local scheduler ----------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.envelopes: list[Mapping[str, Any]] = []

    def __call__(self, envelope: Mapping[str, Any]) -> None:
        self.envelopes.append(envelope)


def _local(path: Path, recorder: Recorder) -> LocalScheduler:
    bus = LocalEventBus(clock=lambda: T0)
    bus.subscribe(REMINDER_EVENT_SOURCE, PREP_EVENT_DETAIL_TYPE, recorder)
    return LocalScheduler(path, bus, clock=lambda: T0)


def test_local_scheduler_fires_due_events_once(tmp_path: Path) -> None:
    recorder = Recorder()
    scheduler = _local(tmp_path / "s.db", recorder)
    scheduler.schedule(_item("early", T0 + timedelta(minutes=5), reminder_id="r1"))
    scheduler.schedule(_item("late", T0 + timedelta(hours=2), reminder_id="r2"))
    scheduler.schedule(_item("early", T0 + timedelta(minutes=1), reminder_id="changed"))  # no-op

    assert scheduler.run_due(T0) == 0
    assert scheduler.run_due(T0 + timedelta(minutes=5)) == 1
    assert scheduler.run_due(T0 + timedelta(minutes=6)) == 0
    assert [e["detail"]["reminder_id"] for e in recorder.envelopes] == ["r1"]
    envelope = recorder.envelopes[0]
    assert envelope["source"] == REMINDER_EVENT_SOURCE
    assert envelope["detail-type"] == PREP_EVENT_DETAIL_TYPE
    assert [i.name for i in scheduler.pending()] == ["late"]
    assert scheduler.cancel("early") is False  # fired: gone, like ActionAfterCompletion=DELETE
    assert scheduler.cancel("late") is True
    assert scheduler.run_due(T0 + timedelta(days=1)) == 0
    assert len(recorder.envelopes) == 1


def test_a_due_event_survives_a_restart_and_fires_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    first = _local(path, Recorder())
    first.schedule(_item("reminder", T0 + timedelta(minutes=15), reminder_id="r1"))
    first.close()  # the process stops before the event is due

    recorder = Recorder()
    second = _local(path, recorder)
    assert second.run_due(T0 + timedelta(minutes=20)) == 1
    third = _local(path, recorder)  # another restart after firing
    assert third.run_due(T0 + timedelta(minutes=30)) == 0
    assert len(recorder.envelopes) == 1


def test_concurrent_run_due_fires_each_event_once(tmp_path: Path) -> None:
    recorder = Recorder()
    path = tmp_path / "s.db"
    schedulers = [_local(path, recorder) for _ in range(4)]
    for n in range(10):
        schedulers[0].schedule(_item(f"ev-{n}", T0, reminder_id=f"r{n}"))
    barrier = threading.Barrier(len(schedulers))
    counts: list[int] = []

    def run(s: LocalScheduler) -> None:
        barrier.wait()
        counts.append(s.run_due(T0 + timedelta(seconds=1)))

    threads = [threading.Thread(target=run, args=(s,)) for s in schedulers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sum(counts) == 10
    assert sorted(e["detail"]["reminder_id"] for e in recorder.envelopes) == sorted(
        f"r{n}" for n in range(10)
    )


def test_a_failed_publish_fires_again_after_the_lease(tmp_path: Path) -> None:
    calls: list[str] = []

    def flaky(envelope: Mapping[str, Any]) -> None:
        calls.append(envelope["id"])
        if len(calls) == 1:
            raise TransientError("store down")

    bus = LocalEventBus()
    bus.subscribe(REMINDER_EVENT_SOURCE, PREP_EVENT_DETAIL_TYPE, flaky)
    scheduler = LocalScheduler(tmp_path / "s.db", bus, lease_seconds=60)
    scheduler.schedule(_item("r", T0))

    assert scheduler.run_due(T0) == 0
    assert scheduler.run_due(T0 + timedelta(seconds=30)) == 0  # still leased
    assert scheduler.run_due(T0 + timedelta(seconds=61)) == 1
    assert scheduler.run_due(T0 + timedelta(seconds=200)) == 0
    assert len(calls) == 2


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "s.db"
    LocalScheduler(path, LocalEventBus()).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE local_scheduler_meta SET value='99' WHERE key='schema_version'")
    with pytest.raises(ConfigurationError, match="Upgrade"):
        LocalScheduler(path, LocalEventBus())


def test_shares_a_file_with_the_sqlite_store(tmp_path: Path) -> None:
    from exec_assistant.store.sqlite import SQLiteStore

    path = tmp_path / "exec-assistant.db"
    store = SQLiteStore(path)
    scheduler = LocalScheduler(path, LocalEventBus())
    scheduler.schedule(_item("r", T0))
    reopened = SQLiteStore(path)  # the store's own schema version is untouched
    assert reopened.list_users() == []
    assert [i.name for i in scheduler.pending()] == ["r"]
    for closable in (store, reopened, scheduler):
        closable.close()


def test_run_forever_stops(tmp_path: Path) -> None:
    recorder = Recorder()
    scheduler = _local(tmp_path / "s.db", recorder)
    scheduler.schedule(_item("r", T0 - timedelta(minutes=1)))
    stop = threading.Event()
    thread = threading.Thread(target=scheduler.run_forever, args=(stop, 0.01))
    thread.start()
    for _ in range(500):
        if recorder.envelopes:
            break
        stop.wait(0.01)
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert len(recorder.envelopes) == 1


# --- pending(prefix) and reschedule: both schedulers --------------------------------------


def _both(scheduler_client: Any, tmp_path: Path) -> list[Any]:
    scheduler_client.create_schedule_group(Name=GROUP)
    return [
        EventBridgeScheduler(GROUP, ROLE, BUS_ARN, scheduler_client),
        LocalScheduler(tmp_path / "sched.db", LocalEventBus(), clock=lambda: T0),
    ]


def test_pending_by_prefix_and_reschedule_on_both_schedulers(
    scheduler_client: Any, tmp_path: Path
) -> None:
    for scheduler in _both(scheduler_client, tmp_path):
        later, sooner = T0 + timedelta(hours=3), T0 + timedelta(hours=1)
        scheduler.schedule(_item("rem-aaaa-1", later, reminder_id="r1"))
        scheduler.schedule(_item("rem-aaaa-2", sooner, reminder_id="r2"))
        scheduler.schedule(_item("rem-bbbb-1", sooner, reminder_id="r3"))

        mine = scheduler.pending("rem-aaaa-")
        assert [(i.name, i.fire_at) for i in mine] == [
            ("rem-aaaa-2", sooner),
            ("rem-aaaa-1", later),
        ]
        assert mine[1].event.detail["reminder_id"] == "r1"
        assert [i.name for i in scheduler.pending("esc-")] == []

        moved = mine[1].model_copy(update={"fire_at": T0 + timedelta(minutes=30)})
        assert scheduler.reschedule(moved) is True
        assert scheduler.pending("rem-aaaa-1") == [moved]
        assert scheduler.cancel("rem-aaaa-1") is True
        # a schedule that is gone (fired or cancelled) is never resurrected by a re-plan
        assert scheduler.reschedule(moved) is False
        assert scheduler.pending("rem-aaaa-1") == []


def test_local_reschedule_leaves_a_firing_schedule_alone(tmp_path: Path) -> None:
    class Hanging:
        def publish(self, events: list[BusEvent]) -> list[str]:
            raise TransientError("bus down")

    scheduler = LocalScheduler(tmp_path / "s.db", Hanging(), clock=lambda: T0)
    item = _item("rem-x", T0)
    scheduler.schedule(item)
    assert scheduler.run_due(T0) == 0  # claimed; the failed publish keeps the claim
    assert (
        scheduler.reschedule(item.model_copy(update={"fire_at": T0 + timedelta(hours=1)})) is False
    )
    assert scheduler.pending("rem-x")[0].fire_at == T0


def test_schedules_carry_the_dead_letter_queue_when_configured(scheduler_client: Any) -> None:
    scheduler_client.create_schedule_group(Name=GROUP)
    dlq = "arn:aws:sqs:us-east-1:123456789012:exec-assistant-scheduler-dlq-test"
    EventBridgeScheduler(GROUP, ROLE, BUS_ARN, scheduler_client, dlq_arn=dlq).schedule(
        _item("rem-dlq", T0 + timedelta(hours=1))
    )
    EventBridgeScheduler(GROUP, ROLE, BUS_ARN, scheduler_client).schedule(
        _item("rem-no-dlq", T0 + timedelta(hours=1))
    )
    with_dlq = scheduler_client.get_schedule(Name="rem-dlq", GroupName=GROUP)["Target"]
    assert with_dlq["DeadLetterConfig"] == {"Arn": dlq}
    without = scheduler_client.get_schedule(Name="rem-no-dlq", GroupName=GROUP)["Target"]
    assert "Arn" not in without.get("DeadLetterConfig", {})
