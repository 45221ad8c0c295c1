"""ICS import: real-world exports (icalendar's test files, Google- and Exchange-style feeds),
recurrence with EXDATE/RDATE/moved occurrences, time zones (incl. Windows names), skips,
re-import, rules, and the file/https sources."""

from __future__ import annotations

import http.server
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from exec_assistant.errors import NotFoundError, PermanentError, TransientError
from exec_assistant.models import (
    MeetingSource,
    MeetingStatus,
    NotificationStatus,
    User,
    meeting_id_for,
)
from exec_assistant.store.sqlite import SQLiteStore
from exec_assistant.workflows.calendar_sync import ImportReport
from exec_assistant.workflows.ics_import import import_calendar, import_ics
from exec_assistant.workflows.import_rules import ImportRules, MeetingRule
from tests.fakes.tls import https_server

ICS = Path(__file__).parents[1] / "fixtures" / "ics"
NOV29 = datetime(2026, 11, 29, tzinfo=UTC)
GOOGLE_UID = "7kq2v9c4b1l3m5n6p8r0s2t4u6@google.com"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "ics.db")
    store.put_user(User(user_id="usr-1", name="Ada", timezone="America/New_York"))
    yield store
    store.close()


def _starts(store: SQLiteStore, report: ImportReport) -> dict[str, list[datetime]]:
    by_title: dict[str, list[datetime]] = {}
    for meeting_id in report.created + report.updated:
        meeting = store.get_meeting(meeting_id)
        assert meeting is not None
        by_title.setdefault(meeting.title, []).append(meeting.start_time)
    return {title: sorted(starts) for title, starts in by_title.items()}


def _utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def test_google_export_recurrence_timezones_and_skips(store: SQLiteStore) -> None:
    report = import_ics(store, "usr-1", ICS / "google-calendar.ics", now=NOV29)

    starts = _starts(store, report)
    # Weekly Mon/Wed 09:00 New York: Dec 2 is an EXDATE, Dec 5 10:00 an RDATE, Dec 9 moved.
    assert starts["Staff 1:1"] == [
        _utc(2026, 11, 30, 14),
        _utc(2026, 12, 5, 15),
        _utc(2026, 12, 7, 14),
    ]
    assert starts["Staff 1:1 (moved)"] == [_utc(2026, 12, 9, 16)]
    assert starts["Q4 Board Meeting"] == [_utc(2026, 12, 1, 15)]
    assert starts["Floating time lunch"] == [_utc(2026, 12, 4, 19)]  # X-WR-TIMEZONE applied
    skipped = {s.uid: s.reason for s in report.skipped}
    assert skipped["allday01@google.com"] == "all-day event"
    assert skipped["cancelled01@google.com"] == "cancelled"
    assert skipped["broken01@google.com"].startswith("malformed DTSTART")
    assert len(report.skipped) == 3

    moved_id = meeting_id_for("usr-1", "ics", f"{GOOGLE_UID}/20261209T140000Z")
    moved = store.get_meeting(moved_id)  # keyed by its original instant, so a move is an update
    assert moved is not None
    assert moved.source == MeetingSource.ICS
    board = store.get_meeting(meeting_id_for("usr-1", "ics", "0a1b2c3d4e5f6g7h8i9j@google.com"))
    assert board is not None
    assert board.organizer == "chair@example.com"
    assert len(board.attendees) == 6
    assert board.location == "https://meet.google.com/abc-defg-hij"
    assert board.status == MeetingStatus.DISCOVERED


def test_outlook_exchange_windows_time_zones(store: SQLiteStore) -> None:
    report = import_ics(store, "usr-1", ICS / "outlook-exchange.ics", now=NOV29)

    starts = _starts(store, report)
    # "Pacific Standard Time" from the file's VTIMEZONE: 09:00 PST = 17:00 UTC.
    assert starts["Leadership Sync"] == [_utc(2026, 12, 1, 17), _utc(2026, 12, 8, 17)]
    # "W. Europe Standard Time" without a VTIMEZONE: mapped to Europe/Berlin, 17:00 CET.
    assert starts["Investor call"] == [_utc(2026, 12, 2, 16)]
    assert report.skipped == []
    sync = store.get_meeting(report.created[0])
    assert sync is not None
    assert sync.external_id is not None
    assert sync.external_id.startswith("040000008200E00074C5B7101A82E008")  # folded UID joined
    assert sync.description.startswith("Quarterly review")


def test_icalendar_fixture_exdates_on_separate_lines(store: SQLiteStore) -> None:
    report = import_ics(
        store,
        "usr-1",
        ICS / "event_with_recurrence_exdates_on_different_lines.ics",
        now=_utc(2012, 3, 1),
        window=timedelta(days=130),
    )
    starts = _starts(store, report)["A Recurring event with multiple exdates, one per line."]
    vienna = ZoneInfo("Europe/Vienna")
    local_days = [s.astimezone(vienna).date().isoformat() for s in starts]
    assert local_days == [
        "2012-03-27",
        "2012-04-24",
        "2012-05-08",
        "2012-05-15",
        "2012-05-22",
        "2012-06-05",
        "2012-06-12",
        "2012-06-19",
        "2012-06-26",
        "2012-07-03",
    ]
    assert all(s.astimezone(vienna).hour == 10 for s in starts)


