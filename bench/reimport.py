"""``python -m bench.reimport``: re-importing an unchanged feed vs importing it the first time.

Same process, same data, interleaved: each round imports a generated feed (N weekly series over
14 days, Google-style) into a fresh SQLite store (first import: every occurrence written), then
imports the same bytes again (unchanged: nothing written), both with the feed store beside the
store as a feed check has it (the first import remembers each series, the second reuses them).
The figure is the median of the re-import/first-import time ratios, with the write counts of both.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from exec_assistant.models import User
from exec_assistant.store.feeds import SQLiteFeedStore
from exec_assistant.store.sqlite import SQLiteStore
from exec_assistant.workflows.calendar_sync import ImportReport
from exec_assistant.workflows.ics_import import import_calendar

START = datetime(2026, 11, 30, tzinfo=UTC)
ZONE = ZoneInfo("America/New_York")


def feed(series: int) -> bytes:
    events = []
    for n in range(series):
        day = START + timedelta(days=n % 5, hours=13 + n % 6)
        events.append(
            "BEGIN:VEVENT\r\n"
            f"UID:series-{n}@bench.example\r\n"
            f"DTSTART:{day:%Y%m%dT%H%M%SZ}\r\n"
            f"DTEND:{day + timedelta(minutes=30):%Y%m%dT%H%M%SZ}\r\n"
            "RRULE:FREQ=WEEKLY;COUNT=10\r\n"
            f"SUMMARY:Meeting {n}\r\nDESCRIPTION:Agenda item {n}\r\n"
            f"ATTENDEE;CN=A{n}:mailto:a{n}@example.com\r\n"
            "END:VEVENT\r\n"
        )
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n"
        + "".join(events)
        + "END:VCALENDAR\r\n"
    ).encode()


def once(data: bytes, path: Path) -> tuple[float, float, int, int]:
    store = SQLiteStore(path)
    feeds = SQLiteFeedStore(path)
    store.put_user(User(user_id="usr-b", name="Bench", timezone="America/New_York"))

    def run() -> ImportReport:
        return import_calendar(
            store,
            "usr-b",
            data,
            zone=ZONE,
            start=START,
            end=START + timedelta(days=14),
            feed_id="feed-b",
            series=feeds,
        )

    try:
        t0 = time.perf_counter()
        first = run()
        t1 = time.perf_counter()
        again = run()
        t2 = time.perf_counter()
    finally:
        feeds.close()
        store.close()
    return t1 - t0, t2 - t1, len(first.created), len(again.created) + len(again.updated)


def main(series: int = 100, rounds: int = 7) -> None:
    data = feed(series)
    ratios, firsts, agains = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(rounds):
            first, again, written, rewritten = once(data, Path(tmp) / f"r{n}.db")
            ratios.append(again / first)
            firsts.append(first)
            agains.append(again)
    print(
        f"{series} weekly series, {written} occurrences in 14 days, {rounds} rounds: "
        f"first import median {statistics.median(firsts) * 1000:.0f} ms ({written} written), "
        f"unchanged re-import median {statistics.median(agains) * 1000:.0f} ms "
        f"({rewritten} written); ratio re-import/first median {statistics.median(ratios):.2f}x "
        f"(range {min(ratios):.2f}-{max(ratios):.2f})"
    )


if __name__ == "__main__":
    main()
