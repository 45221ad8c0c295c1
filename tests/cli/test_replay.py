"""replay: delivered meetings stay no-ops through the ledger unless --force; failed ones resend."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from exec_assistant.models import LedgerState, Meeting, NotificationStatus, User
from tests.cli.conftest import Capture, Cli, assert_one_line_error
from tests.fakes.slack_api import FakeSlackAPI


def _setup(cli: Cli, *ids: str, slack_user_id: str | None = None) -> None:
    store = cli.store()
    store.put_user(User(user_id="usr-ceo", name="Ada", slack_user_id=slack_user_id))
    for n, meeting_id in enumerate(ids):
        start = datetime.now(UTC) + timedelta(hours=2 + n)
        store.upsert_meeting_calendar(
            Meeting(
                meeting_id=meeting_id,
                user_id="usr-ceo",
                title=f"Meeting {meeting_id}",
                start_time=start,
                end_time=start + timedelta(hours=1),
            )
        )


def _replay(cli: Cli, *args: str) -> dict[str, str]:
    result = cli("replay", *args, "--json")
    assert result.exit_code in (0, 1), result.output
    return {item["meeting_id"]: item["action"] for item in json.loads(result.stdout)["items"]}


def test_delivered_meetings_are_no_ops_unless_force(cli: Cli) -> None:
    _setup(cli, "mtg-a", "mtg-b")
    assert cli("send-test-event", "--local", "--meeting-id", "mtg-a").exit_code == 0

    result = cli("replay", "--local")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("Slack DM to Ada") == 1  # only mtg-b was sent
    assert "replayed 2 meeting(s): 1 duplicate, 1 notified" in result.stdout
    assert "2/2" in result.stderr  # the progress bar

    assert _replay(cli, "--local") == {"mtg-a": "duplicate", "mtg-b": "duplicate"}
    store = cli.store()
    assert len(store.list_notifications_for_meeting("mtg-a")) == 1

    assert _replay(cli, "--local", "--force") == {"mtg-a": "notified", "mtg-b": "notified"}
    records = store.list_notifications_for_meeting("mtg-a")
    assert len(records) == 2
    assert all(r.state == LedgerState.DELIVERED for r in records)


def test_failed_meetings_get_a_new_cycle_and_are_resent(
    cli: Cli, fake_slack: FakeSlackAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token-1")
    monkeypatch.setenv("SLACK_API_URL", fake_slack.url)
    _setup(cli, "mtg-ok", "mtg-outage", slack_user_id="U0CEO0001")
    assert cli("send-test-event", "--local", "--meeting-id", "mtg-ok").exit_code == 0
    fake_slack.fail_next("chat.postMessage", error="channel_not_found")
    assert cli("send-test-event", "--local", "--meeting-id", "mtg-outage").exit_code == 1
    fake_slack.reset()

    dry = cli("replay", "--status", "failed", "--dry-run", "--json")
    (planned,) = json.loads(dry.stdout)["items"]
    assert planned["meeting_id"] == "mtg-outage"
    assert planned["cycle"].startswith("replay-")
    assert fake_slack.calls_to("chat.postMessage") == []  # a dry run sends nothing

    assert _replay(cli, "--status", "failed", "--local") == {"mtg-outage": "notified"}
    (post,) = fake_slack.calls_to("chat.postMessage")
    assert post.params["channel"] == "U0CEO0001"
    meeting = cli.store().get_meeting("mtg-outage")
    assert meeting is not None and meeting.notification_status == NotificationStatus.DELIVERED
    # and now it is delivered, a second replay is a no-op
    assert _replay(cli, "--user", "usr-ceo", "--local") == {
        "mtg-ok": "duplicate",
        "mtg-outage": "duplicate",
    }


def test_bus_publishes_one_event_per_meeting(cli: Cli, eventbridge: Capture) -> None:
    _setup(cli, "mtg-a", "mtg-b")
    assert _replay(cli, "--bus", eventbridge.bus) == {"mtg-a": "published", "mtg-b": "published"}
    events = eventbridge.events()
    assert sorted(e["detail"]["meeting_id"] for e in events) == ["mtg-a", "mtg-b"]
    for event in events:
        assert event["source"] == "exec-assistant.calendar-monitor"
        assert event["detail-type"] == "MeetingPrepRequired"
        assert event["detail"]["user_id"] == "usr-ceo"
        assert "cycle" not in event["detail"]

    assert _replay(cli, "--bus", eventbridge.bus, "--force", "--since", "now") == {
        "mtg-a": "published",
        "mtg-b": "published",
    }
    cycles = {e["detail"]["cycle"] for e in eventbridge.events()}
    assert len(cycles) == 1 and cycles.pop().startswith("replay-")


def test_filters_and_dry_run(cli: Cli) -> None:
    _setup(cli, "mtg-a", "mtg-b")
    result = cli("replay", "--dry-run", "--until", "+150m")
    assert result.exit_code == 0
    assert "mtg-a" in result.stdout and "mtg-b" not in result.stdout
    assert "would replay 1 meeting(s)" in result.stdout
    assert cli.store().list_notifications_for_meeting("mtg-a") == []
    assert _replay(cli, "--dry-run", "--status", "PREP_SCHEDULED") == {}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "exactly one of --local, --bus NAME or --aws STACK_ENV"),
        (["--local", "--bus", "x"], "exactly one of --local, --bus NAME or --aws STACK_ENV"),
        (["--bus", "x", "--aws", "prod"], "exactly one of --local, --bus NAME or --aws STACK_ENV"),
        (["--local", "--since", "last tuesday"], "--since"),
        (["--local", "--user", "usr-ghost"], "no user usr-ghost"),
        (["--local", "--status", "lost"], "unknown status"),
    ],
)
def test_bad_input_changes_nothing(cli: Cli, args: list[str], message: str) -> None:
    _setup(cli, "mtg-a")
    assert_one_line_error(cli("replay", *args), contains=message)
    assert cli.store().list_notifications_for_meeting("mtg-a") == []