def test_icalendar_fixture_rdate_with_a_windows_tzid(store: SQLiteStore) -> None:
    report = import_ics(
        store,
        "usr-1",
        ICS / "issue_156_RDATE_with_PERIOD_TZID_khal.ics",
        now=_utc(2018, 3, 1),
        window=timedelta(days=150),
    )
    starts = _starts(store, report)["Event"]
    assert _utc(2018, 3, 27, 13) in starts  # 08:00 in Chicago (CDT)
    assert all(s.hour == 13 for s in starts)


def test_icalendar_fixtures_timezoned_rrule_and_all_day(store: SQLiteStore) -> None:
    vienna = import_ics(store, "usr-1", ICS / "timezoned.ics", now=_utc(2012, 2, 1))
    assert _starts(store, vienna)["artsprint 2012"] == [_utc(2012, 2, 13, 9)]

    daily = import_ics(
        store, "usr-1", ICS / "issue_1081_event_with_rrule.ics", now=_utc(2025, 1, 1)
    )
    meetings = [store.get_meeting(m) for m in daily.created]
    assert len(meetings) == 10
    assert all(
        m is not None and m.end_time - m.start_time == timedelta(minutes=30) for m in meetings
    )

    holidays = import_ics(
        store, "usr-1", ICS / "example.ics", now=_utc(2022, 1, 1), window=timedelta(days=90)
    )
    assert holidays.created == []
    assert [s.reason for s in holidays.skipped] == ["all-day event"] * 3


def test_reimport_updates_calendar_fields_and_keeps_workflow_state(store: SQLiteStore) -> None:
    data = (ICS / "google-calendar.ics").read_bytes()
    zone = ZoneInfo("America/New_York")
    end = NOV29 + timedelta(days=14)
    first = import_calendar(store, "usr-1", data, zone=zone, start=NOV29, end=end)
    board_id = meeting_id_for("usr-1", "ics", "0a1b2c3d4e5f6g7h8i9j@google.com")
    assert store.transition_meeting(board_id, MeetingStatus.PREP_SCHEDULED, now=NOV29)
    store.record_meeting_notification(
        board_id, status=NotificationStatus.DELIVERED, channel=None, cycle="prep", at=NOV29
    )

    changed = data.replace(b"SUMMARY:Q4 Board Meeting", b"SUMMARY:Q4 Board Meeting (final)")
    second = import_calendar(store, "usr-1", changed, zone=zone, start=NOV29, end=end)

    assert second.created == []
    assert second.updated == [board_id]  # the others are unchanged: nothing written
    assert second.unchanged == len(first.created) - 1
    board = store.get_meeting(board_id)
    assert board is not None
    assert board.title == "Q4 Board Meeting (final)"
    assert board.status == MeetingStatus.PREP_SCHEDULED
    assert board.notification_status == NotificationStatus.DELIVERED


def test_an_occurrence_cancelled_after_import_is_cancelled(store: SQLiteStore) -> None:
    data = (ICS / "google-calendar.ics").read_bytes()
    zone = ZoneInfo("America/New_York")
    end = NOV29 + timedelta(days=14)
    import_calendar(store, "usr-1", data, zone=zone, start=NOV29, end=end)
    cancelled = data.replace(
        b"SUMMARY:Q4 Board Meeting\r\n", b"SUMMARY:Q4 Board Meeting\r\nSTATUS:CANCELLED\r\n"
    ).replace(b"LOCATION:https://meet.google.com/abc-defg-hij\r\nSTATUS:CONFIRMED\r\n", b"")

    report = import_calendar(store, "usr-1", cancelled, zone=zone, start=NOV29, end=end)

    board_id = meeting_id_for("usr-1", "ics", "0a1b2c3d4e5f6g7h8i9j@google.com")
    assert report.cancelled == [board_id]
    board = store.get_meeting(board_id)
    assert board is not None
    assert board.status == MeetingStatus.CANCELLED


