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
from infra.rule_delivery import Delivery, dead_letter_queue, deliver_to_function

EVENT_SOURCES = ("exec-assistant.calendar-monitor", "exec-assistant.reminders")
DETAIL_TYPE = "MeetingPrepRequired"
EVENT_PATTERN = {"source": list(EVENT_SOURCES), "detail-type": [DETAIL_TYPE]}

#: EventBridge → Lambda delivery retries (throttling, service errors) for up to an hour; then
#: Lambda's own two async retries of a failing handler (idempotent: ledger claims).
DELIVERY = Delivery(max_retry_attempts=8, max_event_age_s=3600, lambda_async_retries=2)


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
    deliver_to_function(
        cfg,
        rule=rule,
        rule_name=rule_name,
        deployed=deployed,
        dlq=dlq,
        dlq_name=dlq_name,
        delivery=DELIVERY,
        sid="PrepRuleDeadLetters",
        event_bus_name=bus.name,
    )
    return PrepTrigger(deployed=deployed, rule=rule, dlq=dlq)
