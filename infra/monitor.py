"""The calendar monitor's schedule: an EventBridge rule on the account's default bus.

EventBridge only evaluates schedule expressions on the default bus, so this rule lives there; the
monitor then publishes ``MeetingPrepRequired`` to the stack's own bus. A missed or failed run is
made up by the next one, so the target needs no dead-letter queue.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.config import StackConfig
from infra.naming import resource_name, tags

SCHEDULE_EXPRESSION = "rate(5 minutes)"


def schedule_monitor(cfg: StackConfig, monitor: aws.lambda_.Function) -> aws.cloudwatch.EventRule:
    name = resource_name("calendar-monitor-schedule", cfg.env)
    rule = aws.cloudwatch.EventRule(
        name,
        name=name,
        description="Runs the calendar monitor",
        schedule_expression=SCHEDULE_EXPRESSION,
        tags=tags(cfg.env),
    )
    permission = aws.lambda_.Permission(
        f"{name}-invoke",
        action="lambda:InvokeFunction",
        function=monitor.name,
        principal="events.amazonaws.com",
        source_arn=rule.arn,
    )
    aws.cloudwatch.EventTarget(
        f"{name}-target",
        rule=rule.name,
        target_id="calendar-monitor",
        arn=monitor.arn,
        opts=pulumi.ResourceOptions(depends_on=[permission]),
    )
    return rule
