"""``exec-assistant store upgrade`` and doctor's ``store indexes`` row: against DynamoDB on moto
(items written as older versions wrote them, with boto3) and a SQLite file (nothing to do)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from rich.console import Console

from exec_assistant.aws import client as cached_client
from exec_assistant.cli import store_upgrade
from exec_assistant.cli.deployed import deployed_settings
from exec_assistant.config import Settings
from exec_assistant.models import Meeting, MeetingStatus
from exec_assistant.store.dynamodb import DynamoDBStore
from exec_assistant.store.dynamodb_codec import item_fields, to_av
from exec_assistant.store.feeds import CalendarFeed, DynamoDBFeedStore
from tests.cli.conftest import Cli, assert_one_line_error


class Deployment:
    """A deployment's tables (``env``) on moto, with items from older versions."""

    def __init__(self, env: str) -> None:
        self.env = env
        self.store = DynamoDBStore.from_settings(Settings(environment=env))
        self.store.create_tables()
        self.feeds = DynamoDBFeedStore(f"exec-assistant-feeds-{env}")
        self.feeds.create_table()
        self.client = boto3.client("dynamodb", region_name="us-east-1")

    def meeting(self, meeting_id: str, *, hours: float = 2) -> Meeting:
        start = datetime.now(UTC) + timedelta(hours=hours)
        return Meeting(
            meeting_id=meeting_id,
            user_id="usr-ceo",
            title=f"Meeting {meeting_id}",
            start_time=start,
            end_time=start + timedelta(hours=1),
        )

    def put_old_meetings(self, count: int) -> None:
        for n in range(count):
            item = {k: to_av(v) for k, v in item_fields(self.meeting(f"m-old-{n}")).items()}
            self.client.put_item(TableName=f"exec-assistant-meetings-{self.env}", Item=item)

    def put_old_feed(self) -> None:
        feed = CalendarFeed(
            feed_id="feed-old",
            user_id="usr-ceo",
            url="https://calendar.example.com/basic.ics",
            next_check_at=datetime.now(UTC) - timedelta(minutes=1),
        )
        self.client.put_item(
            TableName=f"exec-assistant-feeds-{self.env}",
            Item={
                "feed_id": {"S": feed.feed_id},
                "user_id": {"S": feed.user_id},
                "data": {"S": feed.model_dump_json()},
            },
        )

    def visible(self) -> tuple[int, int]:
        """(meetings the calendar monitor's pass lists, feeds due now)."""
        now = datetime.now(UTC)
        listed = self.store.list_meetings_in_prep_window(MeetingStatus.DISCOVERED, now)
        return len(listed), len(self.feeds.due_feeds(now))


