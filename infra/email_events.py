"""SES's delivery events: the configuration set, its EventBridge destination, and the function.

Every email the stack sends goes through the configuration set ``exec-assistant-email-{env}``
(``SES_CONFIGURATION_SET``). The set publishes BOUNCE, COMPLAINT, DELIVERY and REJECT events to
the account's *default* event bus (the only bus SES can publish to), and the rule
``exec-assistant-email-events-{env}`` there — matching ``source: aws.ses`` and this set's name in
the event's ``mail.tags`` (``ses:configuration-set``), so other senders in the account are not
routed here — hands them to ``exec_assistant.workflows.email_events.lambda_handler``: a delivery
completes the attempt, a bounce or complaint fails it for good and moves the cycle on. What
cannot be delivered or processed lands in ``exec-assistant-email-events-dlq-{env}`` (alarmed).
None of this exists without ``ses_from_email``.
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

#: What SES publishes (SESv2 event types) and the detail-types EventBridge gives those events.
EVENT_TYPES = ("BOUNCE", "COMPLAINT", "DELIVERY", "REJECT")
DETAIL_TYPES = ("Email Bounced", "Email Complaint Received", "Email Delivered", "Email Rejected")
#: A receipt is worth having for a day; then Lambda's own retries (the handler is idempotent).
DELIVERY = Delivery(max_retry_attempts=8, max_event_age_s=24 * 3600, lambda_async_retries=2)


def event_pattern(configuration_set: str) -> dict[str, object]:
    return {
        "source": ["aws.ses"],
        "detail-type": list(DETAIL_TYPES),
        "detail": {"mail": {"tags": {"ses:configuration-set": [configuration_set]}}},
    }


@dataclass(frozen=True)
class EmailEvents:
    configuration_set: aws.sesv2.ConfigurationSet
    #: the set's name (what the senders pass as ConfigurationSetName)
    name: str
    rule: aws.cloudwatch.EventRule
    dlq: aws.sqs.Queue


def create_configuration_set(cfg: StackConfig) -> aws.sesv2.ConfigurationSet:
    name = resource_name("email", cfg.env)
    return aws.sesv2.ConfigurationSet(
        name,
        configuration_set_name=name,
        reputation_options=aws.sesv2.ConfigurationSetReputationOptionsArgs(
            reputation_metrics_enabled=True
        ),
        sending_options=aws.sesv2.ConfigurationSetSendingOptionsArgs(sending_enabled=True),
        tags=tags(cfg.env),
    )


def route_email_events(
    cfg: StackConfig,
    ctx: iam.AccountContext,
    configuration_set: aws.sesv2.ConfigurationSet,
    function: lambdas.DeployedFunction,
) -> EmailEvents:
    """The set's EventBridge destination, the rule on the default bus, and its delivery."""
    set_name = resource_name("email", cfg.env)
    aws.sesv2.ConfigurationSetEventDestination(
        f"{set_name}-eventbridge",
        configuration_set_name=configuration_set.configuration_set_name,
        event_destination_name="eventbridge",
        event_destination=aws.sesv2.ConfigurationSetEventDestinationEventDestinationArgs(
            enabled=True,
            matching_event_types=list(EVENT_TYPES),
            event_bridge_destination=(
                aws.sesv2.ConfigurationSetEventDestinationEventDestinationEventBridgeDestinationArgs(
                    event_bus_arn=ctx.arn("events", "event-bus/default")
                )
            ),
        ),
    )
    rule_name = resource_name("email-events", cfg.env)
    rule = aws.cloudwatch.EventRule(
        rule_name,
        name=rule_name,
        description="SES events of the stack's configuration set → email events function",
        event_pattern=json.dumps(event_pattern(set_name)),
        tags=tags(cfg.env),
        opts=pulumi.ResourceOptions(depends_on=[configuration_set]),
    )
    dlq_name = resource_name("email-events-dlq", cfg.env)
    dlq = dead_letter_queue(dlq_name, cfg)
    deliver_to_function(
        cfg,
        rule=rule,
        rule_name=rule_name,
        deployed=function,
        dlq=dlq,
        dlq_name=dlq_name,
        delivery=DELIVERY,
        sid="EmailEventsRuleDeadLetters",
    )
    return EmailEvents(configuration_set=configuration_set, name=set_name, rule=rule, dlq=dlq)
