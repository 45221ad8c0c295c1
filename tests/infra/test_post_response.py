"""The Slack bot's post-response dead-letter queue: in every stack, watched by its own alarm on
the stack's alarm topic, and known to the bot (and only the bot) by its URL."""

from __future__ import annotations

import pytest

from tests.infra.conftest import ACCOUNT, REGION, Deployment

QUEUE = "aws:sqs/queue:Queue"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "aws:sns/topic:Topic"


@pytest.mark.parametrize("scenario", ["dev", "prod", "disabled"])
def test_the_queue_and_its_alarm_exist_in_every_stack(scenario: str) -> None:
    from tests.infra.conftest import deployment

    deployed = deployment(scenario)
    queue = deployed.one(QUEUE, name=f"exec-assistant-slack-post-response-dlq-{deployed.env}")
    assert queue["sqsManagedSseEnabled"] is True
    assert queue["messageRetentionSeconds"] == 14 * 24 * 3600
    deployed.one(ALARM, name=f"exec-assistant-slack-post-response-failures-{deployed.env}")


def test_the_alarm_fires_on_the_first_record_and_notifies_the_alarm_topic(
    dev: Deployment,
) -> None:
    alarm = dev.one(ALARM, name="exec-assistant-slack-post-response-failures-dev")
    assert (alarm["namespace"], alarm["metricName"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
    )
    assert alarm["dimensions"] == {"QueueName": "exec-assistant-slack-post-response-dlq-dev"}
    assert (alarm["comparisonOperator"], alarm["threshold"]) == (
        "GreaterThanOrEqualToThreshold",
        1,
    )
    assert (alarm["evaluationPeriods"], alarm["treatMissingData"]) == (1, "notBreaching")
    topic = dev.arn(TOPIC, "exec-assistant-alarms-dev")
    assert alarm["alarmActions"] == [topic]
    assert alarm["okActions"] == [topic]
    assert "dlq drain --queue post-response" in alarm["alarmDescription"]


def test_the_slack_bot_gets_the_queue_url(dev: Deployment) -> None:
    variables = dev.function("slack-bot")["environment"]["variables"]
    assert variables["POST_RESPONSE_DLQ_URL"] == (
        f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/exec-assistant-slack-post-response-dlq-dev"
    )
    assert "POST_RESPONSE_DLQ_URL" not in dev.function("prep-trigger")["environment"]["variables"]
    assert dev.outputs["slack_post_response_dlq_url"].endswith(
        "/exec-assistant-slack-post-response-dlq-dev"
    )