def test_rules_pick_meeting_type_and_prep_hours(store: SQLiteStore) -> None:
    rules = ImportRules(
        rules=[
            MeetingRule(keywords=["board"], meeting_type="board", prep_hours_before=72),
            MeetingRule(min_attendees=2, meeting_type="group", prep_hours_before=4),
        ],
        default_meeting_type="other",
        default_prep_hours_before=1,
    )
    report = import_ics(store, "usr-1", ICS / "google-calendar.ics", now=NOV29, rules=rules)
    kinds = set()
    for meeting_id in report.created:
        meeting = store.get_meeting(meeting_id)
        assert meeting is not None
        kinds.add((meeting.title, meeting.meeting_type, meeting.prep_hours_before))
    assert ("Q4 Board Meeting", "board", 72.0) in kinds  # first match wins (it has 6 attendees)
    assert ("Staff 1:1", "group", 4.0) in kinds
    assert ("Floating time lunch", "other", 1.0) in kinds
    assert ImportRules().classify("anything", 0) == ("general", 24.0)
    with pytest.raises(ValidationError):
        MeetingRule(meeting_type="x", prep_hours_before=1)  # no condition


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ((ICS / "broken.ics").read_bytes(), "not a valid iCalendar"),
        (b"this is not a calendar\r\n", "not a valid iCalendar"),
        (b"", "not a valid iCalendar"),
        (b"BEGIN:VTODO\r\nUID:x\r\nEND:VTODO\r\n", "expected a VCALENDAR"),
    ],
    ids=["unterminated", "garbage", "empty", "not-a-calendar"],
)
def test_a_malformed_file_is_a_clear_permanent_error(
    store: SQLiteStore, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.ics"
    path.write_bytes(content)
    with pytest.raises(PermanentError, match=message):
        import_ics(store, "usr-1", path, now=NOV29)


def test_sources_are_checked(store: SQLiteStore) -> None:
    with pytest.raises(PermanentError, match="use a file path or https"):
        import_ics(store, "usr-1", "http://calendar.example.com/feed.ics", now=NOV29)
    with pytest.raises(PermanentError, match="cannot read"):
        import_ics(store, "usr-1", "/nonexistent/calendar.ics", now=NOV29)
    with pytest.raises(PermanentError, match="larger than"):
        import_ics(store, "usr-1", ICS / "google-calendar.ics", now=NOV29, max_bytes=100)
    with pytest.raises(NotFoundError):
        import_ics(store, "usr-nobody", ICS / "google-calendar.ics", now=NOV29)
    report = import_ics(store, "usr-1", (ICS / "outlook-exchange.ics").as_uri(), now=NOV29)
    assert len(report.created) == 3


# --- https ----------------------------------------------------------------------------------


class _Feed(http.server.BaseHTTPRequestHandler):
    body = (ICS / "google-calendar.ics").read_bytes()

    def do_GET(self) -> None:
        if self.path == "/calendar/ical/secret-token-abc/basic.ics":
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar")
            self.end_headers()
            self.wfile.write(self.body)
        elif self.path in ("/moved", "/moved-to-http"):
            scheme = "https" if self.path == "/moved" else "http"
            self.send_response(302)
            self.send_header(
                "Location",
                f"{scheme}://{self.headers['Host']}/calendar/ical/secret-token-abc/basic.ics",
            )
            self.end_headers()
        elif self.path == "/down":
            self.send_error(503)
        else:
            self.send_error(404)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def https_feed(tmp_path: Path) -> Iterator[tuple[str, ssl.SSLContext]]:
    with https_server(tmp_path, _Feed) as (host, cert):
        yield host, ssl.create_default_context(cafile=str(cert))


def test_https_and_webcal_feeds(store: SQLiteStore, https_feed: tuple[str, ssl.SSLContext]) -> None:
    host, context = https_feed
    path = "/calendar/ical/secret-token-abc/basic.ics"
    report = import_ics(store, "usr-1", f"https://{host}{path}", now=NOV29, ssl_context=context)
    assert len(report.created) == 6
    again = import_ics(store, "usr-1", f"webcal://{host}{path}", now=NOV29, ssl_context=context)
    assert sorted(again.updated) == sorted(report.created)

    with pytest.raises(PermanentError, match="HTTP 404") as missing:
        import_ics(
            store,
            "usr-1",
            f"https://{host}/calendar/ical/secret-token-abc/x.ics",
            now=NOV29,
            ssl_context=context,
        )
    assert "secret-token" not in str(missing.value)
    with pytest.raises(TransientError, match="HTTP 503"):
        import_ics(store, "usr-1", f"https://{host}/down", now=NOV29, ssl_context=context)
    with pytest.raises(PermanentError, match="not trusted"):  # self-signed, no context
        import_ics(store, "usr-1", f"https://{host}{path}", now=NOV29)


def test_feed_redirects_are_followed_to_https_only(
    store: SQLiteStore, https_feed: tuple[str, ssl.SSLContext]
) -> None:
    """A redirect to https is followed; one to plain http is refused before anything is read
    over it (the calendar would travel in clear text), naming the host but not the path."""
    host, context = https_feed
    with pytest.raises(PermanentError, match=r"redirects .*to an http:// address") as refused:
        import_ics(store, "usr-1", f"https://{host}/moved-to-http", now=NOV29, ssl_context=context)
    assert refused.value.code == "insecure_redirect"
    assert host in str(refused.value) and "secret-token" not in str(refused.value)
    assert store.list_meetings_for_user("usr-1", _utc(2000, 1, 1), _utc(2100, 1, 1)) == []
    moved = import_ics(store, "usr-1", f"https://{host}/moved", now=NOV29, ssl_context=context)
    assert len(moved.created) == 6
