"""Re-import without re-expanding unchanged series (:mod:`exec_assistant.workflows.ics_series`).

Every import here runs twice, through the real import path: into a store whose feed remembers
its series (SQLite feed store in the same file, or the DynamoDB one under moto) and into a twin
store expanding every series as before. The two must end with the same meetings and the same
report, whatever changed in the feed, in the range or in the store; the tests also check what
the user sees (created, updated, moved, cancelled, unchanged) and how many series were reused.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exec_assistant.models import Meeting, MeetingStatus, User, meeting_id_for
from exec_assistant.store.feed_series import SeriesState
from exec_assistant.store.feeds import DynamoDBFeedStore, SQLiteFeedStore
from exec_assistant.store.sqlite import SQLiteStore
from exec_assistant.workflows.calendar_sync import ImportReport
from exec_assistant.workflows.ics_import import import_calendar
from exec_assistant.workflows.import_rules import ImportRules, MeetingRule

T0 = datetime(2027, 1, 4, tzinfo=UTC)  # a Monday
WINDOW = timedelta(days=14)
ZONE = "America/New_York"
FAR = (datetime(2020, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC))


# --- feeds ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    """One VEVENT series: ``hour`` local (TZID) time, ``count`` occurrences every ``every``
    days from ``day`` days after T0; overrides move an occurrence (index → hours)."""

    uid: str
    hour: int = 9
    day: int = 0
    every: int = 1
    count: int = 10
    summary: str = "Standup"
    attendees: tuple[str, ...] = ("cfo@example.com",)
    tzid: str = ZONE
    exdates: frozenset[int] = frozenset()
    overrides: tuple[tuple[int, int], ...] = ()
    cancelled_overrides: frozenset[int] = frozenset()
    status: str = ""
    dtstamp: str = "20261201T000000Z"

    def instant(self, index: int) -> datetime:
        return T0 + timedelta(days=self.day + index * self.every, hours=self.hour)

    def stamp(self, index: int) -> str:
        return f"{self.instant(index):%Y%m%dT%H%M%S}"

    def lines(self) -> list[str]:
        tz = f";TZID={self.tzid}"
        common = [f"UID:{self.uid}", f"DTSTAMP:{self.dtstamp}", f"SUMMARY:{self.summary}"]
        common += [f"ATTENDEE;CN=Guest:mailto:{a}" for a in self.attendees]
        rule = f"RRULE:FREQ=DAILY;INTERVAL={self.every};COUNT={self.count}"
        master = ["BEGIN:VEVENT", *common, f"DTSTART{tz}:{self.stamp(0)}"]
        master += [f"DTEND{tz}:{self.stamp(0)[:9]}{self.hour:02d}3000", rule]
        master += [f"EXDATE{tz}:{self.stamp(i)}" for i in sorted(self.exdates)]
        master += [f"STATUS:{self.status}"] if self.status else []
        lines = [*master, "END:VEVENT"]
        moved = dict(self.overrides)
        for index in sorted(set(moved) | self.cancelled_overrides):
            begin = self.instant(index) + timedelta(hours=moved.get(index, 0))
            lines += ["BEGIN:VEVENT", *common, f"RECURRENCE-ID{tz}:{self.stamp(index)}"]
            lines += [f"DTSTART{tz}:{begin:%Y%m%dT%H%M%S}"]
            lines += [f"DTEND{tz}:{begin + timedelta(minutes=30):%Y%m%dT%H%M%S}"]
            lines += ["STATUS:CANCELLED"] if index in self.cancelled_overrides else []
            lines += ["END:VEVENT"]
        return lines


CUSTOM_ZONE = """BEGIN:VTIMEZONE
TZID:Custom
BEGIN:STANDARD
DTSTART:19700101T000000
TZOFFSETFROM:{offset}
TZOFFSETTO:{offset}
END:STANDARD
END:VTIMEZONE"""


def ics(*series: Series, zone_offset: str | None = None) -> bytes:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//series//EN"]
    if zone_offset is not None:
        lines += CUSTOM_ZONE.format(offset=zone_offset).splitlines()
    for s in series:
        lines += s.lines()
    return ("\r\n".join([*lines, "END:VCALENDAR"]) + "\r\n").encode()


BASE = (
    Series("daily@x", hour=9, count=20),
    Series("weekly@x", hour=14, every=7, count=6, summary="Staff 1:1"),
    Series("once@x", hour=11, day=3, count=1, summary="Board"),
)


# --- the twin -------------------------------------------------------------------------------


def _view(store: SQLiteStore) -> list[dict[str, Any]]:
    meetings = store.list_meetings_for_user("usr-1", *FAR)
    return [m.model_dump(exclude={"created_at", "updated_at"}) for m in meetings]


def _sorted(report: ImportReport) -> dict[str, Any]:
    """The report with its lists in one order (recurring-ical-events returns the occurrences of
    an override that matches no instance in no fixed order, so a full import does too)."""
    return {k: sorted(map(repr, v)) if isinstance(v, list) else v for k, v in report}


@dataclass
class Twin:
    fast: SQLiteStore
    full: SQLiteStore
    series: Any
    rules: ImportRules = field(default_factory=ImportRules)
    reused: list[int] = field(default_factory=list)

    def run(self, data: bytes, start: datetime = T0, end: datetime | None = None) -> ImportReport:
        end = end or start + WINDOW
        reports = []
        for store, series in ((self.fast, self.series), (self.full, None)):
            user = store.get_user("usr-1")
            assert user is not None
            reports.append(
                import_calendar(
                    store,
                    "usr-1",
                    data,
                    zone=user.zone,
                    start=start,
                    end=end,
                    rules=self.rules,
                    feed_id="feed-1",
                    now=start,
                    series=series,
                )
            )
        fast, full = reports
        assert _sorted(fast) == _sorted(full)
        assert _view(self.fast) == _view(self.full)
        return fast

    def both(self, action: str, meeting_id: str, **kwargs: Any) -> None:
        """Do the same local change in both stores."""
        for store in (self.fast, self.full):
            getattr(store, action)(meeting_id, **kwargs)


def _user(store: SQLiteStore) -> SQLiteStore:
    store.put_user(User(user_id="usr-1", name="Ada", timezone=ZONE))
    return store


@pytest.fixture(params=["sqlite", "dynamodb"])
def twin(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Twin]:
    fast = _user(SQLiteStore(tmp_path / "fast.db"))
    full = _user(SQLiteStore(tmp_path / "full.db"))
    if request.param == "sqlite":
        feeds: Any = SQLiteFeedStore(tmp_path / "fast.db")
        yield Twin(fast, full, feeds)
        feeds.close()
    else:
        import boto3
        from moto import mock_aws

        with mock_aws():
            client = boto3.client("dynamodb", region_name="us-east-1")
            feeds = DynamoDBFeedStore("exec-assistant-feeds-test", client)
            feeds.create_table()
            yield Twin(fast, full, feeds)
    fast.close()
    full.close()


@pytest.fixture(autouse=True)
def _count_reuse(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="exec_assistant.workflows.ics_import")


def reused(caplog: pytest.LogCaptureFixture) -> int:
    """Series the last import with a memory did not expand."""
    done = [r.fields for r in caplog.records if r.getMessage() == "ics_import.done"]  # type: ignore[attr-defined]
    return int([f for f in done if f["remembering"]][-1]["series_reused"])


def mid(external_id: str) -> str:
    return meeting_id_for("usr-1", "ics", external_id)


def local(wall: datetime) -> datetime:
    """A :meth:`Series.instant` (wall time of the series' zone) as the instant it is."""
    return wall.replace(tzinfo=ZoneInfo(ZONE))


def occurrence(uid: str, wall: datetime) -> str:
    return mid(f"{uid}/{local(wall).astimezone(UTC):%Y%m%dT%H%M%SZ}")


ONCE = occurrence("once@x", BASE[2].instant(0))


def stored(twin: Twin, meeting_id: str) -> Meeting:
    meeting = twin.fast.get_meeting(meeting_id)
    assert meeting is not None
    return meeting


# --- unchanged, first import, older stores -----------------------------------------------------


def test_first_import_then_unchanged_reimport_reuses_every_series(
    twin: Twin, caplog: pytest.LogCaptureFixture
) -> None:
    first = twin.run(ics(*BASE))
    assert len(first.created) == 14 + 2 + 1 and reused(caplog) == 0
    again = twin.run(ics(*BASE))
    assert reused(caplog) == 3
    assert (again.created, again.updated, again.deleted, again.unchanged) == ([], [], [], 17)


OLD_FEEDS_TABLE = """CREATE TABLE calendar_feeds (
    feed_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, next_check_at TEXT NOT NULL, data TEXT NOT NULL
)"""


def test_store_from_before_series_were_remembered_expands_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "old.db"
    store = _user(SQLiteStore(path))
    user = store.get_user("usr-1")
    assert user is not None
    kwargs: Any = {"zone": user.zone, "start": T0, "end": T0 + WINDOW, "feed_id": "feed-1"}
    import_calendar(store, "usr-1", ics(*BASE), **kwargs)  # an older version: no memory
    with closing(sqlite3.connect(path)) as conn, conn:  # the feed table of an older version
        conn.execute(OLD_FEEDS_TABLE)
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert "calendar_feeds" in tables and "feed_series" not in tables
    feeds = SQLiteFeedStore(path)  # creates the series table, empty
    try:
        again = import_calendar(store, "usr-1", ics(*BASE), series=feeds, **kwargs)
        assert again.unchanged == 17 and not again.created and not again.updated
        assert reused(caplog) == 0
        assert set(feeds.get_series("feed-1", ["daily@x", "weekly@x", "once@x"])) == {
            "daily@x",
            "weekly@x",
            "once@x",
        }
    finally:
        feeds.close()
        store.close()


def test_state_of_another_source_expands_the_series(
    twin: Twin, caplog: pytest.LogCaptureFixture
) -> None:
    twin.run(ics(*BASE))
    state = twin.series.get_series("feed-1", ["daily@x"])["daily@x"]
    twin.series.update_series("feed-1", [replace_state(state, source="other")], [])
    twin.run(ics(*BASE))
    assert reused(caplog) == 2


def replace_state(state: SeriesState, **changes: Any) -> SeriesState:
    return state.model_copy(update=changes)


# --- edits in the feed ---------------------------------------------------------------------


def test_a_new_dtstamp_on_every_event_changes_nothing(
    twin: Twin, caplog: pytest.LogCaptureFixture
) -> None:
    twin.run(ics(*BASE))
    report = twin.run(ics(*(replace(s, dtstamp="20270104T061500Z") for s in BASE)))
    assert reused(caplog) == 3 and report.unchanged == 17  # Google stamps each download


def test_time_moved(twin: Twin, caplog: pytest.LogCaptureFixture) -> None:
    twin.run(ics(*BASE))
    report = twin.run(ics(replace(BASE[0], hour=10), *BASE[1:]))
    assert reused(caplog) == 2
    assert len(report.moved) == 14 and report.unchanged == 3
    first = stored(twin, occurrence("daily@x", BASE[0].instant(0)))
    assert first.start_time == datetime(2027, 1, 4, 15, tzinfo=UTC)  # 10:00 New York


def test_exdate_added_cancels_that_occurrence(twin: Twin, caplog: pytest.LogCaptureFixture) -> None:
    twin.run(ics(*BASE))
    report = twin.run(ics(replace(BASE[0], exdates=frozenset({2})), *BASE[1:]))
    gone = occurrence("daily@x", BASE[0].instant(2))
    assert reused(caplog) == 2 and report.deleted == [gone]
    assert stored(twin, gone).status == MeetingStatus.CANCELLED


def test_override_added_then_removed(twin: Twin, caplog: pytest.LogCaptureFixture) -> None:
    twin.run(ics(*BASE))
    moved = replace(BASE[1], overrides=((1, 3),))
    report = twin.run(ics(BASE[0], moved, BASE[2]))
    target = occurrence("weekly@x", BASE[1].instant(1))
    assert reused(caplog) == 2 and [m.meeting_id for m in report.moved] == [target]
    assert stored(twin, target).start_time == local(BASE[1].instant(1) + timedelta(hours=3))
    back = twin.run(ics(*BASE))
    assert [m.meeting_id for m in back.moved] == [target] and reused(caplog) == 2


def test_summary_and_attendees_changed(twin: Twin, caplog: pytest.LogCaptureFixture) -> None:
    twin.run(ics(*BASE))
    edited = replace(BASE[1], summary="Staff sync", attendees=("coo@example.com",))
    report = twin.run(ics(BASE[0], edited, BASE[2]))
    assert reused(caplog) == 2 and len(report.updated) == 2 and not report.moved
    meeting = stored(twin, report.updated[0])
    assert (meeting.title, meeting.attendees) == ("Staff sync", ["coo@example.com"])


def test_cancelled_series_and_cancelled_occurrence(
    twin: Twin, caplog: pytest.LogCaptureFixture
) -> None:
    twin.run(ics(*BASE))
    report = twin.run(
        ics(
            BASE[0],
            replace(BASE[1], status="CANCELLED"),
            replace(BASE[2], cancelled_overrides=frozenset()),
        )
    )
    assert len(report.cancelled) == 2 and reused(caplog) == 2
    one = replace(BASE[0], cancelled_overrides=frozenset({4}))
    report = twin.run(ics(one, replace(BASE[1], status="CANCELLED"), BASE[2]))
    assert report.cancelled == [occurrence("daily@x", BASE[0].instant(4))]
    assert {s.reason for s in report.skipped} == {"cancelled"}
    again = twin.run(ics(one, replace(BASE[1], status="CANCELLED"), BASE[2]))
    assert len(again.skipped) == 3  # still reported each time: these series are expanded
    assert reused(caplog) == 1


def test_series_removed_from_the_feed_is_cancelled(
    twin: Twin, caplog: pytest.LogCaptureFixture
) -> None:
    twin.run(ics(*BASE))
    report = twin.run(ics(BASE[0], BASE[2]))
    assert len(report.deleted) == 2 and reused(caplog) == 2
    assert all(stored(twin, m).status == MeetingStatus.CANCELLED for m in report.deleted)
    back = twin.run(ics(*BASE))  # back in the feed: found again, still cancelled (as before)
    assert back.unchanged == 17


def test_time_zone_definition_changed(twin: Twin, caplog: pytest.LogCaptureFixture) -> None:
    custom = replace(BASE[1], tzid="Custom")
    twin.run(ics(BASE[0], custom, zone_offset="-0500"))
    assert reused(caplog) == 0
    twin.run(ics(BASE[0], custom, zone_offset="-0500"))
    assert reused(caplog) == 2
    # Every series is expanded again: the zones are part of each series' source. (What the new
    # definition then yields is icalendar's: it keeps the first definition of a TZID it saw in
    # the process, so the twin's full import and this one read the same times.)
    twin.run(ics(BASE[0], custom, zone_offset="-0600"))
    assert reused(caplog) == 0
    twin.run(ics(BASE[0], custom, zone_offset="-0600"))
    assert reused(caplog) == 2


def test_rules_changed(twin: Twin, caplog: pytest.LogCaptureFixture) -> None:
    twin.run(ics(*BASE))
    twin.rules = ImportRules(
        rules=[MeetingRule(keywords=["board"], meeting_type="board", prep_hours_before=72)]
    )
    report = twin.run(ics(*BASE))
    assert reused(caplog) == 0 and report.updated == [ONCE]
    assert stored(twin, ONCE).meeting_type == "board"


def test_owner_time_zone_changed(twin: Twin, caplog: pytest.LogCaptureFixture) -> None:
    twin.run(ics(*BASE))
    for store in (twin.fast, twin.full):
        store.put_user(User(user_id="usr-1", name="Ada", timezone="Europe/Paris"))
    report = twin.run(ics(*BASE))
    assert reused(caplog) == 0 and report.unchanged == 17  # zoned times: the same meetings


# --- the range moving ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "shift",
    [timedelta(hours=1), timedelta(hours=15), timedelta(days=1), timedelta(days=3), -WINDOW],
)
def test_range_moves(twin: Twin, shift: timedelta, caplog: pytest.LogCaptureFixture) -> None:
    twin.run(ics(*BASE))
    report = twin.run(ics(*BASE), start=T0 + shift)
    if shift == timedelta(hours=1):  # nothing enters the range: every series reused
        assert reused(caplog) == 3 and report.unchanged == 17 and not report.created
    if shift == timedelta(hours=15):  # the daily 09:00 (14:00 UTC) of Jan 18 enters
        assert report.created == [occurrence("daily@x", BASE[0].instant(14))]
        assert reused(caplog) == 2
    if shift == timedelta(days=3):  # past what was remembered: expanded, news created
        assert reused(caplog) == 0 and report.created


