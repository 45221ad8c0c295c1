"""The prep-notification pieces: rule, retries + DLQ, invoke permission, Scheduler group and role,
and that none of them exist with ``enable_prep_notification`` false."""

from __future__ import annotations

import json
from typing import Any

from tests.infra.conftest import ACCOUNT, REGION, Deployment

RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
QUEUE = "aws:sqs/queue:Queue"
PERMISSION = "aws:lambda/permission:Permission"
GROUP = "aws:scheduler/scheduleGroup:ScheduleGroup"
ROLE = "aws:iam/role:Role"
INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"

PATTERN = {
    "source": ["exec-assistant.calendar-monitor", "exec-assistant.reminders"],
    "detail-type": ["MeetingPrepRequired"],
}
TRIGGER_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:exec-assistant-prep-trigger-dev"
BUS_ARN = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/exec-assistant-bus-dev"
PREP_RULE = "exec-assistant-prep-required-dev"
RULE_ARN = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/exec-assistant-bus-dev/{PREP_RULE}"
DLQ_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:exec-assistant-prep-dlq-dev"


def _prep_rule(deployment: Deployment) -> Any:
    return deployment.one(RULE, name=f"exec-assistant-prep-required-{deployment.env}")


def test_rule_pattern_is_exactly_the_prep_event_on_the_stack_bus(dev: Deployment) -> None:
    rule = _prep_rule(dev)
    assert json.loads(rule["eventPattern"]) == PATTERN
    assert rule["eventBusName"] == "exec-assistant-bus-dev"
    assert "scheduleExpression" not in rule.inputs
    assert rule.state["arn"] == RULE_ARN


def test_pattern_sources_are_the_ones_the_package_publishes() -> None:
    from exec_assistant.models import PREP_EVENT_DETAIL_TYPE, PREP_EVENT_SOURCES

    assert set(PATTERN["source"]) == PREP_EVENT_SOURCES
    assert PATTERN["detail-type"] == [PREP_EVENT_DETAIL_TYPE]


def test_pattern_routes_both_sources_and_nothing_else_in_eventbridge() -> None:
    """The rendered pattern, given to (moto's) EventBridge matcher, routes what it should."""
    import boto3
    from moto import mock_aws

    from infra.prep_notification import EVENT_PATTERN

    with mock_aws():
        events, sqs = boto3.client("events"), boto3.client("sqs")
        queue_url = sqs.create_queue(QueueName="capture")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events.create_event_bus(Name="bus")
        events.put_rule(Name="prep", EventBusName="bus", EventPattern=json.dumps(EVENT_PATTERN))
        events.put_targets(Rule="prep", EventBusName="bus", Targets=[{"Id": "q", "Arn": queue_arn}])
        entries = [
            ("exec-assistant.calendar-monitor", "MeetingPrepRequired", "m1"),
            ("exec-assistant.reminders", "MeetingPrepRequired", "m2"),
            ("exec-assistant.calendar-monitor", "SomethingElse", "m3"),
            ("someone.else", "MeetingPrepRequired", "m4"),
        ]
        events.put_events(
            Entries=[
                {
                    "Source": source,
                    "DetailType": detail_type,
                    "Detail": json.dumps({"meeting_id": meeting, "user_id": "u"}),
                    "EventBusName": "bus",
                }
                for source, detail_type, meeting in entries
            ]
        )
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
        routed = {json.loads(m["Body"])["detail"]["meeting_id"] for m in messages}
    assert routed == {"m1", "m2"}


def test_target_is_the_prep_trigger_with_retry_policy_and_dlq(dev: Deployment) -> None:
    target = dev.one(TARGET, rule="exec-assistant-prep-required-dev")
    assert (
        target["arn"] == f"{TRIGGER_ARN}:live"
    )  # the SnapStart alias (tests/infra/test_snapstart.py)
    assert target["eventBusName"] == "exec-assistant-bus-dev"
    retry = target["retryPolicy"]
    assert retry["maximumRetryAttempts"] > 0
    assert 60 <= retry["maximumEventAgeInSeconds"] <= 86400
    assert target["deadLetterConfig"] == {"arn": DLQ_ARN}


def test_dlq_is_encrypted_keeps_messages_and_accepts_only_this_rule(dev: Deployment) -> None:
    queue = dev.one(QUEUE, name="exec-assistant-prep-dlq-dev")
    assert queue["sqsManagedSseEnabled"] is True
    assert queue["messageRetentionSeconds"] == 14 * 24 * 3600
    policy = dev.one("aws:sqs/queuePolicy:QueuePolicy", queueUrl=queue.state["url"]).policy()
    (statement,) = policy["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Resource"] == DLQ_ARN
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": RULE_ARN}}


def test_failed_async_invocations_also_land_in_the_dlq(dev: Deployment) -> None:
    config = dev.one(INVOKE_CONFIG, functionName="exec-assistant-prep-trigger-dev")
    assert config["destinationConfig"] == {"onFailure": {"destination": DLQ_ARN}}
    assert 0 <= config["maximumRetryAttempts"] <= 2


def test_eventbridge_may_invoke_the_trigger_only_from_the_rule(dev: Deployment) -> None:
    permission = dev.one(PERMISSION, function="exec-assistant-prep-trigger-dev")
    assert permission["action"] == "lambda:InvokeFunction"
    assert permission["principal"] == "events.amazonaws.com"
    assert permission["sourceArn"] == RULE_ARN


