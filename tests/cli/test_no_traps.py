"""What a newcomer trips over, each fixed and held: the store URL, the region, replay's window,
help text, error wording, exit codes, LOG_LEVEL, ICS ranges."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exec_assistant import aws
from exec_assistant.cli import app
from exec_assistant.config import Settings
from exec_assistant.errors import ConfigurationError
from exec_assistant.models import LedgerState, MeetingStatus
from tests.cli.conftest import Cli, add_meeting, add_user, assert_one_line_error

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ics"


# --- the store URL ---------------------------------------------------------------------------


def test_a_relative_sqlite_path_is_refused_and_nothing_is_created(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EXEC_ASSISTANT_STORE", "sqlite:///data/x.db")
    result = cli("users", "list")
    assert_one_line_error(result, contains="relative to the working directory")
    assert "sqlite:////data/x.db" in result.stderr
    assert result.exit_code == 3
    assert not (tmp_path / "data").exists()


@given(st.text(max_size=40))
def test_any_store_url_is_accepted_absolute_or_refused_clearly(text: str) -> None:
    url = "sqlite:///" + text
    try:
        settings = Settings(exec_assistant_store=url)
    except ConfigurationError as exc:
        assert "EXEC_ASSISTANT_STORE" in str(exc)
        return
    path = Path((settings.exec_assistant_store or "").removeprefix("sqlite:///")).expanduser()
    assert path.is_absolute()


def test_users_list_and_serve_say_which_database_file(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_user(cli)
    result = cli("users", "list", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)[0]["user_id"] == "usr-ceo"  # stdout stays JSON
    assert f"store: SQLite file {cli.db.resolve()}" in result.stderr

    def no_wait(stop: threading.Event) -> None:
        pass

    monkeypatch.setattr("exec_assistant.cli.serve._wait", no_wait)
    served = cli("serve", "--no-slack")
    assert served.exit_code == 0, served.output
    assert str(cli.db.resolve()) in served.stdout


# --- the AWS region --------------------------------------------------------------------------


@pytest.mark.parametrize("variable", ["AWS_REGION", "AWS_DEFAULT_REGION"])
def test_the_region_comes_from_either_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv(variable, "eu-west-3")
    aws.reset_clients()
    try:
        assert aws.client("events").meta.region_name == "eu-west-3"
    finally:
        aws.reset_clients()


def test_no_region_at_all_is_one_clear_line(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    add_user(cli)
    add_meeting(cli, "mtg-1", hours=2)
    aws.reset_clients()
    try:
        result = cli("send-test-event", "--meeting-id", "mtg-1", "--bus", "b")
    finally:
        aws.reset_clients()
    assert_one_line_error(result, contains="set AWS_REGION (or AWS_DEFAULT_REGION)")
    assert result.exit_code == 3


# --- replay only sends what is due -----------------------------------------------------------


def test_replay_sends_only_meetings_whose_window_is_open(cli: Cli) -> None:
    add_user(cli)
    add_meeting(cli, "mtg-due", hours=2)
    add_meeting(cli, "mtg-later", hours=72, prep_hours=24)  # window opens in two days
    result = cli("replay", "--local", "--json")
    assert result.exit_code == 0, result.output
    items = {i["meeting_id"]: i for i in json.loads(result.stdout)["items"]}
    assert items["mtg-due"]["action"] == "notified"
    assert items["mtg-later"]["action"] == "not due"
    assert "prep window opens" in items["mtg-later"]["detail"]
    store = cli.store()
    assert store.list_notifications_for_meeting("mtg-later") == []
    later = store.get_meeting("mtg-later")
    assert later is not None and later.status is MeetingStatus.DISCOVERED

    forced = cli("replay", "--local", "--force", "--json")
    actions = {i["meeting_id"]: i["action"] for i in json.loads(forced.stdout)["items"]}
    assert actions["mtg-later"] == "notified"
    records = store.list_notifications_for_meeting("mtg-later")
    assert [r.state for r in records] == [LedgerState.DELIVERED]


def test_replay_dry_run_lists_not_due_meetings(cli: Cli) -> None:
    add_user(cli)
    add_meeting(cli, "mtg-later", hours=72)
    result = cli("replay", "--dry-run")
    assert result.exit_code == 0
    assert "not due" in result.stdout
    assert "would replay 0 meeting(s)" in result.stdout


# --- help text is shown as written -----------------------------------------------------------

EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u3297\u3299]")


def _commands() -> list[list[str]]:
    found: list[list[str]] = [[]]
    found += [[c.name or ""] for c in app.registered_commands]
    for group in app.registered_groups:
        sub = group.typer_instance
        assert sub is not None
        found.append([group.name or ""])
        found += [[group.name or "", c.name or ""] for c in sub.registered_commands]
    return found


@pytest.mark.parametrize("command", _commands(), ids=lambda c: " ".join(c) or "root")
def test_help_has_no_rich_markup_surprises(cli: Cli, command: list[str]) -> None:
    result = cli(*command, "--help")
    assert result.exit_code == 0
    assert not EMOJI.search(result.stdout), result.stdout


def test_the_secret_arn_in_rotate_help_can_be_copied(cli: Cli) -> None:
    result = cli("secrets", "rotate", "--help")
    assert "arn:aws:secretsmanager:us-east-1:111122223333:secret:slack-bot-token" in result.stdout


# --- errors: one wording, the CLI's own names, documented exit codes -----------------------


@pytest.mark.parametrize(
    "args",
    [
        ["meetings", "add", "--user", "nobody", "--title", "T", "--start", "+1h"],
        ["meetings", "list", "--user", "nobody"],
        ["meetings", "import", str(FIXTURES / "example.ics"), "--user", "nobody"],
        ["users", "set", "nobody", "--name", "X"],
        ["replay", "--user", "nobody", "--dry-run"],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_a_missing_user_is_reported_one_way(cli: Cli, args: list[str]) -> None:
    result = cli(*args)
    assert_one_line_error(result, contains="no user nobody in the store")
    assert result.exit_code == 2


@pytest.mark.parametrize(
    "args",
    [
        ["meetings", "show", "mtg-nope"],
        ["meetings", "cancel", "mtg-nope"],
        ["send-test-event", "--meeting-id", "mtg-nope", "--local"],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_a_missing_meeting_is_reported_one_way(cli: Cli, args: list[str]) -> None:
    result = cli(*args)
    assert_one_line_error(result, contains="no meeting mtg-nope in the store")
    assert result.exit_code == 2


def test_a_bad_setting_names_its_variable(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFICATION_LEASE_SECONDS", "-1")
    result = cli("users", "list")
    assert_one_line_error(result, contains="NOTIFICATION_LEASE_SECONDS")
    assert "notification_lease_seconds" not in result.stderr
    assert result.exit_code == 3


def test_a_bogus_log_level_is_refused(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "bogus")
    result = cli("send-test-event", "--local", "--sample")
    assert_one_line_error(result, contains="LOG_LEVEL")
    assert "DEBUG, INFO, WARNING, ERROR, CRITICAL" in result.stderr
    assert result.exit_code == 3
    assert cli.store().list_users() == []  # refused before anything was written


def test_a_missing_calendar_file_is_bad_input(cli: Cli) -> None:
    add_user(cli)
    result = cli("meetings", "import", "/nonexistent/cal.ics", "--user", "usr-ceo")
    assert_one_line_error(result, contains="no calendar file /nonexistent/cal.ics")
    assert result.exit_code == 2


def test_an_import_that_finds_events_only_outside_the_range_says_so(cli: Cli) -> None:
    add_user(cli)
    result = cli(
        "meetings", "import", str(FIXTURES / "example.ics"), "--user", "usr-ceo",
        "--from", "2090-01-01", "--until", "2090-01-10",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "0 created" in result.stdout
    assert "outside" in result.stdout and "import a wider range" in result.stdout
