"""An EventBridge rule's delivery to a Lambda function that must not lose an event.

Used by the prep trigger (``infra/prep_notification.py``) and the SES events function
(``infra/email_events.py``):

- the rule's target retries *delivery* (throttling, service errors) and sends what it cannot
  deliver to the dead-letter queue, which only this rule may write to (queue policy);
- once Lambda has accepted the event, a failing handler is retried by Lambda (the function's
  asynchronous-invoke config, per qualifier: the one the rule invokes), and what still fails goes
  to the same queue as a Lambda failure record, so nothing is lost silently (the function's role
  needs ``sqs:SendMessage`` on the queue for that);
- the invoke permission is for this rule only, on the function's SnapStart alias when it has one.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import lambdas
from infra.config import StackConfig
from infra.naming import resource_name, tags

#: Records stay 14 days (SQS's maximum): time to read what was lost.
DLQ_RETENTION_S = 14 * 24 * 3600


@dataclass(frozen=True)
class Delivery:
    """How hard to try: EventBridge's delivery retries, then Lambda's own handler retries."""

    max_retry_attempts: int
    max_event_age_s: int
    lambda_async_retries: int


def dead_letter_queue(name: str, cfg: StackConfig) -> aws.sqs.Queue:
    """A DLQ kept 14 days; SSE-SQS, since EventBridge cannot write to a queue under the AWS
    managed aws/sqs KMS key (every DLQ of the stack, the Slack bot's post-response one too)."""
    return aws.sqs.Queue(
        name,
        name=name,
        message_retention_seconds=DLQ_RETENTION_S,
        sqs_managed_sse_enabled=True,
        tags=tags(cfg.env),
    )


def deliver_to_function(
    cfg: StackConfig,
    *,
    rule: aws.cloudwatch.EventRule,
    rule_name: str,
    deployed: lambdas.DeployedFunction,
    dlq: aws.sqs.Queue,
    dlq_name: str,
    delivery: Delivery,
    sid: str,
    event_bus_name: pulumi.Input[str] | None = None,
) -> aws.cloudwatch.EventTarget:
    """Target ``deployed`` from ``rule`` (logical names from ``rule_name``/``dlq_name``)."""
    aws.sqs.QueuePolicy(
        f"{dlq_name}-policy",
        queue_url=dlq.url,
        policy=pulumi.Output.json_dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": sid,
                        "Effect": "Allow",
                        "Principal": {"Service": "events.amazonaws.com"},
                        "Action": "sqs:SendMessage",
                        "Resource": dlq.arn,
                        "Condition": {"ArnEquals": {"aws:SourceArn": rule.arn}},
                    }
                ],
            }
        ),
    )
    permission = aws.lambda_.Permission(
        f"{rule_name}-invoke",
        action="lambda:InvokeFunction",
        function=deployed.function.name,
        qualifier=deployed.qualifier,
        principal="events.amazonaws.com",
        source_arn=rule.arn,
    )
    target = aws.cloudwatch.EventTarget(
        f"{rule_name}-target",
        rule=rule.name,
        event_bus_name=event_bus_name,
        target_id=deployed.spec.component,
        arn=deployed.invoke_arn,  # the SnapStart alias when enabled
        retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
            maximum_retry_attempts=delivery.max_retry_attempts,
            maximum_event_age_in_seconds=delivery.max_event_age_s,
        ),
        dead_letter_config=aws.cloudwatch.EventTargetDeadLetterConfigArgs(arn=dlq.arn),
        opts=pulumi.ResourceOptions(depends_on=[permission]),
    )
    aws.lambda_.FunctionEventInvokeConfig(
        f"{resource_name(deployed.spec.component, cfg.env)}-async",
        function_name=deployed.function.name,
        qualifier=deployed.qualifier,  # async config is per qualifier: the one the rule calls
        maximum_retry_attempts=delivery.lambda_async_retries,
        maximum_event_age_in_seconds=delivery.max_event_age_s,
        destination_config=aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
            on_failure=aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(
                destination=dlq.arn
            )
        ),
    )
    return target