def test_nothing_in_range_warns_like_a_full_import(
    twin: Twin, caplog: pytest.LogCaptureFixture
) -> None:
    twin.run(ics(*BASE))
    late = T0 + timedelta(days=13, hours=12)
    twin.run(ics(*BASE), start=late, end=late + timedelta(hours=1))
    report = twin.run(ics(*BASE), start=late, end=late + timedelta(hours=1))
    assert report.warnings and "lie outside" in report.warnings[0]


# --- changes in the store -------------------------------------------------------------------


def test_meeting_cancelled_locally_stays_cancelled(
    twin: Twin, caplog: pytest.LogCaptureFixture
) -> None:
    twin.run(ics(*BASE))
    twin.both("transition_meeting", ONCE, to_status=MeetingStatus.CANCELLED, now=T0)
    report = twin.run(ics(*BASE))
    assert reused(caplog) == 3 and report.unchanged == 17
    assert stored(twin, ONCE).status == MeetingStatus.CANCELLED


def test_meeting_removed_locally_comes_back(twin: Twin, caplog: pytest.LogCaptureFixture) -> None:
    twin.run(ics(*BASE))
    twin.both("delete_meeting", ONCE)
    report = twin.run(ics(*BASE))
    assert report.created == [ONCE] and reused(caplog) == 2