def test_scheduler_group_and_role_that_may_only_put_events_on_the_bus(dev: Deployment) -> None:
    group = dev.one(GROUP, name="exec-assistant-reminders-dev")
    role = dev.one(ROLE, name="exec-assistant-scheduler-role-dev")
    (trust,) = role.policy()["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": group.state["arn"]}
    }
    policy = dev.one(
        "aws:iam/rolePolicy:RolePolicy", name="exec-assistant-scheduler-policy-dev"
    ).policy()
    statement, dead_letters = policy["Statement"]
    assert statement["Action"] == ["events:PutEvents"]
    assert statement["Resource"] == [BUS_ARN]
    assert statement["Effect"] == "Allow"
    # undeliverable schedules go to the scheduler's own DLQ, and nowhere else
    assert dead_letters["Action"] == ["sqs:SendMessage"]
    assert dead_letters["Resource"] == [
        dev.one(QUEUE, name="exec-assistant-scheduler-dlq-dev").state["arn"]
    ]


def test_disabled_flag_removes_every_prep_notification_resource(disabled: Deployment) -> None:
    names = {r.get("name") for r in disabled.resources}
    assert "exec-assistant-prep-trigger-dev" not in names
    assert not [r for r in disabled.of_type(RULE) if "eventPattern" in r.inputs]
    # only the Slack bot's post-response DLQ, which does not depend on the flag
    assert [q["name"] for q in disabled.of_type(QUEUE)] == [
        "exec-assistant-slack-post-response-dlq-dev"
    ]
    assert not disabled.of_type("aws:sqs/queuePolicy:QueuePolicy")
    assert not disabled.of_type(GROUP)
    assert not disabled.of_type(INVOKE_CONFIG)
    assert {r["name"] for r in disabled.of_type(ROLE)} == {
        "exec-assistant-slack-bot-role-dev",
        "exec-assistant-calendar-monitor-role-dev",
    }
    assert {r["function"] for r in disabled.of_type(PERMISSION)} == {
        "exec-assistant-slack-bot-dev",
        "exec-assistant-calendar-monitor-dev",
    }
    assert {r["name"] for r in disabled.of_type("aws:lambda/function:Function")} == {
        "exec-assistant-slack-bot-dev",
        "exec-assistant-calendar-monitor-dev",
    }


ANSWER_PARTS = ("webhooks", "api-dev-twilio", "actions", "email", "action-link-secret")


def test_disabled_keeps_the_rest_of_the_stack(disabled: Deployment, dev: Deployment) -> None:
    prep_types = {RULE, TARGET, QUEUE, GROUP, INVOKE_CONFIG, ROLE, PERMISSION}
    dev_rest = {
        (r.type, r.name)
        for r in dev.resources
        if r.type not in prep_types
        and "prep-trigger" not in r.name
        and "scheduler" not in r.name
        and "prep-dlq" not in r.name
        # the alarms on what only exists with prep notifications
        and r.name
        not in {
            "exec-assistant-alarm-trigger-dlq-dev",
            "exec-assistant-alarm-notification-exhausted-dev",
        }
        and "digest" not in r.name  # the digest's schedules live in the scheduler group
        # issue 14's answers: the webhooks and their routes, SES's configuration set and events
        and not any(part in r.name for part in ANSWER_PARTS)
    }
    disabled_rest = {(r.type, r.name) for r in disabled.resources if r.type not in prep_types}
    assert dev_rest == disabled_rest


def test_calendar_monitor_runs_on_a_schedule_rule(any_deployment: Deployment) -> None:
    env = any_deployment.env
    rule = any_deployment.one(RULE, name=f"exec-assistant-calendar-monitor-schedule-{env}")
    assert rule["scheduleExpression"] == "rate(5 minutes)"
    assert "eventBusName" not in rule.inputs  # schedules only run on the default bus
    target = any_deployment.one(TARGET, rule=rule["name"])
    monitor = any_deployment.function("calendar-monitor")
    assert target["arn"] == monitor.state["arn"]
    permission = any_deployment.one(PERMISSION, function=monitor["name"])
    assert permission["principal"] == "events.amazonaws.com"
    assert permission["sourceArn"] == rule.state["arn"]


def test_digest_rule_routes_only_the_digest_events_to_the_digest_function(
    dev: Deployment,
) -> None:
    """The morning digest (docs/digest.md): a rule on the stack bus matching exactly the events
    the package's digest schedules put there, targeting the digest handler."""
    from exec_assistant.workflows.digest import DIGEST_DETAIL_TYPE, DIGEST_EVENT_SOURCE

    rule = dev.one(RULE, name="exec-assistant-morning-digest-dev")
    assert json.loads(rule["eventPattern"]) == {
        "source": [DIGEST_EVENT_SOURCE],
        "detail-type": [DIGEST_DETAIL_TYPE],
    }
    assert rule["eventBusName"] == "exec-assistant-bus-dev"
    function = dev.one("aws:lambda/function:Function", name="exec-assistant-digest-dev")
    assert function["handler"] == "exec_assistant.workflows.digest.lambda_handler"
