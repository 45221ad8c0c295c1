"""A series that recurs like no meeting does is skipped and reported, never stored or notified."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exec_assistant.models import MeetingStatus, User
from exec_assistant.store.sqlite import SQLiteStore
from exec_assistant.workflows.ics_import import import_ics
from exec_assistant.workflows.ics_limits import MAX_PER_DAY, occurrence_limit

NOW = datetime(2026, 12, 3, tzinfo=UTC)
EVERYTHING = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "limits.db")
    store.put_user(User(user_id="usr-1", name="Ada", timezone="UTC"))
    yield store
    store.close()


def _feed(tmp_path: Path, rule: str | None, *, dtstart: str = "20261204T090000Z") -> Path:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//test//limits//EN",
        "BEGIN:VEVENT",
        "UID:series-1@example.com",
        "DTSTAMP:20261201T000000Z",
        f"DTSTART:{dtstart}",
        "DURATION:PT30M",
        *([f"RRULE:{rule}"] if rule else []),
        "SUMMARY:Standup",
        "END:VEVENT",
        "BEGIN:VEVENT",
        "UID:board@example.com",
        "DTSTAMP:20261201T000000Z",
        "DTSTART:20261205T150000Z",
        "DURATION:PT1H",
        "SUMMARY:Board meeting",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    path = tmp_path / "feed.ics"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    return path


def _titles(store: SQLiteStore) -> list[str]:
    return sorted(m.title for m in store.list_meetings_for_user("usr-1", *EVERYTHING))


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ("FREQ=MINUTELY", "more than once an hour (RRULE FREQ=MINUTELY)"),
        # a million occurrences in 14 days: refused before it is expanded
        ("FREQ=SECONDLY", "more than once an hour (RRULE FREQ=SECONDLY)"),
        ("FREQ=HOURLY;BYMINUTE=0,20,40", "BYMINUTE has several values"),
        ("FREQ=DAILY;BYHOUR=9;BYMINUTE=0;BYSECOND=0,1", "BYSECOND has several values"),
        ("FREQ=HOURLY", "between 2026-12-03 and 2026-12-17 (at most 56: 4 a day)"),
        ("FREQ=DAILY;BYHOUR=8,10,12,14,16", "too many occurrences: "),
    ],
)
def test_a_series_that_recurs_like_no_meeting_is_skipped_and_reported(
    store: SQLiteStore, tmp_path: Path, rule: str, reason: str
) -> None:
    report = import_ics(store, "usr-1", _feed(tmp_path, rule), now=NOW)
    assert [s.uid for s in report.skipped] == ["series-1@example.com"]
    assert reason in report.skipped[0].reason
    assert len(report.created) == 1  # the rest of the feed is imported
    assert _titles(store) == ["Board meeting"]


@pytest.mark.parametrize(
    ("rule", "dtstart", "count"),
    [
        (None, "20261204T090000Z", 1),
        ("FREQ=DAILY", "20261203T090000Z", 14),
        ("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "20261203T090000Z", 10),
        ("FREQ=DAILY;BYHOUR=8,11,14,17", "20261203T080000Z", 56),  # four a day: the limit
        ("FREQ=HOURLY;INTERVAL=6", "20261203T000000Z", 56),
        ("FREQ=DAILY;BYHOUR=9;BYMINUTE=30;BYSECOND=0", "20261203T093000Z", 14),
    ],
)
def test_meeting_like_series_are_imported_in_full(
    store: SQLiteStore, tmp_path: Path, rule: str | None, dtstart: str, count: int
) -> None:
    report = import_ics(store, "usr-1", _feed(tmp_path, rule, dtstart=dtstart), now=NOW)
    assert report.skipped == []
    assert len(report.created) == count + 1


def test_a_series_that_turns_minutely_keeps_its_meetings_and_adds_none(
    store: SQLiteStore, tmp_path: Path
) -> None:
    """A series that was fine, then edited into a minutely one: its stored meetings are left as
    they were (not cancelled, not multiplied) and the feed's other meetings still update."""
    first = import_ics(store, "usr-1", _feed(tmp_path, "FREQ=DAILY"), now=NOW)
    assert len(first.created) == 14  # 13 days of the series, and the board meeting
    again = import_ics(store, "usr-1", _feed(tmp_path, "FREQ=MINUTELY"), now=NOW)
    assert again.created == [] and again.deleted == [] and again.cancelled == []
    assert [s.reason for s in again.skipped] == [
        "recurs more than once an hour (RRULE FREQ=MINUTELY)"
    ]
    meetings = store.list_meetings_for_user("usr-1", *EVERYTHING)
    assert len(meetings) == 14
    assert all(m.status != MeetingStatus.CANCELLED for m in meetings)


def test_the_limit_scales_with_the_imported_range() -> None:
    assert occurrence_limit(NOW, NOW + timedelta(days=14)) == 14 * MAX_PER_DAY
    assert occurrence_limit(NOW, NOW + timedelta(hours=1)) == MAX_PER_DAY  # at least one day
    assert occurrence_limit(NOW, NOW + timedelta(days=365)) == 365 * MAX_PER_DAY


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    freq=st.sampled_from(["SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY"]),
    interval=st.integers(min_value=1, max_value=90),
    minutes=st.lists(st.integers(min_value=0, max_value=59), min_size=0, max_size=4, unique=True),
)
def test_any_rule_stores_at_most_the_limit(
    tmp_path_factory: pytest.TempPathFactory,
    freq: str,
    interval: int,
    minutes: list[int],
) -> None:
    """Whatever the rule, an import stores no more than the limit for the series, and either
    imports it or reports it skipped (never both, never silently)."""
    tmp = tmp_path_factory.mktemp("rule")
    store = SQLiteStore(tmp / "x.db")
    try:
        store.put_user(User(user_id="usr-1", name="Ada", timezone="UTC"))
        rule = f"FREQ={freq};INTERVAL={interval}"
        if minutes:
            rule += ";BYMINUTE=" + ",".join(map(str, minutes))
        report = import_ics(store, "usr-1", _feed(tmp, rule), now=NOW)
        series = [m for m in report.created if m not in _board(store)]
        assert len(series) <= occurrence_limit(NOW, NOW + timedelta(days=14))
        skipped = [s.uid for s in report.skipped]
        assert bool(series) != bool(skipped)  # imported or reported, never both or neither
        assert "board@example.com" not in skipped
    finally:
        store.close()


def _board(store: SQLiteStore) -> set[str]:
    return {
        m.meeting_id
        for m in store.list_meetings_for_user("usr-1", *EVERYTHING)
        if m.title == "Board meeting"
    }
