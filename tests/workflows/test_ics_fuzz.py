"""Hypothesis: calendar files are outside input. Whatever arrives, an import either reports or
refuses with a PermanentError (changing nothing); a re-import of the same data writes nothing."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exec_assistant.errors import PermanentError
from exec_assistant.models import User
from exec_assistant.store.sqlite import SQLiteStore
from exec_assistant.workflows.calendar_sync import ImportReport
from exec_assistant.workflows.ics_import import import_calendar

START = datetime(2026, 11, 25, tzinfo=UTC)
END = START + timedelta(days=14)
ZONE = ZoneInfo("Europe/Berlin")
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteStore]:
    store = SQLiteStore(Path(tmp_path_factory.mktemp("fuzz")) / "fuzz.db")
    store.put_user(User(user_id="usr-f", name="Fuzz", timezone="Europe/Berlin"))
    yield store
    store.close()


def _import(store: SQLiteStore, data: bytes, feed: str) -> ImportReport:
    return import_calendar(store, "usr-f", data, zone=ZONE, start=START, end=END, feed_id=feed)


@SETTINGS
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_are_reported_or_refused(store: SQLiteStore, data: bytes) -> None:
    with contextlib.suppress(PermanentError):
        _import(store, data, "feed-bytes")


_text = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=80)
_line = st.sampled_from(
    [
        "RRULE:FREQ=DAILY;COUNT=3",
        "RRULE:FREQ=WEEKLY;BYDAY=XX",
        "EXDATE:20261127T100000Z",
        "RDATE;VALUE=PERIOD:20261130T100000Z/PT1H",
        "DTEND:20261126T090000Z",
        "DURATION:PT45M",
        "STATUS:CANCELLED",
        "ATTENDEE:mailto:a@b.example",
        "X-GOOGLE-CONFERENCE:https://meet.google.com/abc-defg-hij",
        "RECURRENCE-ID:20261127T100000Z",
        "DTSTART;TZID=Nowhere/Zone:20261126T100000",
        "DTSTART;VALUE=DATE:20261126",
        "",
    ]
)


@st.composite
def calendars(draw: st.DrawFn) -> bytes:
    events = []
    for n in range(draw(st.integers(1, 4))):
        day = draw(st.integers(20, 40))
        start = START + timedelta(days=day - 25, hours=draw(st.integers(0, 23)))
        lines = [
            "BEGIN:VEVENT",
            f"UID:{draw(st.sampled_from(['a', 'b', 'c']))}-{n % 2}@fuzz",
            f"DTSTART:{start:%Y%m%dT%H%M%SZ}",
            f"SUMMARY:{draw(_text)}",
            f"DESCRIPTION:{draw(_text)}",
            f"LOCATION:{draw(_text)}",
            *draw(st.lists(_line, max_size=3)),
            "END:VEVENT",
        ]
        events.extend(lines)
    body = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//fuzz//EN", *events, "END:VCALENDAR"]
    return "\r\n".join(body).encode()


@SETTINGS
@given(calendars())
def test_structured_calendars_import_and_reimport_writes_nothing(
    store: SQLiteStore, data: bytes
) -> None:
    feed = f"feed-{abs(hash(data))}"
    try:
        first = _import(store, data, feed)
    except PermanentError:
        return
    second = _import(store, data, feed)
    assert second.created == [] and second.updated == [] and second.deleted == []
    assert second.unchanged == len(first.created) + len(first.updated)
