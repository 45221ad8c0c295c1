"""The Slack bot's post-response dead-letter queue and its alarm.

The bot acknowledges Slack at once and does a click's work after the response
(``exec_assistant/interfaces/post_response.py``): transient failures are retried within the
invocation; work that still fails, or no longer fits the invocation's deadline, is sent as a JSON
record (listener, Slack user, reason, attempts, error class — never the payload) to
``exec-assistant-slack-post-response-dlq-{env}``, and the executive is told in Slack. The queue's
depth (``AWS/SQS ApproximateNumberOfMessagesVisible``) is the metric; the alarm
``exec-assistant-slack-post-response-failures-{env}`` fires on the first record and notifies the
stack's alarm topic (``infra/alarms.py``) on ALARM and OK. ``exec-assistant dlq drain --queue
post-response`` reports and removes the records (docs/runbook.md).
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.config import StackConfig
from infra.naming import resource_name, tags
from infra.rule_delivery import dead_letter_queue

ALARM_PERIOD_S = 300


def create_post_response_dlq(cfg: StackConfig) -> aws.sqs.Queue:
    return dead_letter_queue(resource_name("slack-post-response-dlq", cfg.env), cfg)


def create_post_response_alarm(
    cfg: StackConfig, queue: aws.sqs.Queue, topic_arn: pulumi.Input[str]
) -> aws.cloudwatch.MetricAlarm:
    name = resource_name("slack-post-response-failures", cfg.env)
    return aws.cloudwatch.MetricAlarm(
        name,
        name=name,
        alarm_description=(
            "Slack listener work failed after its acknowledgement (the executive was told to try "
            "again); the records are in the post-response dead-letter queue "
            "(exec-assistant dlq drain --queue post-response; docs/runbook.md)."
        ),
        namespace="AWS/SQS",
        metric_name="ApproximateNumberOfMessagesVisible",
        dimensions={"QueueName": queue.name},
        statistic="Maximum",
        period=ALARM_PERIOD_S,
        evaluation_periods=1,
        threshold=cfg.alarms.dlq_messages,
        comparison_operator="GreaterThanOrEqualToThreshold",
        treat_missing_data="notBreaching",
        alarm_actions=[topic_arn],
        ok_actions=[topic_arn],
        tags=tags(cfg.env),
    )
