"""Feeds on a schedule, end to end through the calendar monitor: a loopback https feed server
(self-signed certificate trusted through SSL_CERT_FILE) answering conditional GETs, the real
SQLite store and local runtime, the Slack channel on the loopback fake."""

from __future__ import annotations

import http.server
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest

from exec_assistant.errors import NotFoundError, PermanentError
from exec_assistant.models import MeetingSource, MeetingStatus, User, meeting_id_for
from exec_assistant.runtime import Runtime
from exec_assistant.workflows import calendar_monitor
from exec_assistant.workflows.feeds import add_feed, feed_store
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.tls import https_server
from tests.workflows.conftest import Clock, slack_runtime

CHANGES = Path(__file__).parents[1] / "fixtures" / "ics" / "changes"
T0 = datetime(2026, 11, 26, 16, 0, tzinfo=UTC)
WINDOW = timedelta(days=30)
SECRET_PATH = "/calendar/ical/ada%40example.com/private-5e3c7a9b1d/basic.ics"
USER = "usr-ada"
VENDOR = meeting_id_for(USER, MeetingSource.ICS.value, "vendor-call@example.com")
BOARD = meeting_id_for(USER, MeetingSource.ICS.value, "board-prep@example.com")


class FeedServer(http.server.BaseHTTPRequestHandler):
    body: ClassVar[bytes] = b""
    status: ClassVar[int] = 200
    requests: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        FeedServer.requests.append({"path": self.path, **dict(self.headers.items())})
        etag = f'"v{hash(FeedServer.body) & 0xFFFF}"'
        if FeedServer.status != 200:
            self.send_error(FeedServer.status)
        elif self.path != SECRET_PATH:
            self.send_error(404)
        elif self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
        else:
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(FeedServer.body)))
            self.end_headers()
            self.wfile.write(FeedServer.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def feed_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    FeedServer.body = (CHANGES / "team-v1.ics").read_bytes()
    FeedServer.status = 200
    FeedServer.requests = []
    with https_server(tmp_path, FeedServer) as (host, cert):
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the default context trusts it
        yield f"webcal://{host}{SECRET_PATH}"


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI() as api:
        yield api


@pytest.fixture
def rt(tmp_path: Path, fake: FakeSlackAPI) -> Iterator[Runtime]:
    runtime = slack_runtime(tmp_path / "ea.db", fake.url, Clock(T0))
    runtime.store.put_user(
        User(user_id=USER, name="Ada", slack_user_id="U0ADA", timezone="America/New_York")
    )
    yield runtime
    runtime.close()


def status(runtime: Runtime, meeting_id: str) -> MeetingStatus:
    meeting = runtime.store.get_meeting(meeting_id)
    assert meeting is not None
    return meeting.status


def test_the_monitor_imports_due_feeds_with_conditional_gets(
    rt: Runtime, fake: FakeSlackAPI, feed_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock: Any = rt.clock
    feed = add_feed(rt, USER, feed_url, interval_minutes=15)

    first = calendar_monitor.run_once(rt)
    assert first.feeds.imported == [feed.feed_id]
    assert first.published == [VENDOR]  # the vendor call's prep window is open (24 h, vendor)
    assert len(fake.calls_to("chat.postMessage")) == 1

    clock.advance(timedelta(minutes=5))
    assert calendar_monitor.run_once(rt).feeds.checked == 0  # not due yet
    clock.advance(timedelta(minutes=10))
    unchanged = calendar_monitor.run_once(rt)
    assert unchanged.feeds.not_modified == [feed.feed_id]
    assert FeedServer.requests[-1]["If-None-Match"].startswith('"v')  # conditional GET: a 304
    assert len(FeedServer.requests) == 2

    FeedServer.body = (CHANGES / "team-v2-moved.ics").read_bytes()
    clock.advance(timedelta(minutes=15))
    changed = calendar_monitor.run_once(rt)
    assert changed.feeds.imported == [feed.feed_id]
    assert status(rt, BOARD) == MeetingStatus.CANCELLED  # gone from the feed
    (update,) = fake.calls_to("chat.update")  # the vendor DM shows the new time
    assert "Moved: Vendor call: Acme renewal is now Fri 27 Nov, 13:00" in str(update.params["text"])
    assert len(fake.calls_to("chat.postMessage")) == 1  # nothing sent twice
    logged = "\n".join(r.getMessage() + str(r.__dict__.get("fields")) for r in caplog.records)
    assert "private-5e3c7a9b1d" not in logged  # the secret address is never logged


def test_a_failing_feed_is_recorded_and_cancels_nothing(rt: Runtime, feed_url: str) -> None:
    clock: Any = rt.clock
    feed = add_feed(rt, USER, feed_url)
    calendar_monitor.run_once(rt)
    FeedServer.status = 503
    clock.advance(timedelta(minutes=15))
    result = calendar_monitor.run_once(rt)
    assert result.feeds.failed == [feed.feed_id]
    assert status(rt, BOARD) == MeetingStatus.DISCOVERED
    FeedServer.status = 200
    FeedServer.body = b"<html>not a calendar</html>"
    clock.advance(timedelta(minutes=15))
    assert calendar_monitor.run_once(rt).feeds.failed == [feed.feed_id]
    assert status(rt, BOARD) == MeetingStatus.DISCOVERED
    store = feed_store(rt)
    stored = store.get_feed(feed.feed_id)
    store.close()
    assert stored is not None and stored.last_result.startswith("permanent:")


def test_adding_a_feed_checks_its_owner_and_address(rt: Runtime) -> None:
    with pytest.raises(NotFoundError):
        add_feed(rt, "usr-nobody", "https://calendar.example.com/x.ics")
    with pytest.raises(PermanentError, match="https"):
        add_feed(rt, USER, "http://calendar.example.com/x.ics")


def test_a_changed_feed_expands_only_the_series_that_changed(
    rt: Runtime, fake: FakeSlackAPI, feed_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="exec_assistant.workflows.ics_import")
    clock: Any = rt.clock
    add_feed(rt, USER, feed_url, interval_minutes=15)
    calendar_monitor.run_once(rt)
    before = {m.meeting_id: m for m in rt.store.list_meetings_for_user(USER, T0, T0 + WINDOW)}
    v1 = (CHANGES / "team-v1.ics").read_text()
    FeedServer.body = v1.replace("SUMMARY:Board prep", "SUMMARY:Board prep (agenda)").encode()
    clock.advance(timedelta(minutes=15))
    assert calendar_monitor.run_once(rt).feeds.imported

    done = [r.fields for r in caplog.records if r.getMessage() == "ics_import.done"]  # type: ignore[attr-defined]
    assert [(d["series"], d["series_reused"], d["updated"]) for d in done] == [(3, 0, 0), (3, 2, 1)]
    after = {m.meeting_id: m for m in rt.store.list_meetings_for_user(USER, T0, T0 + WINDOW)}
    assert after[BOARD].title == "Board prep (agenda)"
    assert {k: v.title for k, v in after.items() if k != BOARD} == {
        k: v.title for k, v in before.items() if k != BOARD
    }