def test_calendar_fields_changed_in_the_store_are_restored(
    twin: Twin, caplog: pytest.LogCaptureFixture
) -> None:
    twin.run(ics(*BASE))
    for store in (twin.fast, twin.full):
        meeting = store.get_meeting(ONCE)
        assert meeting is not None
        store.upsert_meeting_calendar(meeting.model_copy(update={"title": "Edited here"}))
    report = twin.run(ics(*BASE))
    assert report.updated == [ONCE] and reused(caplog) == 2
    assert stored(twin, ONCE).title == "Board"


# --- random edits ---------------------------------------------------------------------------

_SERIES = st.builds(
    Series,
    uid=st.sampled_from(["a@x", "b@x", "c@x"]),
    hour=st.integers(6, 20),
    day=st.integers(-2, 10),
    every=st.sampled_from([1, 2, 7]),
    count=st.integers(1, 12),
    summary=st.sampled_from(["Standup", "Board", "1:1"]),
    attendees=st.sampled_from([(), ("cfo@example.com",), ("a@example.com", "b@example.com")]),
    exdates=st.frozensets(st.integers(0, 11), max_size=2),
    overrides=st.lists(
        st.tuples(st.integers(0, 11), st.integers(-30, 30)), max_size=2, unique_by=lambda t: t[0]
    ).map(tuple),
    cancelled_overrides=st.sampled_from([frozenset(), frozenset(), frozenset(), frozenset({3})]),
    status=st.sampled_from(["", "", "", "CANCELLED"]),
    dtstamp=st.sampled_from(["20261201T000000Z", "20270104T061500Z"]),
)
_FEED = st.lists(_SERIES, min_size=1, max_size=3, unique_by=lambda s: s.uid)
_STEP = st.tuples(
    st.one_of(st.none(), st.none(), _FEED.map(list)),  # None: the feed as it was
    st.sampled_from(
        [
            timedelta(0),
            timedelta(hours=1),
            timedelta(hours=20),
            timedelta(days=2),
            -timedelta(hours=1),
        ]
    ),
    st.sampled_from([None, "cancel", "delete", "retitle"]),
    st.sampled_from([WINDOW, WINDOW, timedelta(days=3), timedelta(hours=6)]),  # the range's length
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(first=_FEED, steps=st.lists(_STEP, min_size=1, max_size=4))
def test_reimport_with_memory_equals_full_reimport(
    tmp_path_factory: pytest.TempPathFactory, first: list[Series], steps: list[Any]
) -> None:
    tmp = tmp_path_factory.mktemp("twin")
    fast, full = _user(SQLiteStore(tmp / "fast.db")), _user(SQLiteStore(tmp / "full.db"))
    feeds = SQLiteFeedStore(tmp / "fast.db")
    twin = Twin(fast, full, feeds)
    start, feed = T0, first
    try:
        for edited, shift, local, length in steps:
            start, feed = start + shift, feed if edited is None else edited
            twin.run(ics(*feed), start=start, end=start + length)
            meetings = fast.list_meetings_for_user("usr-1", start, start + length)
            if local and meetings:
                target = meetings[len(meetings) // 2].meeting_id
                if local == "cancel":
                    twin.both(
                        "transition_meeting", target, to_status=MeetingStatus.CANCELLED, now=start
                    )
                elif local == "delete":
                    twin.both("delete_meeting", target)
                else:
                    for store in (fast, full):
                        m = store.get_meeting(target)
                        assert m is not None
                        store.upsert_meeting_calendar(m.model_copy(update={"title": "Mine"}))
        twin.run(ics(*feed), start=start, end=start + steps[-1][3])  # once more unchanged
    finally:
        feeds.close()
        fast.close()
        full.close()


# --- the memory unavailable -----------------------------------------------------------------


@pytest.mark.parametrize("fault", ["read", "write"])
def test_memory_unavailable_costs_time_not_changes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, fault: str
) -> None:
    import boto3
    from botocore.exceptions import ClientError
    from moto import mock_aws

    fast = _user(SQLiteStore(tmp_path / "fast.db"))
    full = _user(SQLiteStore(tmp_path / "full.db"))
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        feeds = DynamoDBFeedStore("exec-assistant-feeds-test", client)
        feeds.create_table()
        twin = Twin(fast, full, feeds)
        twin.run(ics(*BASE))
        operation = {"read": "batch_get_item", "write": "batch_write_item"}[fault]
        real = getattr(client, operation)

        def throttled(**kwargs: Any) -> Any:
            response: Any = {
                "Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}
            }
            raise ClientError(response, operation)

        setattr(client, operation, throttled)
        edited = ics(replace(BASE[0], hour=10), *BASE[1:])
        report = twin.run(edited)  # the import goes on: same meetings, same report
        assert len(report.moved) == 14 and report.unchanged == 3
        (warning,) = [
            r.fields  # type: ignore[attr-defined]
            for r in caplog.records
            if r.getMessage() == "ics_import.series_memory_unavailable"
        ]
        assert (warning["step"], warning["error_class"]) == (fault, "transient")
        setattr(client, operation, real)
        again = twin.run(edited)
        assert again.unchanged == 17
        # not read: nothing was reused; not written: the edited series' old state is stale
        assert reused(caplog) == 2
    fast.close()
    full.close()
