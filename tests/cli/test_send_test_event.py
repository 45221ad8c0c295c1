"""send-test-event: --local end to end (console, fake Slack), --bus through moto, --dry-run."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from exec_assistant.models import (
    PREP_EVENT_DETAIL_TYPE,
    PREP_EVENT_SOURCE,
    Meeting,
    MeetingStatus,
    NotificationStatus,
    User,
)
from tests.cli.conftest import Capture, Cli, assert_one_line_error
from tests.fakes.slack_api import FakeSlackAPI


def _meeting(cli: Cli, *, slack_user_id: str | None = None, hours: float = 2) -> Meeting:
    store = cli.store()
    store.put_user(User(user_id="usr-ceo", name="Ada", slack_user_id=slack_user_id))
    start = datetime.now(UTC) + timedelta(hours=hours)
    return store.upsert_meeting_calendar(
        Meeting(
            meeting_id="mtg-board",
            user_id="usr-ceo",
            title="Board review",
            start_time=start,
            end_time=start + timedelta(hours=1),
        )
    )


def test_local_sample_end_to_end_prints_notification_and_attempts(cli: Cli) -> None:
    result = cli("send-test-event", "--local", "--sample")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Slack DM to Sample Executive" in out  # the console channel printed it
    assert "Start Prep" in out and "Remind Later" in out
    assert "delivery record mtg-sample-" in out
    assert "console" in out and "delivered" in out and "skipped" in out
    assert "outcome: notified" in out and "(ledger: delivered)" in out

    store = cli.store()
    (user,) = store.list_users()
    now = datetime.now(UTC)
    (meeting,) = store.list_meetings_for_user(user.user_id, now, now + timedelta(days=1))
    assert meeting.status == MeetingStatus.PREP_SCHEDULED
    assert meeting.notification_status == NotificationStatus.DELIVERED
    (record,) = store.list_notifications_for_meeting(meeting.meeting_id)
    assert record.delivered_channel is not None and record.delivered_channel.value == "console"
    provider_id = record.attempts[-1].provider_id
    flat = out.replace("\n", "").replace("│", "").replace(" ", "")
    assert provider_id is not None and provider_id in flat


def test_local_json_keeps_stdout_parseable(cli: Cli) -> None:
    result = cli("send-test-event", "--local", "--sample", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["result"]["action"] == "notified"
    assert payload["ledger"]["state"] == "delivered"
    assert [a["channel"] for a in payload["ledger"]["attempts"]][-1] == "console"
    assert payload["event"]["source"] == PREP_EVENT_SOURCE
    assert "Slack DM to Sample Executive" in result.stderr  # console channel moved to stderr


def test_local_again_is_a_duplicate_unless_force(cli: Cli) -> None:
    _meeting(cli)
    first = cli("send-test-event", "--local", "--meeting-id", "mtg-board", "--json")
    assert json.loads(first.stdout)["result"]["action"] == "notified"
    again = cli("send-test-event", "--local", "--meeting-id", "mtg-board", "--json")
    assert again.exit_code == 0
    assert json.loads(again.stdout)["result"]["action"] == "duplicate"
    assert "Slack DM" not in again.stderr  # nothing sent the second time
    forced = cli("send-test-event", "--local", "--meeting-id", "mtg-board", "--force", "--json")
    payload = json.loads(forced.stdout)
    assert payload["result"]["action"] == "notified"
    assert payload["event"]["detail"]["cycle"].startswith("replay-")
    assert len(cli.store().list_notifications_for_meeting("mtg-board")) == 2


def test_local_through_fake_slack(
    cli: Cli, fake_slack: FakeSlackAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token-1")
    monkeypatch.setenv("SLACK_API_URL", fake_slack.url)
    _meeting(cli, slack_user_id="U0CEO0001")
    result = cli("send-test-event", "--local", "--meeting-id", "mtg-board")
    assert result.exit_code == 0, result.output
    (post,) = fake_slack.calls_to("chat.postMessage")
    assert post.params["channel"] == "U0CEO0001"
    assert "delivered via slack" in result.stdout
    assert "D0CEO0001:" in result.stdout  # provider id: DM channel and ts


def test_local_every_channel_failing_shows_the_error_and_exits_1(
    cli: Cli, fake_slack: FakeSlackAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token-1")
    monkeypatch.setenv("SLACK_API_URL", fake_slack.url)
    fake_slack.fail_next("chat.postMessage", error="channel_not_found")
    _meeting(cli, slack_user_id="U0CEO0001")
    result = cli("send-test-event", "--local", "--meeting-id", "mtg-board")
    assert result.exit_code == 1
    assert "permanent/channel_not_found" in result.stdout
    assert "outcome: failed" in result.stdout
    meeting = cli.store().get_meeting("mtg-board")
    assert meeting is not None and meeting.notification_status == NotificationStatus.FAILED


def test_local_meeting_already_started_is_skipped(cli: Cli) -> None:
    _meeting(cli, hours=-0.5)
    result = cli("send-test-event", "--local", "--meeting-id", "mtg-board")
    assert result.exit_code == 1
    assert "outcome: skipped" in result.stdout and "already started" in result.stdout
    assert cli.store().list_notifications_for_meeting("mtg-board") == []


def test_bus_publishes_the_real_event_shape(cli: Cli, eventbridge: Capture) -> None:
    meeting = _meeting(cli)
    result = cli("send-test-event", "--meeting-id", "mtg-board", "--bus", eventbridge.bus, "--json")
    assert result.exit_code == 0, result.output
    (event,) = eventbridge.events()
    assert event["id"] == json.loads(result.stdout)["event_id"]
    assert event["source"] == "exec-assistant.calendar-monitor"
    assert event["detail-type"] == "MeetingPrepRequired"
    assert event["detail"]["meeting_id"] == "mtg-board"
    assert event["detail"]["user_id"] == "usr-ceo"
    assert event["detail"]["start_time"] == meeting.start_time.isoformat()
    assert "cycle" not in event["detail"]
    # Nothing ran locally: the meeting is untouched.
    stored = cli.store().get_meeting("mtg-board")
    assert stored is not None and stored.status == MeetingStatus.DISCOVERED


def test_bus_with_sample_creates_it_and_publishes(cli: Cli, eventbridge: Capture) -> None:
    result = cli("send-test-event", "--sample", "--bus", eventbridge.bus)
    assert result.exit_code == 0, result.output
    (event,) = eventbridge.events()
    assert event["detail"]["user_id"] == "usr-sample"
    assert cli.store().get_meeting(event["detail"]["meeting_id"]) is not None


def test_bus_that_does_not_exist_is_one_line(cli: Cli, eventbridge: Capture) -> None:
    _meeting(cli)
    result = cli("send-test-event", "--meeting-id", "mtg-board", "--bus", "no-such-bus")
    assert_one_line_error(result)


def test_dry_run_prints_the_event_and_changes_nothing(cli: Cli) -> None:
    _meeting(cli)
    result = cli("send-test-event", "--meeting-id", "mtg-board", "--dry-run")
    assert result.exit_code == 0, result.output
    event = json.loads(result.stdout)
    assert event["source"] == PREP_EVENT_SOURCE
    assert event["detail-type"] == PREP_EVENT_DETAIL_TYPE
    assert event["detail"]["meeting_id"] == "mtg-board"
    assert cli.store().list_notifications_for_meeting("mtg-board") == []

    sample = json.loads(cli("send-test-event", "--sample", "--dry-run").stdout)
    assert sample["detail"]["user_id"] == "usr-sample"
    assert cli.store().get_user("usr-sample") is None  # a dry run stores nothing


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--local"], "exactly one of --meeting-id or --sample"),
        (["--local", "--sample", "--meeting-id", "m"], "exactly one of --meeting-id"),
        (["--sample"], "exactly one of --local or --bus"),
        (["--sample", "--local", "--bus", "b"], "exactly one of --local or --bus"),
        (["--local", "--meeting-id", "mtg-nope"], "no meeting mtg-nope"),
    ],
)
def test_bad_arguments_change_nothing(cli: Cli, args: list[str], message: str) -> None:
    result = cli("send-test-event", *args)
    assert_one_line_error(result, contains=message)
    assert cli.store().list_users() == []
