"""CLI fixtures: a CliRunner bound to a fresh SQLite store per test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner, Result

from exec_assistant.cli import app
from exec_assistant.config import get_settings
from exec_assistant.models import PREP_EVENT_DETAIL_TYPE, PREP_EVENT_SOURCE, Meeting, User
from exec_assistant.store.sqlite import SQLiteStore
from tests.fakes.fixtures import fake_slack, fake_twilio

__all__ = ["fake_slack", "fake_twilio"]


@dataclass
class Cli:
    """Runs ``exec-assistant`` in-process against the test's store."""

    runner: CliRunner
    db: Path

    def __call__(self, *args: str, input: str | None = None) -> Result:
        get_settings.cache_clear()
        return self.runner.invoke(app, list(args), input=input, catch_exceptions=False)

    def store(self) -> SQLiteStore:
        return SQLiteStore(self.db)


def assert_one_line_error(result: Result, *, contains: str = "") -> None:
    """A failure ends with exactly one ``error:`` line on stderr, a non-zero code, no traceback."""
    assert result.exit_code != 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert contains in lines[0], lines[0]
    assert "Traceback" not in result.output


def add_user(cli: Cli, user_id: str = "usr-ceo", **fields: Any) -> User:
    """Store a user straight into the test's database (``name`` Ada unless given)."""
    return cli.store().put_user(User(user_id=user_id, name=fields.pop("name", "Ada"), **fields))


def add_meeting(
    cli: Cli, meeting_id: str = "mtg-1", *, hours: float = 2, prep_hours: float = 24
) -> Meeting:
    """Store a meeting of usr-ceo starting ``hours`` from now (its window open if < prep_hours)."""
    start = datetime.now(UTC) + timedelta(hours=hours)
    return cli.store().upsert_meeting_calendar(
        Meeting(
            meeting_id=meeting_id,
            user_id="usr-ceo",
            title=f"Meeting {meeting_id}",
            start_time=start,
            end_time=start + timedelta(hours=1),
            prep_hours_before=prep_hours,
        )
    )


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    db = tmp_path / "cli.db"
    monkeypatch.setenv("EXEC_ASSISTANT_STORE", f"sqlite:///{db}")
    monkeypatch.setenv("COLUMNS", "200")
    yield Cli(CliRunner(env={"COLUMNS": "200"}), db)
    get_settings.cache_clear()


@dataclass
class Capture:
    """An EventBridge bus whose prep events land in an SQS queue (moto delivers for real)."""

    bus: str
    sqs: Any
    queue_url: str

    def events(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]


@pytest.fixture
def eventbridge() -> Iterator[Capture]:
    with mock_aws():
        events = boto3.client("events", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        bus = "exec-assistant-test"
        events.create_event_bus(Name=bus)
        queue_url = sqs.create_queue(QueueName="capture")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        pattern = {"source": [PREP_EVENT_SOURCE], "detail-type": [PREP_EVENT_DETAIL_TYPE]}
        events.put_rule(Name="prep", EventBusName=bus, EventPattern=json.dumps(pattern))
        events.put_targets(Rule="prep", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
        yield Capture(bus=bus, sqs=sqs, queue_url=queue_url)
