"""``doctor --aws``, ``dlq drain`` and ``replay --aws`` against a deployed stack on moto (SQS,
CloudWatch, Secrets Manager, SES, EventBridge, DynamoDB), Slack and Twilio on the loopback fakes.

The stack is what infra/ deploys, by name (``exec-assistant-{component}-prod``); the bus routes
prep events to a capture queue, so what the CLI republishes is read back as EventBridge delivers
it, then run through the real prep trigger to show the ledger keeps the re-drive free of
duplicates.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from exec_assistant.aws import client as cached_client
from exec_assistant.cli.aws_doctor import run_aws_checks, secret_checks
from exec_assistant.cli.checks import Status
from exec_assistant.config import Settings
from exec_assistant.models import (
    PREP_EVENT_DETAIL_TYPE,
    PREP_EVENT_SOURCE,
    REMINDER_EVENT_SOURCE,
    Channel,
    Meeting,
    User,
)
from exec_assistant.notifications.types import NotificationChannel
from exec_assistant.runtime import build_runtime
from exec_assistant.store.sqlite import SQLiteStore
from exec_assistant.workflows.prep_trigger_handler import handle_event
from tests.cli.conftest import Cli
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.workflows.conftest import CountingChannel

ENV = "prod"
REGION = "us-east-1"
TOKEN = "xoxb-prod-token-0000"
TWILIO_SID = "AC" + "0" * 32
TWILIO_TOKEN = "twilio-token-prod-0000"
ALARMS = ("trigger-dlq", "scheduler-dlq", "prep-trigger-errors", "notification-exhausted")


def _name(component: str) -> str:
    return f"exec-assistant-{component}-{ENV}"


@dataclass
class Stack:
    sqs: Any
    cloudwatch: Any
    secrets: Any
    capture_url: str
    ses_account: dict[str, Any] = field(
        default_factory=lambda: {
            "SendingEnabled": True,
            "ProductionAccessEnabled": True,
            "EnforcementStatus": "HEALTHY",
        }
    )

    def queue_url(self, component: str) -> str:
        return str(self.sqs.get_queue_url(QueueName=_name(component))["QueueUrl"])

    def put(self, component: str, body: Any) -> None:
        text = body if isinstance(body, str) else json.dumps(body)
        self.sqs.send_message(QueueUrl=self.queue_url(component), MessageBody=text)

    def depth(self, component: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url(component),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(v) for v in attributes.values())

    def captured(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(
            QueueUrl=self.capture_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]


@pytest.fixture
def stack(
    cli: Cli,
    fake_slack: FakeSlackAPI,
    fake_twilio: FakeTwilioAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Stack]:
    monkeypatch.setenv("SLACK_API_URL", fake_slack.url)
    monkeypatch.setenv("TWILIO_API_URL", fake_twilio.url)
    fake_slack.token = TOKEN
    fake_twilio.auth_token = TWILIO_TOKEN
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        for component in ("prep-dlq", "scheduler-dlq", "post-response-dlq"):
            sqs.create_queue(QueueName=_name(component))
        secrets = boto3.client("secretsmanager", region_name=REGION)
        for secret, value in (
            ("slack-bot-token", TOKEN),
            ("slack-signing-secret", "signing-secret-prod"),
            ("twilio-account-sid", TWILIO_SID),
            ("twilio-auth-token", TWILIO_TOKEN),
            ("twilio-from-number", "+15005550006"),
        ):
            secrets.create_secret(Name=_name(secret), SecretString=value)
        cloudwatch = boto3.client("cloudwatch", region_name=REGION)
        for what in ALARMS:
            _alarm(cloudwatch, _name(f"alarm-{what}"), "OK")
        # another environment's alarm in ALARM must not count
        _alarm(cloudwatch, "exec-assistant-alarm-trigger-dlq-dev", "ALARM")
        _monitor_ran(cloudwatch, datetime.now(UTC) - timedelta(minutes=4))
        events = boto3.client("events", region_name=REGION)
        events.create_event_bus(Name=_name("bus"))
        capture_url = sqs.create_queue(QueueName="capture")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=capture_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sources = [PREP_EVENT_SOURCE, REMINDER_EVENT_SOURCE]
        pattern = {"source": sources, "detail-type": [PREP_EVENT_DETAIL_TYPE]}
        events.put_rule(Name="prep", EventBusName=_name("bus"), EventPattern=json.dumps(pattern))
        events.put_targets(
            Rule="prep", EventBusName=_name("bus"), Targets=[{"Id": "q", "Arn": arn}]
        )
        stack = Stack(sqs=sqs, cloudwatch=cloudwatch, secrets=secrets, capture_url=capture_url)
        _create_tables()
        _answer_get_account(stack)
        yield stack


def _create_tables() -> None:
    """The stack's DynamoDB tables, as infra/tables.py deploys them."""
    from exec_assistant.cli.deployed import deployed_settings
    from exec_assistant.store.dynamodb import DynamoDBStore
    from exec_assistant.store.feeds import DynamoDBFeedStore

    DynamoDBStore.from_settings(deployed_settings(ENV)).create_tables()
    DynamoDBFeedStore(_name("feeds")).create_table()


