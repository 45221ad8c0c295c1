"""Calendar changes end to end: real ICS edits (tests/fixtures/ics/changes) imported over meetings
whose prep the monitor already notified through the real pipeline (SQLite store, local bus and
scheduler, prep trigger, Slack channel on the loopback fake): moved meetings re-time their pending
work and get their DM edited, deleted and cancelled ones lose it, and nothing is sent twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from exec_assistant.errors import PermanentError
from exec_assistant.models import MeetingSource, MeetingStatus, User, meeting_id_for
from exec_assistant.runtime import Runtime
from exec_assistant.workflows import calendar_monitor
from exec_assistant.workflows.calendar_changes import ChangeResult, apply_calendar_changes
from exec_assistant.workflows.calendar_sync import ImportReport
from exec_assistant.workflows.ics_import import import_ics
from exec_assistant.workflows.import_rules import ImportRules
from exec_assistant.workflows.reminders import meeting_schedule_prefixes, schedule_reminder
from tests.fakes.slack_api import FakeSlackAPI
from tests.workflows.conftest import Clock, CountingChannel, slack_runtime

CHANGES = Path(__file__).parents[1] / "fixtures" / "ics" / "changes"
T0 = datetime(2026, 11, 26, 16, 0, tzinfo=UTC)
#: Every meeting of the fixtures is inside its prep window at T0.
RULES = ImportRules(default_prep_hours_before=24 * 14)
USER = "usr-ada"


def mid(external_id: str) -> str:
    return meeting_id_for(USER, MeetingSource.ICS.value, external_id)


STAFF_DEC1 = mid("staff-weekly@example.com/20261201T150000Z")
STAFF_DEC8 = mid("staff-weekly@example.com/20261208T150000Z")
VENDOR = mid("vendor-call@example.com")
BOARD = mid("board-prep@example.com")


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI() as api:
        yield api


@pytest.fixture
def rt(tmp_path: Path, fake: FakeSlackAPI, sms: CountingChannel) -> Iterator[Runtime]:
    runtime = slack_runtime(tmp_path / "ea.db", fake.url, Clock(T0), sms=sms)
    runtime.store.put_user(
        User(
            user_id=USER,
            name="Ada Exec",
            slack_user_id="U0ADA",
            phone="+14155550123",
            timezone="America/New_York",
        )
    )
    yield runtime
    runtime.close()


def sync(
    runtime: Runtime, name: str | bytes, *, start: datetime | None = None
) -> tuple[ImportReport, ChangeResult]:
    source = _write(runtime, name) if isinstance(name, bytes) else CHANGES / name
    report = import_ics(
        runtime.store,
        USER,
        source,
        now=runtime.clock(),
        start=start,
        rules=RULES,
        feed_id="feed-team",
    )
    return report, apply_calendar_changes(runtime, report)


def vendor_moved_to(start: bytes, end: bytes) -> bytes:
    """team-v1.ics with the vendor call at another time."""
    return (
        (CHANGES / "team-v1.ics")
        .read_bytes()
        .replace(b"DTSTART:20261127T150000Z", b"DTSTART:" + start)
        .replace(b"DTEND:20261127T153000Z", b"DTEND:" + end)
    )


def status(runtime: Runtime, meeting_id: str) -> MeetingStatus:
    meeting = runtime.store.get_meeting(meeting_id)
    assert meeting is not None
    return meeting.status


def scheduler_names(runtime: Runtime, meeting_id: str) -> list[str]:
    return [
        i.name for p in meeting_schedule_prefixes(meeting_id) for i in runtime.scheduler.pending(p)
    ]


def notified(runtime: Runtime, fake: FakeSlackAPI) -> None:
    """Import v1 and let the monitor notify every meeting (each DM'd, escalation pending)."""
    report, _ = sync(runtime, "team-v1.ics")
    assert sorted(report.created) == sorted([STAFF_DEC1, STAFF_DEC8, VENDOR, BOARD])
    published = calendar_monitor.run_once(runtime)
    assert sorted(published.published) == sorted(report.created)
    assert len(fake.calls_to("chat.postMessage")) == 4
    for meeting_id in report.created:
        assert status(runtime, meeting_id) == MeetingStatus.PREP_SCHEDULED
        assert len(scheduler_names(runtime, meeting_id)) == 1  # the escalation check


def test_moved_and_deleted_meetings_retime_and_drop_their_work(
    rt: Runtime, fake: FakeSlackAPI, sms: CountingChannel
) -> None:
    notified(rt, fake)
    vendor = rt.store.get_meeting(VENDOR)
    user = rt.store.get_user(USER)
    assert vendor is not None and user is not None
    reminder = schedule_reminder(rt, vendor, user, datetime(2026, 11, 27, 14, 0, tzinfo=UTC))
    (board_escalation,) = scheduler_names(rt, BOARD)

    report, changes = sync(rt, "team-v2-moved.ics")

    assert {m.meeting_id: m.new_start - m.old_start for m in report.moved} == {
        STAFF_DEC1: timedelta(hours=1),  # series DTSTART moved: same meeting, re-timed
        VENDOR: timedelta(hours=3),
    }
    assert STAFF_DEC8 in report.updated  # the override keeps its identity (new RECURRENCE-ID)
    assert report.created == [] and report.deleted == [BOARD]
    assert status(rt, BOARD) == MeetingStatus.CANCELLED
    assert status(rt, STAFF_DEC1) == MeetingStatus.PREP_SCHEDULED  # prep state kept
    # the reminder keeps its lead time; the escalation (delivered + 30 min) stays put
    assert changes.rescheduled == [reminder.name]
    assert [i.fire_at for i in rt.scheduler.pending(reminder.name)] == [
        datetime(2026, 11, 27, 17, 0, tzinfo=UTC)
    ]
    assert changes.deleted == [board_escalation]
    assert scheduler_names(rt, BOARD) == []
    # three DMs edited in place, none posted
    updates = fake.calls_to("chat.update")
    assert len(updates) == 3 and len(changes.edited) == 3
    texts = sorted(str(u.params["text"]) for u in updates)
    assert texts[0].startswith("Cancelled: Board prep")
    assert "Moved: Vendor call: Acme renewal is now Fri 27 Nov, 13:00" in texts[1]
    assert "Moved: Weekly staff meeting is now Tue 1 Dec, 11:00" in texts[2]
    cancelled_blocks = next(u for u in updates if str(u.params["text"]).startswith("Cancelled"))
    assert "start_prep" not in str(cancelled_blocks.params["blocks"])  # no buttons left
    assert len(fake.calls_to("chat.postMessage")) == 4

    again, repeat = sync(rt, "team-v2-moved.ics")  # unchanged feed: nothing written or edited
    assert (again.updated, again.deleted, again.unchanged) == ([], [], 3)
    assert repeat == ChangeResult()
    assert len(fake.calls_to("chat.update")) == 3

    # later, the pending work fires: nothing at all for the deleted meeting
    rt.clock.advance(timedelta(days=1, hours=1, minutes=30))  # type: ignore[attr-defined]
    rt.scheduler.run_due()  # type: ignore[attr-defined]
    assert {n.meeting.meeting_id for n in sms.sent} == {STAFF_DEC1, STAFF_DEC8, VENDOR}
    later_posts = fake.calls_to("chat.postMessage")[4:]
    assert len(later_posts) == 1 and "Reminder" in str(later_posts[0].params["text"])  # vendor
    assert VENDOR in str(later_posts[0].params["blocks"])


def test_an_rrule_change_cancels_the_occurrences_that_no_longer_happen(
    rt: Runtime, fake: FakeSlackAPI
) -> None:
    notified(rt, fake)
    sync(rt, "team-v2-moved.ics")
    report, changes = sync(rt, "team-v3-rrule.ics")

    assert sorted(report.deleted) == sorted([STAFF_DEC1, STAFF_DEC8])
    wednesdays = [mid(f"staff-weekly@example.com/2026120{d}T160000Z") for d in (2, 9)]
    assert sorted(report.created) == sorted(wednesdays)
    assert scheduler_names(rt, STAFF_DEC1) == scheduler_names(rt, STAFF_DEC8) == []
    assert sum(1 for c in changes.edited) == 2


def test_a_meeting_moved_earlier_drops_work_that_would_come_too_late(
    rt: Runtime, fake: FakeSlackAPI
) -> None:
    notified(rt, fake)
    vendor = rt.store.get_meeting(VENDOR)
    user = rt.store.get_user(USER)
    assert vendor is not None and user is not None
    reminder = schedule_reminder(rt, vendor, user, datetime(2026, 11, 27, 14, 0, tzinfo=UTC))
    (escalation,) = [n for n in scheduler_names(rt, VENDOR) if n.startswith("esc-")]
    report, changes = sync(rt, vendor_moved_to(b"20261126T162000Z", b"20261126T165000Z"))

    assert [m.meeting_id for m in report.moved] == [VENDOR]
    assert changes.deleted == [escalation]  # 16:30 is after the new 16:20 start
    # the reminder's shifted time has passed: it fires at once instead of never
    assert changes.rescheduled == [reminder.name]
    assert [i.fire_at for i in rt.scheduler.pending(reminder.name)] == [T0 + timedelta(minutes=1)]


def test_a_meeting_moved_out_of_the_window_is_updated_not_deleted(rt: Runtime) -> None:
    sync(rt, "team-v1.ics")
    report, _ = sync(rt, vendor_moved_to(b"20270115T150000Z", b"20270115T153000Z"))
    assert report.deleted == [] and [m.meeting_id for m in report.moved] == [VENDOR]
    assert status(rt, VENDOR) == MeetingStatus.DISCOVERED


def test_a_status_cancelled_event_cancels_its_meeting_and_drops_its_work(
    rt: Runtime, fake: FakeSlackAPI
) -> None:
    notified(rt, fake)
    data = (
        (CHANGES / "team-v1.ics")
        .read_bytes()
        .replace(b"SUMMARY:Board prep\r\n", b"SUMMARY:Board prep\r\nSTATUS:CANCELLED\r\n")
    )
    report, changes = sync(rt, data)
    assert report.cancelled == [BOARD] and report.deleted == []
    assert scheduler_names(rt, BOARD) == [] and len(changes.edited) == 1


def test_a_feed_that_fails_or_a_series_that_breaks_cancels_nothing(rt: Runtime) -> None:
    sync(rt, "team-v1.ics")
    with pytest.raises(PermanentError):
        sync(rt, b"<html>503 Service Unavailable</html>")
    broken_board = (
        (CHANGES / "team-v1.ics").read_bytes().replace(b"DTSTART:20261203T190000Z\r\n", b"")
    )
    report, _ = sync(rt, broken_board)
    assert report.deleted == [] and [s.uid for s in report.skipped] == ["board-prep@example.com"]
    assert {status(rt, m) for m in (STAFF_DEC1, STAFF_DEC8, VENDOR, BOARD)} == {
        MeetingStatus.DISCOVERED
    }


def test_another_feed_or_a_range_elsewhere_cancels_nothing(rt: Runtime) -> None:
    sync(rt, "team-v1.ics")
    empty = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//EN\r\nEND:VCALENDAR\r\n"
    other = import_ics(rt.store, USER, _write(rt, empty), now=T0, feed_id="feed-personal")
    assert other.deleted == []
    later_range = import_ics(
        rt.store,
        USER,
        CHANGES / "team-v2-moved.ics",
        now=T0,
        start=T0 + timedelta(days=30),
        feed_id="feed-team",
    )
    assert later_range.deleted == []  # board prep is outside that range
    assert status(rt, BOARD) == MeetingStatus.DISCOVERED


def test_reimporting_an_unchanged_feed_writes_nothing(rt: Runtime) -> None:
    first, _ = sync(rt, "team-v1.ics")
    before = {m: rt.store.get_meeting(m) for m in first.created}
    again, _ = sync(rt, "team-v1.ics")
    assert (again.created, again.updated, again.unchanged) == ([], [], 4)
    assert {m: rt.store.get_meeting(m) for m in first.created} == before


def test_importing_a_meeting_in_the_past_warns(rt: Runtime) -> None:
    report, _ = sync(rt, "team-v1.ics", start=T0 - timedelta(days=2))
    assert report.warnings == []
    rt.clock.advance(timedelta(days=2))  # type: ignore[attr-defined]
    report = import_ics(
        rt.store,
        USER,
        CHANGES / "team-v1.ics",
        now=rt.clock(),
        start=T0,
        rules=RULES,
        feed_id="feed-new",
    )
    assert [w.split(" (")[0] for w in report.warnings] == [f"meeting {VENDOR} starts in the past"]


def _write(runtime: Runtime, data: bytes) -> Path:
    path = Path(str(runtime.settings.exec_assistant_store).removeprefix("sqlite:///") + ".ics")
    path.write_bytes(data)
    return path
