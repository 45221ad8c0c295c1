"""``meetings remove`` and ``users remove``: confirmation, refusals that change nothing, and
what the commands report. What removal does to schedules and DMs is tested through the real
pipeline in tests/workflows/test_removal.py."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import Cli, add_meeting, add_user, assert_one_line_error


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend someone is at a terminal to answer the confirmation."""
    monkeypatch.setattr("exec_assistant.cli.params.interactive", lambda: True)


def test_meetings_remove_needs_yes_without_a_terminal(cli: Cli) -> None:
    add_user(cli)
    add_meeting(cli)
    refused = cli("meetings", "remove", "mtg-1")
    assert_one_line_error(refused, contains="--yes")
    assert refused.exit_code == 2
    assert cli.store().get_meeting("mtg-1") is not None

    removed = cli("meetings", "remove", "mtg-1", "--yes")
    assert removed.exit_code == 0, removed.output
    assert "removed meeting mtg-1" in removed.stdout
    assert cli.store().get_meeting("mtg-1") is None


@pytest.mark.usefixtures("terminal")
def test_meetings_remove_asks_and_no_changes_nothing(cli: Cli) -> None:
    add_user(cli)
    add_meeting(cli)
    kept = cli("meetings", "remove", "mtg-1", input="n\n")
    assert kept.exit_code != 0
    assert "Remove meeting mtg-1" in kept.stdout
    assert cli.store().get_meeting("mtg-1") is not None
    removed = cli("meetings", "remove", "mtg-1", input="y\n")
    assert removed.exit_code == 0, removed.output
    assert cli.store().get_meeting("mtg-1") is None


def test_meetings_remove_of_an_unknown_meeting_is_one_error(cli: Cli) -> None:
    result = cli("meetings", "remove", "mtg-nope", "--yes")
    assert_one_line_error(result, contains="no meeting mtg-nope")
    assert result.exit_code == 2


def test_meetings_cancel_reports_in_json(cli: Cli) -> None:
    add_user(cli)
    add_meeting(cli)
    result = cli("meetings", "cancel", "mtg-1", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["cancelled"] is True and report["meeting_id"] == "mtg-1"


def test_users_remove_is_refused_while_the_user_owns_meetings(cli: Cli) -> None:
    add_user(cli)
    add_meeting(cli)
    refused = cli("users", "remove", "usr-ceo", "--yes")
    assert_one_line_error(refused, contains="--with-meetings")
    assert refused.exit_code == 2
    assert cli.store().get_user("usr-ceo") is not None
    assert cli.store().get_meeting("mtg-1") is not None

    removed = cli("users", "remove", "usr-ceo", "--with-meetings", "--yes", "--json")
    assert removed.exit_code == 0, removed.output
    report = json.loads(removed.stdout)
    assert [m["meeting_id"] for m in report["meetings"]] == ["mtg-1"]
    assert cli.store().get_user("usr-ceo") is None
    assert cli.store().get_meeting("mtg-1") is None
    listed = cli("users", "list", "--json")
    assert json.loads(listed.stdout) == []


@pytest.mark.usefixtures("terminal")
def test_users_remove_asks_first(cli: Cli) -> None:
    add_user(cli)
    kept = cli("users", "remove", "usr-ceo", input="n\n")
    assert kept.exit_code != 0 and "Remove user usr-ceo (Ada)?" in kept.stdout
    assert cli.store().get_user("usr-ceo") is not None
    removed = cli("users", "remove", "usr-ceo", input="y\n")
    assert removed.exit_code == 0, removed.output
    assert "removed user usr-ceo" in removed.stdout
    assert cli.store().get_user("usr-ceo") is None


def test_users_remove_of_an_unknown_user_is_one_error(cli: Cli) -> None:
    result = cli("users", "remove", "usr-nope", "--yes")
    assert_one_line_error(result, contains="no user usr-nope")
    assert result.exit_code == 2
