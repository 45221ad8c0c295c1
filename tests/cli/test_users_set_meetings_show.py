"""users set; meetings show and cancel."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exec_assistant.models import Channel, MeetingStatus, QuietHours
from exec_assistant.workflows.user_settings import SettingError, parse_quiet_hours
from tests.cli.conftest import Cli, add_meeting, add_user, assert_one_line_error


def test_users_set_changes_only_what_is_given(cli: Cli) -> None:
    add_user(cli, email="ada@example.com")
    result = cli(
        "users", "set", "usr-ceo", "--channels", "email,slack",
        "--quiet-hours", "22:00-07:00", "--escalation-delay", "45m",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    user = cli.store().get_user("usr-ceo")
    assert user is not None
    assert user.name == "Ada" and user.email == "ada@example.com"
    assert user.preferences.channel_order == [Channel.EMAIL, Channel.SLACK]
    assert user.preferences.quiet_hours == QuietHours(start=time(22), end=time(7))
    assert user.preferences.escalation_delay_minutes == 45

    assert cli("users", "set", "usr-ceo", "--quiet-hours", "off", "--name", "Ada L").exit_code == 0
    user = cli.store().get_user("usr-ceo")
    assert user is not None and user.preferences.quiet_hours is None and user.name == "Ada L"
    assert user.preferences.escalation_delay_minutes == 45
    listed = cli("users", "list")
    assert "45 min" in listed.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "nothing to change"),
        (["--channels", "pigeon"], "pigeon"),
        (["--quiet-hours", "late"], "22:00-07:00"),
        (["--escalation-delay", "30s"], "whole minutes"),
        (["--phone", "12345"], "--phone"),
        (["--timezone", "Mars/Olympus"], "--timezone"),
    ],
)
def test_users_set_bad_input_changes_nothing(cli: Cli, args: list[str], message: str) -> None:
    add_user(cli, email="ada@example.com")
    before = cli.store().get_user("usr-ceo")
    result = cli("users", "set", "usr-ceo", *args)
    assert_one_line_error(result, contains=message)
    assert result.exit_code == 2
    assert cli.store().get_user("usr-ceo") == before


@given(st.text(max_size=20))
def test_quiet_hours_parse_or_refuse(text: str) -> None:
    try:
        parsed = parse_quiet_hours(text)
    except SettingError:
        return
    assert parsed is None or parsed.start != parsed.end


def test_meetings_show_lists_details_and_delivery_records(cli: Cli) -> None:
    add_user(cli)
    add_meeting(cli)
    before = cli("meetings", "show", "mtg-1")
    assert before.exit_code == 0
    assert "Meeting mtg-1" in before.stdout and "no notification sent yet" in before.stdout
    assert cli("send-test-event", "--meeting-id", "mtg-1", "--local").exit_code == 0
    shown = cli("meetings", "show", "mtg-1", "--json")
    details = json.loads(shown.stdout)
    assert details["meeting"]["status"] == "PREP_SCHEDULED"
    (record,) = details["notifications"]
    assert record["state"] == "delivered"
    assert [a["channel"] for a in record["attempts"]][-1] == "console"
    table = cli("meetings", "show", "mtg-1")
    assert "delivery record mtg-1#prep" in table.stdout


def test_meetings_cancel_stops_the_prep_notification(cli: Cli) -> None:
    add_user(cli)
    add_meeting(cli)
    result = cli("meetings", "cancel", "mtg-1")
    assert result.exit_code == 0, result.output
    meeting = cli.store().get_meeting("mtg-1")
    assert meeting is not None and meeting.status is MeetingStatus.CANCELLED
    sent = cli("send-test-event", "--meeting-id", "mtg-1", "--local")
    assert "meeting cancelled" in sent.stdout
    assert cli.store().list_notifications_for_meeting("mtg-1") == []
    again = cli("meetings", "cancel", "mtg-1")
    assert again.exit_code == 0 and "already cancelled" in again.stdout


def test_a_completed_meeting_cannot_be_cancelled(cli: Cli) -> None:
    add_user(cli)
    add_meeting(cli)
    store = cli.store()
    assert store.transition_meeting("mtg-1", MeetingStatus.COMPLETED, now=datetime.now(UTC))
    result = cli("meetings", "cancel", "mtg-1")
    assert_one_line_error(result, contains="COMPLETED")
    assert result.exit_code == 2
    meeting = cli.store().get_meeting("mtg-1")
    assert meeting is not None and meeting.status is MeetingStatus.COMPLETED
