"""The prep-notification pieces; none of them exist when ``enable_prep_notification`` is false.

- EventBridge Scheduler group ``exec-assistant-reminders-{env}`` and the role its schedules assume,
  which may only ``events:PutEvents`` to the stack's bus and send to the scheduler's dead-letter
  queue ``exec-assistant-scheduler-dlq-{env}``. Reminders ("Remind Later") and escalations are
  one-time schedules in that group that put a ``MeetingPrepRequired`` event (source
  ``exec-assistant.reminders``) on the bus; one that cannot be delivered after Scheduler's
  retries lands in that queue (the package sets it on every schedule, ``SCHEDULER_DLQ_ARN``).
- The prep trigger Lambda, the rule routing ``MeetingPrepRequired`` from the calendar monitor and
  the reminders to it, with a retry policy and an SQS dead-letter queue, and the permission for
  EventBridge (this rule only) to invoke it.
- With SnapStart the rule, its permission and the asynchronous-invoke config use the trigger's
  ``live`` alias. Reminder and escalation schedules target the *bus* (``SCHEDULER_TARGET_ARN``),
  not the function, so they reach the alias through this rule.
- The trigger's asynchronous-invoke config: EventBridge's retry policy covers *delivery*; once
  Lambda has accepted the event, a failing handler is retried by Lambda, and what still fails goes
  to the same DLQ (as a Lambda failure record), so nothing is lost silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import iam, lambdas
from infra.config import StackConfig
from infra.naming import resource_name, tags

EVENT_SOURCES = ("exec-assistant.calendar-monitor", "exec-assistant.reminders")
DETAIL_TYPE = "MeetingPrepRequired"
EVENT_PATTERN = {"source": list(EVENT_SOURCES), "detail-type": [DETAIL_TYPE]}

#: EventBridge → Lambda delivery retries (throttling, service errors) for up to an hour.
RULE_MAX_RETRY_ATTEMPTS = 8
RULE_MAX_EVENT_AGE_S = 3600
#: Lambda's own async retries of a failing handler; the handler is idempotent (ledger claims).
LAMBDA_ASYNC_RETRIES = 2
DLQ_RETENTION_S = 14 * 24 * 3600


@dataclass(frozen=True)
class Scheduler:
    group: aws.scheduler.ScheduleGroup
    role: aws.iam.Role
    dlq: aws.sqs.Queue


@dataclass(frozen=True)
class PrepTrigger:
    deployed: lambdas.DeployedFunction
    rule: aws.cloudwatch.EventRule
    dlq: aws.sqs.Queue


def create_scheduler(
    cfg: StackConfig, ctx: iam.AccountContext, bus: aws.cloudwatch.EventBus
) -> Scheduler:
    group_name = resource_name("reminders", cfg.env)
    group = aws.scheduler.ScheduleGroup(group_name, name=group_name, tags=tags(cfg.env))
    role = iam.service_role(
        resource_name("scheduler-role", cfg.env),
        "scheduler.amazonaws.com",
        cfg.env,
        # Confused-deputy guard: only schedules in this account's group may assume it.
        condition={
            "StringEquals": {"aws:SourceAccount": ctx.account_id, "aws:SourceArn": group.arn}
        },
    )
    dlq = dead_letter_queue(resource_name("scheduler-dlq", cfg.env), cfg)
    iam.attach_policy(
        role,
        resource_name("scheduler-policy", cfg.env),
        [
            iam.put_events_statement(bus.arn),
            iam.sqs_send_statement("UndeliveredSchedulesToDlq", dlq.arn),
        ],
    )
    return Scheduler(group=group, role=role, dlq=dlq)


def dead_letter_queue(name: str, cfg: StackConfig) -> aws.sqs.Queue:
    """A DLQ kept 14 days; SSE-SQS, since EventBridge cannot write to a queue under the AWS
    managed aws/sqs KMS key."""
    return aws.sqs.Queue(
        name,
        name=name,
        message_retention_seconds=DLQ_RETENTION_S,
        sqs_managed_sse_enabled=True,
        tags=tags(cfg.env),
    )


def scheduler_environment(
    scheduler: Scheduler, bus: aws.cloudwatch.EventBus
) -> dict[str, pulumi.Input[str]]:
    """What the package needs to create schedules (exec_assistant/config.py)."""
    return {
        "SCHEDULER_GROUP_NAME": scheduler.group.name,
        "SCHEDULER_ROLE_ARN": scheduler.role.arn,
        "SCHEDULER_TARGET_ARN": bus.arn,
        "SCHEDULER_DLQ_ARN": scheduler.dlq.arn,
    }


def create_prep_trigger(
    cfg: StackConfig,
    *,
    bus: aws.cloudwatch.EventBus,
    code: pulumi.Archive,
    environment: dict[str, pulumi.Input[str]],
) -> PrepTrigger:
    deployed = lambdas.create_function(
        lambdas.PREP_TRIGGER, cfg, code=code, environment=environment
    )
    function = deployed.function

    dlq_name = resource_name("prep-dlq", cfg.env)
    dlq = dead_letter_queue(dlq_name, cfg)

    rule_name = resource_name("prep-required", cfg.env)
    rule = aws.cloudwatch.EventRule(
        rule_name,
        name=rule_name,
        event_bus_name=bus.name,
        description="MeetingPrepRequired from the calendar monitor and reminders → prep trigger",
        event_pattern=json.dumps(EVENT_PATTERN),
        tags=tags(cfg.env),
    )
    aws.sqs.QueuePolicy(
        f"{dlq_name}-policy",
        queue_url=dlq.url,
        policy=pulumi.Output.json_dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "PrepRuleDeadLetters",
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
        function=function.name,
        qualifier=deployed.qualifier,
        principal="events.amazonaws.com",
        source_arn=rule.arn,
    )
    aws.cloudwatch.EventTarget(
        f"{rule_name}-target",
        rule=rule.name,
        event_bus_name=bus.name,
        target_id="prep-trigger",
        arn=deployed.invoke_arn,  # the SnapStart alias when enabled
        retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
            maximum_retry_attempts=RULE_MAX_RETRY_ATTEMPTS,
            maximum_event_age_in_seconds=RULE_MAX_EVENT_AGE_S,
        ),
        dead_letter_config=aws.cloudwatch.EventTargetDeadLetterConfigArgs(arn=dlq.arn),
        opts=pulumi.ResourceOptions(depends_on=[permission]),
    )
    aws.lambda_.FunctionEventInvokeConfig(
        f"{resource_name('prep-trigger', cfg.env)}-async",
        function_name=function.name,
        qualifier=deployed.qualifier,  # async config is per qualifier: the one EventBridge calls
        maximum_retry_attempts=LAMBDA_ASYNC_RETRIES,
        maximum_event_age_in_seconds=RULE_MAX_EVENT_AGE_S,
        destination_config=aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
            on_failure=aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(
                destination=dlq.arn
            )
        ),
    )
    return PrepTrigger(deployed=deployed, rule=rule, dlq=dlq)