def _alarm(cloudwatch: Any, name: str, state: str) -> None:
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace="ExecAssistant",
        MetricName="X",
        Statistic="Sum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")


def _monitor_ran(cloudwatch: Any, at: datetime) -> None:
    cloudwatch.put_metric_data(
        Namespace="ExecAssistant",
        MetricData=[
            {
                "MetricName": "CalendarMonitorRun",
                "Dimensions": [{"Name": "environment", "Value": ENV}],
                "Timestamp": at,
                "Value": 1,
                "Unit": "Count",
            }
        ],
    )


def _answer_get_account(stack: Stack) -> None:
    """moto has no SES v2 ``GetAccount``: answer it on the CLI's own client, as SES would."""

    from botocore.awsrequest import AWSResponse, HTTPHeaders

    def answer(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        http = AWSResponse("https://email.us-east-1.amazonaws.com/", 200, HTTPHeaders(), None)
        return http, {"ResponseMetadata": {"HTTPStatusCode": 200}, **stack.ses_account}

    cached_client("sesv2").meta.events.register("before-call.sesv2.GetAccount", answer)


def _doctor(cli: Cli, *args: str) -> tuple[int, dict[str, dict[str, str]]]:
    result = cli("doctor", "--aws", ENV, "--json", *args)
    rows = json.loads(result.stdout)
    return result.exit_code, {row["check"]: row for row in rows}


# --- doctor --aws ----------------------------------------------------------------------------


def test_a_healthy_stack_is_all_ready(cli: Cli, stack: Stack) -> None:
    code, rows = _doctor(cli)
    assert code == 0, [r for r in rows.values() if r["status"] != "ready"]
    assert rows["DLQ trigger"]["status"] == "ready"
    assert rows["DLQ scheduler"]["status"] == "ready"
    assert rows["alarms"]["detail"].startswith("4, none in ALARM")
    assert rows["calendar monitor"]["status"] == "ready"
    assert rows["Slack token"]["status"] == "ready"
    assert "bot user" in rows["Slack token"]["detail"]
    assert rows["Twilio"] == {
        "check": "Twilio",
        "status": "ready",
        "detail": "account status active",
    }
    assert rows["SES"]["status"] == "ready"
    for secret in ("slack_bot_token", "twilio_auth_token"):
        assert rows[f"secret {secret}"]["status"] == "ready"
        assert "(0 d ago)" in rows[f"secret {secret}"]["detail"]
    dumped = json.dumps(rows)
    assert TOKEN not in dumped and TWILIO_TOKEN not in dumped


def test_messages_in_a_dlq_and_an_alarm_need_action(cli: Cli, stack: Stack) -> None:
    stack.put("prep-dlq", {"id": "x"})
    stack.put("prep-dlq", {"id": "y"})
    stack.cloudwatch.set_alarm_state(
        AlarmName=_name("alarm-notification-exhausted"), StateValue="ALARM", StateReason="test"
    )
    code, rows = _doctor(cli)
    assert code == 1
    assert rows["DLQ trigger"]["status"] == "error"
    assert (
        "2 message(s); exec-assistant dlq drain --queue trigger --env prod"
        in (rows["DLQ trigger"]["detail"])
    )
    assert rows["alarms"]["status"] == "error"
    assert rows["alarms"]["detail"] == (
        "1 in ALARM: exec-assistant-alarm-notification-exhausted-prod (docs/runbook.md)"
    )


def test_meetings_from_an_older_version_name_the_upgrade(cli: Cli, stack: Stack) -> None:
    from exec_assistant.store.dynamodb_codec import item_fields, to_av

    start = datetime.now(UTC) + timedelta(hours=3)
    old = Meeting(
        meeting_id="mtg-old",
        user_id="usr-ceo",
        title="Board",
        start_time=start,
        end_time=start + timedelta(hours=1),
    )
    boto3.client("dynamodb", region_name=REGION).put_item(
        TableName=_name("meetings"), Item={k: to_av(v) for k, v in item_fields(old).items()}
    )
    code, rows = _doctor(cli)
    assert code == 1
    assert rows["store indexes"]["status"] == "error"
    assert (
        "exec-assistant-meetings-prod: 1 of 1 item(s) examined lack prep_opens_at"
        in (rows["store indexes"]["detail"])
    )
    assert "run exec-assistant store upgrade --aws prod" in rows["store indexes"]["detail"]

    assert cli("store", "upgrade", "--aws", ENV).exit_code == 0
    code, rows = _doctor(cli)
    assert code == 0, rows["store indexes"]


def test_a_monitor_that_stopped_running_needs_action(cli: Cli, stack: Stack) -> None:
    checks = run_aws_checks(ENV, Settings(), now=datetime.now(UTC) + timedelta(minutes=30))
    (monitor,) = [c for c in checks if c.check == "calendar monitor"]
    assert monitor.status is Status.ERROR
    assert "min ago" in monitor.detail
    later = run_aws_checks(ENV, Settings(), now=datetime.now(UTC) + timedelta(hours=7))
    (never,) = [c for c in later if c.check == "calendar monitor"]
    assert never.detail == "no completed run in the last 6 h"


def test_old_secrets_are_flagged_with_the_rotate_command(stack: Stack) -> None:
    later = datetime.now(UTC) + timedelta(days=120)
    rows = {c.check: c for c in secret_checks(ENV, later, max_age_days=90)}
    assert rows["secret slack_bot_token"].status is Status.ERROR
    assert "exec-assistant secrets rotate slack-bot-token" in rows["secret slack_bot_token"].detail


def test_missing_secrets_a_bad_token_and_ses_problems(
    cli: Cli, stack: Stack, fake_slack: FakeSlackAPI
) -> None:
    for secret in ("twilio-account-sid", "twilio-auth-token", "twilio-from-number"):
        stack.secrets.delete_secret(SecretId=_name(secret), ForceDeleteWithoutRecovery=True)
    fake_slack.token = "xoxb-another-token"
    stack.ses_account.update(ProductionAccessEnabled=False)
    code, rows = _doctor(cli)
    assert code == 1
    assert rows["Twilio"]["status"] == "missing"
    assert rows["secret twilio_auth_token"]["status"] == "missing"
    assert rows["Slack token"]["status"] == "error"
    assert "invalid_auth" in rows["Slack token"]["detail"]
    assert rows["SES"]["status"] == "warning"
    assert "sandbox" in rows["SES"]["detail"]
    stack.ses_account.update(SendingEnabled=False)
    _, rows = _doctor(cli)
    assert rows["SES"] == {"check": "SES", "status": "error", "detail": "sending is disabled"}


def test_a_refused_twilio_token_needs_action(
    cli: Cli, stack: Stack, fake_twilio: FakeTwilioAPI
) -> None:
    fake_twilio.auth_token = "a-newer-token-0000"
    code, rows = _doctor(cli)
    assert code == 1
    assert rows["Twilio"]["status"] == "error"
    assert "HTTP 401, error 20003" in rows["Twilio"]["detail"]
    assert TWILIO_TOKEN not in json.dumps(rows)


def test_a_required_secret_missing_is_an_error(cli: Cli, stack: Stack) -> None:
    stack.secrets.delete_secret(
        SecretId=_name("slack-signing-secret"), ForceDeleteWithoutRecovery=True
    )
    code, rows = _doctor(cli)
    assert code == 1
    assert rows["secret slack_signing_secret"]["status"] == "error"


def test_the_table_is_one_screen(cli: Cli, stack: Stack) -> None:
    result = cli("doctor", "--aws", ENV)
    assert result.exit_code == 0
    assert "exec-assistant doctor --aws prod" in result.stdout
    assert len(result.stdout.splitlines()) < 40


# --- dlq drain -------------------------------------------------------------------------------


def _envelope(meeting_id: str, event_id: str = "evt-1", **detail: Any) -> dict[str, Any]:
    return {
        "version": "0",
        "id": event_id,
        "source": PREP_EVENT_SOURCE,
        "detail-type": PREP_EVENT_DETAIL_TYPE,
        "account": "123456789012",
        "time": "2026-12-03T09:00:00Z",
        "region": REGION,
        "resources": [],
        "detail": {"meeting_id": meeting_id, "user_id": "usr-ceo", **detail},
    }


def _lambda_failure(envelope: dict[str, Any]) -> dict[str, Any]:
    """What Lambda's on-failure destination writes after the async retries."""
    return {
        "version": "1.0",
        "timestamp": "2026-12-03T09:03:00.000Z",
        "requestContext": {
            "requestId": "0c3c5ab6-1b3e-4d3b-9d6e-1f3c1c6f0b1a",
            "functionArn": f"arn:aws:lambda:{REGION}:123456789012:function:{_name('prep-trigger')}",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": envelope,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
        "responsePayload": {"errorType": "StoreUnavailableError", "errorMessage": "throttled"},
    }


def _drain(cli: Cli, *args: str) -> tuple[int, dict[str, Any]]:
    result = cli("dlq", "drain", "--env", ENV, "--json", *args)
    return result.exit_code, json.loads(result.stdout)


def test_trigger_dlq_is_republished_and_unreadable_messages_are_kept(
    cli: Cli, stack: Stack
) -> None:
    stack.put("prep-dlq", _envelope("mtg-a"))
    stack.put("prep-dlq", _lambda_failure(_envelope("mtg-b", cycle="c2")))
    stack.put("prep-dlq", "not json at all")
    code, summary = _drain(cli, "--queue", "trigger")

    assert code == 1  # the unreadable one needs a look
    assert summary["counts"] == {"republished": 2, "kept": 1}
    by_meeting = {i["meeting_id"]: i for i in summary["items"]}
    assert by_meeting["mtg-a"]["key"] == "mtg-a#prep"
    assert by_meeting["mtg-b"]["key"] == "mtg-b#prep:c2"
    assert "RetriesExhausted StoreUnavailableError" in by_meeting["mtg-b"]["detail"]
    assert by_meeting[None]["detail"].startswith("body is not JSON")
    events = stack.captured()
    assert sorted(e["detail"]["meeting_id"] for e in events) == ["mtg-a", "mtg-b"]
    assert {e["source"] for e in events} == {PREP_EVENT_SOURCE}
    assert stack.depth("prep-dlq") == 1  # only the unreadable message stays


def test_dry_run_changes_nothing(cli: Cli, stack: Stack) -> None:
    stack.put("prep-dlq", _envelope("mtg-a"))
    stack.put("scheduler-dlq", {"meeting_id": "mtg-a", "user_id": "usr-ceo", "reminder_id": "r1"})
    for queue in ("trigger", "scheduler"):
        code, summary = _drain(cli, "--queue", queue, "--dry-run")
        assert code == 0
        assert summary["counts"] == {"planned": 1}
    assert stack.captured() == []
    assert stack.depth("prep-dlq") == 1
    assert stack.depth("scheduler-dlq") == 1
    # released at once: a real drain right after finds them
    assert _drain(cli, "--queue", "trigger")[1]["counts"] == {"republished": 1}


def test_scheduler_dlq_is_republished_as_the_reminder_it_was(cli: Cli, stack: Stack) -> None:
    detail = {
        "meeting_id": "mtg-a",
        "user_id": "usr-ceo",
        "reminder_id": "esc-1",
        "escalation": True,
    }
    stack.put("scheduler-dlq", detail)
    code, summary = _drain(cli, "--queue", "scheduler")
    assert code == 0
    assert summary["items"][0]["key"] == "mtg-a#reminder:esc-1"
    (event,) = stack.captured()
    assert event["source"] == REMINDER_EVENT_SOURCE
    assert event["detail"] == detail
    assert stack.depth("scheduler-dlq") == 0


def test_post_response_records_are_reported_and_removed(cli: Cli, stack: Stack) -> None:
    record = {
        "kind": "slack.post_response",
        "listener": "start_prep",
        "slack_user_id": "U0EXEC",
        "error_class": "transient",
        "error": "TransientError: DynamoDB throttled",
    }
    stack.put("post-response-dlq", record)
    code, summary = _drain(cli, "--queue", "post-response")
    assert code == 0
    (item,) = summary["items"]
    assert item["action"] == "removed"
    assert "start_prep for U0EXEC: transient" in item["detail"]
    assert stack.captured() == []
    assert stack.depth("post-response-dlq") == 0


def test_bad_queue_name_is_a_usage_error(cli: Cli, stack: Stack) -> None:
    result = cli("dlq", "drain", "--queue", "everything", "--env", ENV)
    assert result.exit_code == 2
    assert "trigger, scheduler, post-response" in result.stderr


@pytest.fixture
def trigger(tmp_path: Path) -> Iterator[tuple[Callable[[dict[str, Any]], str], CountingChannel]]:
    """The real prep trigger on a local runtime, with a counting Slack channel."""
    slack = CountingChannel(Channel.SLACK)
    db = tmp_path / "trigger.db"
    channels: dict[Channel, NotificationChannel] = {Channel.SLACK: slack}
    runtime = build_runtime(
        Settings(exec_assistant_store=f"sqlite:///{db}"), store=SQLiteStore(db), channels=channels
    )
    runtime.store.put_user(User(user_id="usr-ceo", name="Ada", slack_user_id="U0EXEC"))
    start = datetime.now(UTC) + timedelta(hours=3)
    runtime.store.upsert_meeting_calendar(
        Meeting(
            meeting_id="mtg-a",
            user_id="usr-ceo",
            title="Board",
            start_time=start,
            end_time=start + timedelta(hours=1),
        )
    )
    yield (lambda envelope: handle_event(envelope, runtime).action), slack
    runtime.close()


def test_a_redriven_event_already_delivered_sends_nothing_again(
    cli: Cli,
    stack: Stack,
    trigger: tuple[Callable[[dict[str, Any]], str], CountingChannel],
) -> None:
    """The notification went out, yet its event also reached the DLQ (a response lost after the
    send, a duplicate delivery): draining re-drives it and the ledger answers "duplicate"."""
    deliver, slack = trigger
    assert deliver(_envelope("mtg-a")) == "notified"
    stack.put("prep-dlq", _lambda_failure(_envelope("mtg-a")))
    stack.put("prep-dlq", _envelope("mtg-a", event_id="evt-2"))
    assert _drain(cli, "--queue", "trigger")[1]["counts"] == {"republished": 2}

    assert [deliver(event) for event in stack.captured()] == ["duplicate", "duplicate"]
    assert len(slack.sent) == 1


def test_a_redriven_event_never_delivered_is_sent_once(
    cli: Cli,
    stack: Stack,
    trigger: tuple[Callable[[dict[str, Any]], str], CountingChannel],
) -> None:
    deliver, slack = trigger
    stack.put("prep-dlq", _lambda_failure(_envelope("mtg-a")))
    stack.put("prep-dlq", _envelope("mtg-a", event_id="evt-2"))  # the same event, twice
    _drain(cli, "--queue", "trigger")
    assert sorted(deliver(event) for event in stack.captured()) == ["duplicate", "notified"]
    assert len(slack.sent) == 1


# --- replay --aws ----------------------------------------------------------------------------


def test_replay_aws_reads_the_stacks_tables_and_publishes_on_its_bus(
    cli: Cli, stack: Stack
) -> None:
    from exec_assistant.cli.deployed import deployed_settings
    from exec_assistant.models import LedgerState
    from exec_assistant.store.dynamodb import DynamoDBStore

    store = DynamoDBStore.from_settings(deployed_settings(ENV))
    store.create_tables()
    store.put_user(User(user_id="usr-ceo", name="Ada", slack_user_id="U0EXEC"))
    start = datetime.now(UTC) + timedelta(hours=3)
    for meeting_id in ("mtg-a", "mtg-b"):
        store.upsert_meeting_calendar(
            Meeting(
                meeting_id=meeting_id,
                user_id="usr-ceo",
                title="Board",
                start_time=start,
                end_time=start + timedelta(hours=1),
            )
        )
    now = datetime.now(UTC)
    claim = store.claim_notification("mtg-a#prep:c7", "mtg-a", owner="w", now=now, lease_seconds=60)
    assert claim.record.key == "mtg-a#prep:c7"
    store.finish_notification(
        "mtg-a#prep:c7",
        owner="w",
        state=LedgerState.DELIVERED,
        delivered_channel=Channel.SLACK,
        now=now,
    )

    result = cli("replay", "--aws", ENV, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["mode"] == f"bus {_name('bus')}"
    cycles = {i["meeting_id"]: i["cycle"] for i in summary["items"]}
    # the delivered meeting gets its delivered cycle again: the deployed ledger makes it a no-op
    assert cycles == {"mtg-a": "c7", "mtg-b": None}
    details = {e["detail"]["meeting_id"]: e["detail"] for e in stack.captured()}
    assert set(details) == {"mtg-a", "mtg-b"}
    assert details["mtg-a"]["cycle"] == "c7"
