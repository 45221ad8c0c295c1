"""The morning digest (docs/digest.md): its Lambda and the rule that routes it its events.

Each user's digest is a recurring EventBridge Scheduler schedule in the stack's schedule group
(created by the package from the user's settings, in the user's time zone); it puts
``MorningDigestDue`` (source ``exec-assistant.digest``) on the stack's bus, and this rule hands it
to the digest function. A missed digest is not worth a late one, so there is no dead-letter queue;
the function itself sends at most one digest per user and day (ledger claim).
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from infra.config import StackConfig
from infra.naming import resource_name, tags

EVENT_PATTERN = {"source": ["exec-assistant.digest"], "detail-type": ["MorningDigestDue"]}
#: EventBridge → Lambda delivery retries; a digest more than 30 minutes late is dropped.
RULE_MAX_RETRY_ATTEMPTS = 4
RULE_MAX_EVENT_AGE_S = 1800


def route_digest(
    cfg: StackConfig, *, bus: aws.cloudwatch.EventBus, function: aws.lambda_.Function
) -> aws.cloudwatch.EventRule:
    name = resource_name("morning-digest", cfg.env)
    rule = aws.cloudwatch.EventRule(
        name,
        name=name,
        event_bus_name=bus.name,
        description="MorningDigestDue from the users' digest schedules → digest function",
        event_pattern=json.dumps(EVENT_PATTERN),
        tags=tags(cfg.env),
    )
    permission = aws.lambda_.Permission(
        f"{name}-invoke",
        action="lambda:InvokeFunction",
        function=function.name,
        principal="events.amazonaws.com",
        source_arn=rule.arn,
    )
    aws.cloudwatch.EventTarget(
        f"{name}-target",
        rule=rule.name,
        event_bus_name=bus.name,
        target_id="digest",
        arn=function.arn,
        retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
            maximum_retry_attempts=RULE_MAX_RETRY_ATTEMPTS,
            maximum_event_age_in_seconds=RULE_MAX_EVENT_AGE_S,
        ),
        opts=pulumi.ResourceOptions(depends_on=[permission]),
    )
    return rule