@pytest.fixture
def dynamodb(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    monkeypatch.setenv("EXEC_ASSISTANT_STORE", "dynamodb")
    monkeypatch.setenv("ENVIRONMENT", "staging")
    with mock_aws():
        yield Deployment("staging")


def _json(cli: Cli, *args: str) -> tuple[int, dict[str, Any]]:
    result = cli("store", "upgrade", "--json", *args)
    return result.exit_code, json.loads(result.stdout)


def test_sqlite_has_nothing_to_do(cli: Cli) -> None:
    result = cli("store", "upgrade")
    assert result.exit_code == 0, result.output
    assert "nothing to do" in result.stdout
    assert "migrates when opened" in result.stdout
    code, report = _json(cli)
    assert (code, report["store"], report["tables"]) == (0, "sqlite", [])


def test_dry_run_counts_then_the_upgrade_makes_old_items_visible(
    cli: Cli, dynamodb: Deployment
) -> None:
    dynamodb.put_old_meetings(3)
    dynamodb.store.upsert_meeting_calendar(dynamodb.meeting("m-new"))
    dynamodb.put_old_feed()
    assert dynamodb.visible() == (1, 0)

    dry = cli("store", "upgrade", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "dry run: 4 item(s) would be updated; nothing written" in dry.stdout
    assert "exec-assistant-meetings-staging" in dry.stdout
    assert dynamodb.visible() == (1, 0)

    code, report = _json(cli)
    assert code == 0
    counts = {t["table"]: (t["scanned"], t["missing"], t["updated"]) for t in report["tables"]}
    assert counts == {"meetings": (4, 3, 3), "feeds": (1, 1, 1)}
    assert all(t["complete"] for t in report["tables"])
    assert dynamodb.visible() == (4, 1)

    again = cli("store", "upgrade")
    assert again.exit_code == 0, again.output
    assert "0 item(s) updated" in again.stdout
    assert "nothing to do" in cli("store", "upgrade", "--dry-run").stdout


def test_aws_reaches_the_stack_by_its_names(cli: Cli) -> None:
    with mock_aws():
        prod = Deployment("prod")
        prod.put_old_meetings(2)
        result = cli("store", "upgrade", "--aws", "prod", "--page-size", "1")
        assert result.exit_code == 0, result.output
        assert "2 item(s) updated" in result.stdout
        assert "DynamoDB tables exec-assistant-*-prod" in result.stdout
        assert prod.visible() == (2, 0)


def test_an_unreadable_item_fails_the_command_after_the_rest(
    cli: Cli, dynamodb: Deployment
) -> None:
    dynamodb.put_old_meetings(2)
    dynamodb.client.put_item(
        TableName="exec-assistant-meetings-staging",
        Item={"meeting_id": {"S": "m-broken"}, "status": {"S": "discovered"}},
    )
    result = cli("store", "upgrade")
    assert_one_line_error(result, contains="1 item(s) could not be read")
    assert result.exit_code == 1
    assert "m-broken" in result.stderr
    assert "2 item(s) updated" in result.stdout
    assert dynamodb.visible() == (2, 0)


def test_throttled_midway_says_so_and_a_second_run_finishes(
    cli: Cli, dynamodb: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    dynamodb.put_old_meetings(5)
    client = cached_client("dynamodb")
    real = client.update_item
    sent: list[int] = []

    def throttled(**kwargs: Any) -> Any:
        sent.append(1)
        if len(sent) == 3:
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "UpdateItem"
            )
        return real(**kwargs)

    monkeypatch.setattr(client, "update_item", throttled)
    result = cli("store", "upgrade", "--page-size", "2")
    assert_one_line_error(result, contains="run the command again")
    assert result.exit_code == 1
    assert "ThrottlingException" in result.stderr
    assert "(stopped)" in result.stdout  # what was done is shown
    assert dynamodb.visible() == (2, 0)

    monkeypatch.setattr(client, "update_item", real)
    code, report = _json(cli)
    assert code == 0
    assert report["tables"][0]["updated"] == 3
    assert dynamodb.visible() == (5, 0)


def test_missing_tables_are_a_configuration_error(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXEC_ASSISTANT_STORE", "dynamodb")
    with mock_aws():
        result = cli("store", "upgrade")
    assert_one_line_error(result, contains="does not exist")
    assert result.exit_code == 3


def test_bad_page_size_is_a_usage_error(cli: Cli) -> None:
    result = cli("store", "upgrade", "--page-size", "0")
    assert result.exit_code == 2
    assert "--page-size" in result.stderr


def test_progress_shows_running_counts_on_a_terminal(
    cli: Cli, dynamodb: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    dynamodb.put_old_meetings(3)
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=120)
    monkeypatch.setattr(store_upgrade, "err", lambda: terminal)
    result = cli("store", "upgrade", "--page-size", "1")
    assert result.exit_code == 0, result.output
    assert "exec-assistant-meetings-staging: 3 scanned, 3 lacking, 3 updated" in screen.getvalue()


def test_doctor_names_the_command_until_the_upgrade_ran(cli: Cli, dynamodb: Deployment) -> None:
    dynamodb.put_old_meetings(2)
    rows = {r["check"]: r for r in json.loads(cli("doctor", "--json").stdout)}
    row = rows["store indexes"]
    assert row["status"] == "error"
    assert "2 of 2 item(s) examined lack prep_opens_at" in row["detail"]
    assert "run exec-assistant store upgrade" in row["detail"]

    assert cli("store", "upgrade").exit_code == 0
    rows = {r["check"]: r for r in json.loads(cli("doctor", "--json").stdout)}
    assert rows["store indexes"]["status"] == "ready"
    assert "all 2 item(s) have prep_opens_at" in rows["store indexes"]["detail"]


def test_doctor_examines_one_bounded_page(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_upgrade, "DOCTOR_SAMPLE", 3)
    with mock_aws():
        prod = Deployment("prod")
        prod.put_old_meetings(7)
        check = store_upgrade.index_check(deployed_settings("prod"), aws="prod")
        assert check.status == "error"
        assert "exec-assistant-meetings-prod: 3 of 3 item(s) examined lack" in check.detail
        prod.store.index_fill_target().fill()
        check = store_upgrade.index_check(deployed_settings("prod"), aws="prod")
    assert check.status == "ready"
    assert "none of the first 3 item(s) lacks prep_opens_at" in check.detail
    assert "exec-assistant store upgrade --aws prod --dry-run counts them all" in check.detail


def test_doctor_on_sqlite_has_nothing_to_check(cli: Cli) -> None:
    rows = {r["check"]: r for r in json.loads(cli("doctor", "--json").stdout)}
    assert rows["store indexes"] == {
        "check": "store indexes",
        "status": "ready",
        "detail": "SQLite: migrated when opened",
    }
