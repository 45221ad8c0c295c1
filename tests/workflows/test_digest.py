"""The morning digest: when it goes out (DST changes, half-hour and 45-minute offsets, quiet
hours, chosen days), what it lists, exactly once per day through the real Slack channel on the
loopback fake, the local scheduler chain and EventBridge Scheduler's recurring schedule (moto)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from exec_assistant.config import Settings
from exec_assistant.events.scheduler import EventBridgeScheduler
from exec_assistant.models import (
    Meeting,
    MeetingStatus,
    NotificationPreferences,
    QuietHours,
    User,
)
from exec_assistant.runtime import Runtime, build_runtime
from exec_assistant.store.sqlite import SQLiteStore
from exec_assistant.workflows.digest import (
    cron_expression,
    digest_schedule_name,
    next_digest_at,
    plan_digest,
    send_digest,
)
from exec_assistant.workflows.digest_blocks import compose_digest
from tests.fakes.slack_api import FakeSlackAPI
from tests.workflows.conftest import Clock, slack_runtime


def user(zone: str, **prefs: Any) -> User:
    return User(
        user_id="usr-ada",
        name="Ada",
        slack_user_id="U0ADA",
        timezone=zone,
        preferences=NotificationPreferences(**prefs),
    )


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "after", "expected"),
    [
        # New York springs forward on Sun 8 Mar 2026: Fri 07:30 EST, then Mon 07:30 EDT
        ("America/New_York", utc(2026, 3, 6, 13), utc(2026, 3, 9, 11, 30)),
        ("America/New_York", utc(2026, 3, 5, 13), utc(2026, 3, 6, 12, 30)),
        # London falls back on Sun 25 Oct 2026: Fri 07:30 BST = 06:30Z, Mon 07:30 GMT = 07:30Z
        ("Europe/London", utc(2026, 10, 22, 7), utc(2026, 10, 23, 6, 30)),
        ("Europe/London", utc(2026, 10, 23, 7), utc(2026, 10, 26, 7, 30)),
        # half-hour and 45-minute offsets
        ("Asia/Kolkata", utc(2026, 12, 1, 0), utc(2026, 12, 1, 2, 0)),  # +05:30
        ("Asia/Kathmandu", utc(2026, 12, 1, 0), utc(2026, 12, 1, 1, 45)),  # +05:45
        # Adelaide (+10:30 in summer, +09:30 in winter) across its change on Sun 5 Apr 2026
        ("Australia/Adelaide", utc(2026, 4, 2, 22), utc(2026, 4, 5, 22, 0)),
        ("Australia/Adelaide", utc(2026, 4, 1, 22), utc(2026, 4, 2, 21, 0)),
    ],
)
def test_next_digest_in_the_users_zone(zone: str, after: datetime, expected: datetime) -> None:
    assert next_digest_at(user(zone), after) == expected


def test_chosen_days_time_and_quiet_hours() -> None:
    weekend = user("Asia/Kolkata", digest_time=time(9, 0), digest_days=[6, 7])
    assert next_digest_at(weekend, utc(2026, 12, 1)) == utc(2026, 12, 5, 3, 30)  # Sat 09:00
    assert cron_expression(weekend) == "cron(0 9 ? * SAT,SUN *)"
    quiet = user(
        "Europe/London",
        digest_time=time(6, 30),
        quiet_hours=QuietHours(start=time(22, 0), end=time(7, 15)),
    )
    assert cron_expression(quiet) == "cron(15 7 ? * MON,TUE,WED,THU,FRI *)"  # after quiet hours
    off = user("UTC", digest_time=None)
    assert cron_expression(off) is None and next_digest_at(off, utc(2026, 12, 1)) is None


def meeting(n: int, start: datetime, status: MeetingStatus = MeetingStatus.DISCOVERED) -> Meeting:
    return Meeting(
        meeting_id=f"mtg-{n}",
        user_id="usr-ada",
        title=f"Meeting <{n}>",
        start_time=start,
        end_time=start + timedelta(minutes=30),
        status=status,
    )


def test_the_digest_lists_the_day_with_buttons_for_prep_still_to_do() -> None:
    ada = user("Asia/Kolkata")
    now = utc(2026, 12, 1, 2, 0)
    listed = [
        meeting(1, utc(2026, 12, 1, 4, 0)),
        meeting(2, utc(2026, 12, 1, 5, 0), MeetingStatus.PREP_COMPLETED),
        meeting(3, utc(2026, 12, 1, 6, 0), MeetingStatus.CANCELLED),
    ]
    message = compose_digest(listed, ada, now)
    assert message is not None and message.meeting_ids == ["mtg-1", "mtg-2"]
    header, first, second = message.blocks
    assert header["text"]["text"] == "Today, Tue 1 Dec: 2 meetings"
    assert first["text"]["text"] == "*09:30\u201310:00*  Meeting &lt;1&gt;\n_prep not started_"
    assert first["accessory"]["action_id"] == "start_prep"
    assert first["accessory"]["value"] == "mtg-1"
    assert "accessory" not in second and "prep done" in second["text"]["text"]
    many = compose_digest([meeting(n, utc(2026, 12, 1, 4, 0)) for n in range(60)], ada, now)
    assert many is not None and len(many.blocks) == 47  # header + 45 + "and 15 more"
    assert compose_digest([listed[2]], ada, now) is None


# --- end to end: store, Slack fake, schedulers ----------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI() as api:
        yield api


@pytest.fixture
def rt(tmp_path: Path, fake: FakeSlackAPI) -> Iterator[Runtime]:
    # Mon 30 Nov, 15:00 in New York
    runtime = slack_runtime(tmp_path / "ea.db", fake.url, Clock(utc(2026, 11, 30, 20, 0)))
    yield runtime
    runtime.close()


def test_local_digest_fires_once_a_day_and_plans_the_next(rt: Runtime, fake: FakeSlackAPI) -> None:
    ada = rt.store.put_user(user("America/New_York"))
    rt.store.upsert_meeting_calendar(meeting(1, utc(2026, 12, 1, 15, 0)))  # Tue 10:00 NY
    planned = plan_digest(rt, ada)
    assert planned == utc(2026, 12, 1, 12, 30).isoformat()  # Tue 07:30 EST
    assert plan_digest(rt, ada) == planned  # idempotent
    name = digest_schedule_name(ada.user_id)
    assert len(rt.scheduler.pending(name)) == 1

    rt.clock.now = utc(2026, 12, 1, 12, 30)  # type: ignore[attr-defined]
    assert rt.scheduler.run_due() == 1  # type: ignore[attr-defined]
    (post,) = fake.calls_to("chat.postMessage")
    assert post.params["channel"] == "U0ADA"
    assert "Today, Tue 1 Dec: 1 meeting" in str(post.params["text"])
    (pending,) = rt.scheduler.pending(name)
    assert pending.fire_at == utc(2026, 12, 2, 12, 30)  # Wednesday's is planned

    again = send_digest(rt, ada.user_id)  # a duplicate event the same day
    assert again.action == "duplicate" and len(fake.calls_to("chat.postMessage")) == 1


def test_no_digest_without_meetings_or_in_quiet_hours(rt: Runtime, fake: FakeSlackAPI) -> None:
    ada = rt.store.put_user(user("America/New_York"))
    assert send_digest(rt, ada.user_id, utc(2026, 12, 1, 12, 30)).action == "none"
    rt.store.upsert_meeting_calendar(meeting(1, utc(2026, 12, 1, 15, 0)))
    quiet = ada.model_copy(
        update={
            "preferences": ada.preferences.model_copy(
                update={"quiet_hours": QuietHours(start=time(22, 0), end=time(8, 0))}
            )
        }
    )
    rt.store.put_user(quiet)
    result = send_digest(rt, ada.user_id, utc(2026, 12, 1, 12, 30))  # 07:30: still quiet
    assert (result.action, result.reason) == ("skipped", "quiet hours")
    assert fake.calls_to("chat.postMessage") == []
    assert next_digest_at(quiet, utc(2026, 12, 1, 12, 0)) == utc(2026, 12, 1, 13, 0)  # 08:00


def test_a_failed_post_is_recorded_and_not_retried_into_a_duplicate(
    rt: Runtime, fake: FakeSlackAPI
) -> None:
    ada = rt.store.put_user(user("America/New_York"))
    rt.store.upsert_meeting_calendar(meeting(1, utc(2026, 12, 1, 15, 0)))
    fake.fail_next("chat.postMessage", error="channel_not_found")
    now = utc(2026, 12, 1, 12, 30)
    assert send_digest(rt, ada.user_id, now).action == "failed"
    assert send_digest(rt, ada.user_id, now).action == "duplicate"


@pytest.fixture
def scheduler_client() -> Iterator[Any]:
    import boto3
    from moto import mock_aws

    with mock_aws():
        yield boto3.client("scheduler", region_name="us-east-1")


def test_aws_one_recurring_schedule_per_user_in_their_zone(
    scheduler_client: Any, tmp_path: Path
) -> None:
    scheduler_client.create_schedule_group(Name="grp")
    scheduler = EventBridgeScheduler(
        "grp",
        "arn:aws:iam::123456789012:role/r",
        "arn:aws:events:us-east-1:1:event-bus/b",
        scheduler_client,
    )
    ada = user("Asia/Kathmandu", digest_time=time(7, 45))
    runtime = build_runtime(
        Settings(exec_assistant_store=f"sqlite:///{tmp_path / 'aws.db'}"),
        store=SQLiteStore(tmp_path / "aws.db"),
        scheduler=scheduler,
        channels={},
    )
    assert plan_digest(runtime, ada) == "cron(45 7 ? * MON,TUE,WED,THU,FRI *)"
    later = ada.model_copy(
        update={"preferences": ada.preferences.model_copy(update={"digest_time": time(8, 0)})}
    )
    plan_digest(runtime, later)  # updated in place, not a second schedule
    (entry,) = scheduler_client.list_schedules(GroupName="grp")["Schedules"]
    got = scheduler_client.get_schedule(Name=entry["Name"], GroupName="grp")
    assert got["ScheduleExpression"] == "cron(0 8 ? * MON,TUE,WED,THU,FRI *)"
    assert got["ScheduleExpressionTimezone"] == "Asia/Kathmandu"
    assert got["Target"]["EventBridgeParameters"] == {
        "DetailType": "MorningDigestDue",
        "Source": "exec-assistant.digest",
    }
    assert "ActionAfterCompletion" not in got or got["ActionAfterCompletion"] == "NONE"
    off = later.model_copy(
        update={"preferences": later.preferences.model_copy(update={"digest_time": None})}
    )
    assert plan_digest(runtime, off) is None
    assert scheduler_client.list_schedules(GroupName="grp")["Schedules"] == []
