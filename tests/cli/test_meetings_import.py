"""meetings import: the workflow's ICS importer behind the CLI, with its report."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from exec_assistant.models import MeetingSource, User
from exec_assistant.store.feeds import SQLiteFeedStore
from exec_assistant.workflows.ics_source import feed_id_for
from tests.cli.conftest import Cli, assert_one_line_error

ICS = Path(__file__).resolve().parents[1] / "fixtures" / "ics"
DAILY = str(ICS / "issue_1081_event_with_rrule.ics")  # 10 daily events from 2025-01-01T10:00Z
UID = "test-123"
WINDOW = ["--from", "2025-01-01T00:00Z", "--until", "2025-01-06T00:00Z"]


def _user(cli: Cli) -> None:
    cli.store().put_user(User(user_id="usr-ceo", name="Ada", timezone="Europe/Vienna"))


def test_import_creates_then_updates(cli: Cli) -> None:
    _user(cli)
    result = cli("meetings", "import", DAILY, "--user", "usr-ceo", *WINDOW)
    assert result.exit_code == 0, result.output
    assert "5 created, 0 updated" in result.stdout
    start, end = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 6, tzinfo=UTC)
    meetings = cli.store().list_meetings_for_user("usr-ceo", start, end)
    assert [m.start_time.day for m in meetings] == [1, 2, 3, 4, 5]
    assert {m.source for m in meetings} == {MeetingSource.ICS}

    again = cli("meetings", "import", DAILY, "--user", "usr-ceo", *WINDOW, "--json")
    report = json.loads(again.stdout)
    assert (len(report["created"]), len(report["updated"]), report["unchanged"]) == (0, 0, 5)
    assert len(cli.store().list_meetings_for_user("usr-ceo", start, end)) == 5
    feeds = SQLiteFeedStore(cli.db)  # the series is remembered for the next import
    try:
        (state,) = feeds.get_series(feed_id_for(DAILY), [UID]).values()
    finally:
        feeds.close()
    assert len([o for o in state.occurrences.values() if o[0] < end]) == 5


def test_skipped_events_are_reported(cli: Cli) -> None:
    _user(cli)
    result = cli(
        "meetings", "import", str(ICS / "example.ics"), "--user", "usr-ceo",
        "--from", "2022-01-01T00:00Z", "--until", "2022-12-31T00:00Z",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "skipped" in result.stdout and "all-day event" in result.stdout


def test_broken_calendar_is_one_line_and_stores_nothing(cli: Cli) -> None:
    _user(cli)
    result = cli("meetings", "import", str(ICS / "broken.ics"), "--user", "usr-ceo", *WINDOW)
    assert_one_line_error(result, contains="not a valid iCalendar")
    assert cli("meetings", "list", *WINDOW, "--json").stdout.strip() == "[]"


def test_unknown_user_missing_file_and_bad_window(cli: Cli, tmp_path: Path) -> None:
    _user(cli)
    assert_one_line_error(
        cli("meetings", "import", DAILY, "--user", "usr-ghost", *WINDOW), contains="usr-ghost"
    )
    assert_one_line_error(
        cli("meetings", "import", str(tmp_path / "nope.ics"), "--user", "usr-ceo"),
        contains="nope.ics",
    )
    assert_one_line_error(
        cli("meetings", "import", "ftp://example.com/c.ics", "--user", "usr-ceo"),
        contains="scheme",
    )
    assert_one_line_error(
        cli("meetings", "import", DAILY, "--user", "usr-ceo", "--from", "2025-01-06",
            "--until", "2025-01-01"),
        contains="--until must be after --from",
    )  # fmt: skip
