"""users add|list and meetings add|list against a real SQLite store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from exec_assistant.models import Channel, MeetingStatus, NotificationStatus
from tests.cli.conftest import Cli, assert_one_line_error


def _add_user(cli: Cli, user_id: str = "usr-ceo") -> None:
    result = cli(
        "users", "add", user_id, "--name", "Ada Lovelace", "--phone", "+1 415 555 0123",
        "--slack-user-id", "U012AB3CD", "--channels", "slack,sms", "--timezone", "Europe/London",
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def test_users_add_and_list(cli: Cli) -> None:
    _add_user(cli)
    user = cli.store().get_user("usr-ceo")
    assert user is not None
    assert user.phone == "+14155550123"
    assert user.preferences.channel_order == [Channel.SLACK, Channel.SMS]

    table = cli("users", "list")
    assert table.exit_code == 0
    assert "usr-ceo" in table.stdout and "Ada Lovelace" in table.stdout

    listed = json.loads(cli("users", "list", "--json").stdout)
    assert [u["user_id"] for u in listed] == ["usr-ceo"]
    assert listed[0]["timezone"] == "Europe/London"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--phone", "12345"], "phone"),
        (["--timezone", "Mars/Olympus"], "time zone"),
        (["--channels", "pigeon"], "pigeon"),
        (["--slack-user-id", "nope"], "--slack-user-id"),
    ],
)
def test_users_add_rejects_bad_input_and_stores_nothing(
    cli: Cli, args: list[str], message: str
) -> None:
    result = cli("users", "add", "usr-x", "--name", "X", *args)
    assert_one_line_error(result, contains=message)
    assert cli.store().list_users() == []


def test_users_add_refuses_existing_id_unless_replace(cli: Cli) -> None:
    _add_user(cli)
    again = cli("users", "add", "usr-ceo", "--name", "Someone Else")
    assert_one_line_error(again, contains="already exists")
    stored = cli.store().get_user("usr-ceo")
    assert stored is not None and stored.name == "Ada Lovelace"

    replaced = cli("users", "add", "usr-ceo", "--name", "Someone Else", "--replace")
    assert replaced.exit_code == 0
    stored = cli.store().get_user("usr-ceo")
    assert stored is not None and stored.name == "Someone Else"


def test_meetings_add_and_list(cli: Cli) -> None:
    _add_user(cli)
    result = cli(
        "meetings", "add", "--user", "usr-ceo", "--title", "Board prep", "--id", "mtg-board",
        "--start", "2030-01-15T09:30", "--duration", "90m", "--prep-hours", "2",
        "--attendee", "cfo@example.com", "--attendee", "coo@example.com", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert created["meeting_id"] == "mtg-board"
    meeting = cli.store().get_meeting("mtg-board")
    assert meeting is not None
    assert meeting.end_time - meeting.start_time == timedelta(minutes=90)
    assert meeting.attendees == ["cfo@example.com", "coo@example.com"]
    assert meeting.status == MeetingStatus.DISCOVERED

    window = ["--from", "2030-01-15", "--until", "2030-01-16"]
    listed = json.loads(cli("meetings", "list", *window, "--json").stdout)
    assert [m["meeting_id"] for m in listed] == ["mtg-board"]
    table = cli("meetings", "list", *window)
    assert "mtg-board" in table.stdout and "DISCOVERED" in table.stdout
    outside = cli("meetings", "list", "--from", "2030-02-01", "--until", "2030-03-01", "--json")
    assert json.loads(outside.stdout) == []


def test_meetings_list_filters_by_user_and_status(cli: Cli) -> None:
    _add_user(cli, "usr-a")
    _add_user(cli, "usr-b")
    for meeting_id, user in (("mtg-a1", "usr-a"), ("mtg-a2", "usr-a"), ("mtg-b1", "usr-b")):
        assert cli(
            "meetings", "add", "--user", user, "--title", meeting_id, "--id", meeting_id,
            "--start", "+2h",
        ).exit_code == 0  # fmt: skip
    store = cli.store()
    now = datetime.now(UTC)
    store.record_meeting_notification(
        "mtg-a2", status=NotificationStatus.FAILED, channel=None, cycle="prep", at=now
    )
    store.transition_meeting("mtg-b1", MeetingStatus.PREP_REQUIRED, now=now)

    def ids(*args: str) -> list[str]:
        result = cli("meetings", "list", *args, "--json")
        assert result.exit_code == 0, result.output
        return sorted(m["meeting_id"] for m in json.loads(result.stdout))

    assert ids() == ["mtg-a1", "mtg-a2", "mtg-b1"]
    assert ids("--user", "usr-a") == ["mtg-a1", "mtg-a2"]
    assert ids("--status", "failed") == ["mtg-a2"]
    assert ids("--status", "prep_required") == ["mtg-b1"]
    assert ids("--status", "DISCOVERED", "--status", "failed") == ["mtg-a2"]
    assert ids("--user", "usr-b", "--status", "failed") == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--user", "usr-ceo", "--title", "T", "--start", "2030-13-01"], "--start"),
        (["--user", "usr-ceo", "--title", "T", "--start", "tomorrow"], "not an ISO date"),
        (["--user", "usr-ceo", "--title", "T", "--start", "+1h", "--duration", "x"], "duration"),
        (["--user", "usr-ceo", "--title", "T", "--start", "+1h", "--end", "now"], "--end must"),
        (
            ["--user", "usr-ceo", "--title", "T", "--start", "+1h", "--prep-hours", "-1"],
            "--prep-hours:",
        ),
        (["--user", "nobody", "--title", "T", "--start", "+1h"], "no user nobody"),
        (["--user", "usr-ceo", "--start", "+1h"], "--title"),
    ],
)
def test_meetings_add_rejects_bad_input_and_stores_nothing(
    cli: Cli, args: list[str], message: str
) -> None:
    _add_user(cli)
    result = cli("meetings", "add", *args)
    assert_one_line_error(result, contains=message)
    now = datetime.now(UTC)
    span = timedelta(days=4000)
    assert cli.store().list_meetings_for_user("usr-ceo", now - span, now + span) == []


def test_meetings_add_refuses_existing_id(cli: Cli) -> None:
    _add_user(cli)
    base = ["meetings", "add", "--user", "usr-ceo", "--id", "mtg-1", "--start", "+3h"]
    assert cli(*base, "--title", "First").exit_code == 0
    assert_one_line_error(cli(*base, "--title", "Second"), contains="already exists")
    meeting = cli.store().get_meeting("mtg-1")
    assert meeting is not None and meeting.title == "First"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--status", "bogus"], "unknown status"),
        (["--from", "2030-02-01", "--until", "2030-01-01"], "after its start"),
        (["--until", "31/12/2030"], "--until"),
        (["--user", "ghost"], "no user ghost"),
    ],
)
def test_meetings_list_bad_filters(cli: Cli, args: list[str], message: str) -> None:
    assert_one_line_error(cli("meetings", "list", *args), contains=message)


COMMANDS = [
    ["users", "add"],
    ["users", "list"],
    ["meetings", "add"],
    ["meetings", "list"],
    ["meetings", "import"],
    ["secrets", "rotate"],
    ["secrets", "status"],
    ["manifest"],
    ["doctor"],
    ["send-test-event"],
    ["replay"],
]


def test_version_and_help(cli: Cli) -> None:
    from exec_assistant import __version__

    assert cli("--version").stdout.strip() == f"exec-assistant {__version__}"
    for command in COMMANDS:
        result = cli(*command, "--help")
        assert result.exit_code == 0
        assert "Example" in result.stdout
        assert "exec-assistant " + " ".join(command) in result.stdout, command


def test_unknown_command_is_one_line_usage_error(cli: Cli) -> None:
    result = cli("users", "frobnicate")
    assert_one_line_error(result, contains="No such command")
    assert result.exit_code == 2
