"""The Store contract for ``list_meetings_in_prep_window`` (the calendar monitor's read), on every
backend: exactly the meetings of a status whose prep window is open at ``now``
(``start - prep_hours_before <= now < start``), ordered by the window's opening, and read through
an index on that opening — the meetings still waiting for their window are never read.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from exec_assistant.models import Meeting, MeetingStatus
from exec_assistant.store.base import MAX_PREP_WINDOW, Store
from exec_assistant.store.sqlite import SQLiteStore
from tests.store.conftest import NOW, make_meeting

S = MeetingStatus
#: (meeting id, hours from NOW to the start, prep hours, status) and whether its window is open.
SEED: list[tuple[str, float, float, MeetingStatus, bool]] = [
    ("m-open-b", 10, 24, S.DISCOVERED, True),  # opened 14 h ago
    ("m-open-a", 10, 24, S.DISCOVERED, True),  # same opening: ordered by id
    ("m-open-c", 2, 3, S.DISCOVERED, True),  # opened 1 h ago
    ("m-opens-now", 5, 5, S.DISCOVERED, True),  # opens exactly at NOW: open
    ("m-longest", 1, 24 * 14, S.DISCOVERED, True),  # the longest window, open
    ("m-not-yet", 30, 24, S.DISCOVERED, False),  # opens in 6 h
    ("m-no-prep", 3, 0, S.DISCOVERED, False),  # no window at all
    ("m-started", -1, 24, S.DISCOVERED, False),  # its window closed at its start
    ("m-starts-now", 0, 24, S.DISCOVERED, False),  # start == NOW: closed
    ("m-required", 5, 24, S.PREP_REQUIRED, True),  # open, but another status
]


def _seed(store: Store) -> None:
    for meeting_id, hours, prep, status, _ in SEED:
        store.upsert_meeting_calendar(make_meeting(meeting_id, hours=hours, prep_hours_before=prep))
        if status != S.DISCOVERED:
            store.transition_meeting(meeting_id, status, now=NOW)


def _ids(meetings: list[Meeting]) -> list[str]:
    return [m.meeting_id for m in meetings]


def test_exactly_the_open_windows_of_the_status_by_opening_then_id(store: Store) -> None:
    _seed(store)
    assert _ids(store.list_meetings_in_prep_window(S.DISCOVERED, NOW)) == [
        "m-longest",  # opened 13 days 23 h ago
        "m-open-a",
        "m-open-b",
        "m-open-c",
        "m-opens-now",
    ]
    assert _ids(store.list_meetings_in_prep_window(S.PREP_REQUIRED, NOW)) == ["m-required"]
    assert _ids(store.list_meetings_in_prep_window(S.DISCOVERED, NOW, limit=2)) == [
        "m-longest",
        "m-open-a",
    ]
    assert store.list_meetings_in_prep_window(S.DISCOVERED, NOW, limit=0) == []
    expected = sorted(m for m, *_, is_open in SEED if is_open and m != "m-required")
    opened = [m for m in store.list_meetings_in_prep_window(S.DISCOVERED, NOW)]
    assert sorted(_ids(opened)) == expected
    assert all(m.in_prep_window(NOW) for m in opened)  # the model's own definition agrees


def test_only_the_open_windows_are_read(store: Store, validations: list[str]) -> None:
    for n in range(40):  # the next two weeks: every window still closed
        store.upsert_meeting_calendar(make_meeting(f"m-later-{n:02d}", hours=30 + 8 * n))
    for n in range(10):  # already over
        store.upsert_meeting_calendar(make_meeting(f"m-past-{n:02d}", hours=-2 - n))
    store.upsert_meeting_calendar(make_meeting("m-open", hours=3))
    validations.clear()

    assert _ids(store.list_meetings_in_prep_window(S.DISCOVERED, NOW)) == ["m-open"]
    assert validations == ["m-open"]  # nothing else read and validated


def test_the_index_follows_a_moved_meeting_and_a_changed_prep_time(store: Store) -> None:
    store.upsert_meeting_calendar(make_meeting("m-1", hours=30))  # opens in 6 h
    assert store.list_meetings_in_prep_window(S.DISCOVERED, NOW) == []
    store.upsert_meeting_calendar(make_meeting("m-1", hours=30, prep_hours_before=48))
    assert _ids(store.list_meetings_in_prep_window(S.DISCOVERED, NOW)) == ["m-1"]
    store.upsert_meeting_calendar(make_meeting("m-1", hours=60, prep_hours_before=48))
    assert store.list_meetings_in_prep_window(S.DISCOVERED, NOW) == []  # moved out again
    later = NOW + timedelta(hours=13)
    assert _ids(store.list_meetings_in_prep_window(S.DISCOVERED, later)) == ["m-1"]
    store.transition_meeting("m-1", S.PREP_REQUIRED, now=later)
    assert store.list_meetings_in_prep_window(S.DISCOVERED, later) == []
    assert _ids(store.list_meetings_in_prep_window(S.PREP_REQUIRED, later)) == ["m-1"]


def test_a_negative_limit_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="limit"):
        store.list_meetings_in_prep_window(S.DISCOVERED, NOW, limit=-1)


# --- SQLite: the index is what the query walks; files from before get the column ------------


def test_sqlite_walks_the_prep_window_index(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "store.db")
    try:
        conn = store._conn()
        plan = " ".join(
            row[-1]
            for row in conn.execute(
                "EXPLAIN QUERY PLAN SELECT data FROM meetings WHERE status=? AND prep_opens_at>? "
                "AND prep_opens_at<=? AND start_time>? ORDER BY prep_opens_at, meeting_id",
                ("DISCOVERED", "a", "b", "b"),
            )
        )
    finally:
        store.close()
    assert "USING INDEX meetings_status_prep_id (status=? AND prep_opens_at>? AND" in plan
    assert "TEMP B-TREE" not in plan  # no sort: the index order is the answer's


def test_a_file_from_before_gets_the_window_column_filled(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    store = SQLiteStore(path)
    store.upsert_meeting_calendar(make_meeting("m-open", hours=3))
    store.upsert_meeting_calendar(make_meeting("m-later", hours=30))
    store.close()
    with sqlite3.connect(path) as conn:  # what version 2 wrote: no column, no index
        conn.execute("DROP INDEX meetings_status_prep_id")
        conn.execute("ALTER TABLE meetings DROP COLUMN prep_opens_at")
        conn.execute("PRAGMA user_version = 2")
    conn.close()

    reopened = SQLiteStore(path)
    try:
        assert _ids(reopened.list_meetings_in_prep_window(S.DISCOVERED, NOW)) == ["m-open"]
        later = NOW + timedelta(hours=7)  # m-open has started, m-later's window has opened
        assert _ids(reopened.list_meetings_in_prep_window(S.DISCOVERED, later)) == ["m-later"]
    finally:
        reopened.close()


def test_the_bound_is_the_longest_prep_window() -> None:
    """What both stores' index reads rely on: a window open now opened less than this ago."""
    hours = MAX_PREP_WINDOW / timedelta(hours=1)
    make_meeting(prep_hours_before=hours)  # the longest a meeting may have
    with pytest.raises(ValueError, match="prep_hours_before"):
        make_meeting(prep_hours_before=hours + 0.01)
