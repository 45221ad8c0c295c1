"""Alarms, the one topic they notify, and the log metric filters (docs/runbook.md: what each alarm
means, the Logs Insights query to run, the command that recovers it).

Every alarm is ``exec-assistant-alarm-{what}-{env}`` and notifies ``exec-assistant-alarms-{env}``
on ALARM and on OK (the operator also learns of the recovery); ``alarm_email`` subscribes an
address. Thresholds come from :class:`~infra.config.AlarmSettings` (config keys ``alarm_*``).

=======================  ===================================================================
alarm                    fires when (5-minute periods)
=======================  ===================================================================
``{queue}-dlq``          a dead-letter queue holds messages (trigger, scheduler, email-events)
``{function}-errors``    the prep trigger / Slack bot / webhooks / email events raised
                         (Lambda ``Errors``)
``{function}-throttles`` Lambda throttled one of those functions
``notification-exhausted``  a cycle ended with every channel failed (EMF ``NotificationExhausted``)
``monitor-missed``       no completed calendar monitor run (EMF ``CalendarMonitorRun``) in N
                         consecutive intervals; missing data counts as missed
``slack-p99``            the webhook's p99 latency as API Gateway measures it, near Slack's 3 s
=======================  ===================================================================

The Slack latency alarm reads API Gateway's ``Latency`` (request in → response out), not the
function's ``Duration``: Lambda's ``Duration`` also counts the work the bot runs after its
response (the post-response extension), which Slack never waits for.

Metric names and the namespace match :mod:`exec_assistant.metrics` (infra imports nothing from
the package, so they are spelt here; a test checks they agree).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.config import StackConfig
from infra.lambdas import DeployedFunction
from infra.naming import resource_name, tags

NAMESPACE = "ExecAssistant"
LOGS_NAMESPACE = "ExecAssistant/Logs"
PERIOD_S = 300
#: The functions whose errors and throttles page (the monitor's failures show as missed runs).
PAGED_FUNCTIONS = ("prep-trigger", "slack-bot", "webhooks", "email-events")
#: The dead-letter queues ``exec-assistant dlq drain --queue`` re-drives; the others are read
#: by hand (docs/runbook.md).
DRAINABLE_QUEUES = ("trigger", "scheduler", "post-response")
#: Lines our JSON logger writes at ERROR (exec_assistant/logs.py: ``"level": "ERROR"``).
ERROR_LINES = '{ $.level = "ERROR" }'


@dataclass(frozen=True)
class MetricRef:
    """One CloudWatch metric and how to aggregate it (``stat`` is a statistic or ``pNN``)."""

    namespace: str
    name: str
    dimensions: Mapping[str, pulumi.Input[str]]
    stat: str = "Sum"


@dataclass(frozen=True)
class AlarmSpec:
    what: str
    description: str
    metric: MetricRef
    threshold: float
    comparison: str = "GreaterThanOrEqualToThreshold"
    evaluation_periods: int = 1
    datapoints_to_alarm: int = 1
    treat_missing_data: str = "notBreaching"


@dataclass(frozen=True)
class Watched:
    """What the alarms watch: functions by component, dead-letter queues by ``--queue`` name
    (``trigger``, ``scheduler``, ``email-events``), and the HTTP API."""

    functions: Mapping[str, DeployedFunction]
    queues: Mapping[str, aws.sqs.Queue]
    api: aws.apigatewayv2.Api


@dataclass(frozen=True)
class Alarms:
    topic: aws.sns.Topic
    alarms: dict[str, aws.cloudwatch.MetricAlarm] = field(default_factory=dict)
    filters: dict[str, aws.cloudwatch.LogMetricFilter] = field(default_factory=dict)


def lambda_metric(function: DeployedFunction, name: str, stat: str = "Sum") -> MetricRef:
    return MetricRef("AWS/Lambda", name, {"FunctionName": function.function.name}, stat)


def app_metric(cfg: StackConfig, name: str, stat: str = "Sum") -> MetricRef:
    return MetricRef(NAMESPACE, name, {"environment": cfg.env}, stat)


def dlq_metric(queue: aws.sqs.Queue) -> MetricRef:
    return MetricRef(
        "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": queue.name}, "Maximum"
    )


def slack_latency_metric(api: aws.apigatewayv2.Api) -> MetricRef:
    return MetricRef("AWS/ApiGateway", "Latency", {"ApiId": api.id}, "p99")


def alarm_specs(cfg: StackConfig, watched: Watched) -> list[AlarmSpec]:
    """Every alarm of the stack (the dashboard shows the same figures)."""
    limits = cfg.alarms
    specs = [
        AlarmSpec(
            what=f"{label}-dlq",
            description=f"Messages in the {label} dead-letter queue: something failed for good "
            + (
                f"and waits to be re-driven (exec-assistant dlq drain --queue {label})."
                if label in DRAINABLE_QUEUES
                else "; read the messages (docs/runbook.md), then purge the queue."
            ),
            metric=dlq_metric(queue),
            threshold=limits.dlq_messages,
        )
        for label, queue in sorted(watched.queues.items())
    ]
    paged = [(c, watched.functions[c]) for c in PAGED_FUNCTIONS if c in watched.functions]
    for component, function in paged:
        for metric, threshold, what in (
            ("Errors", limits.function_errors, "failed (Lambda Errors)"),
            ("Throttles", limits.function_throttles, "was throttled by Lambda"),
        ):
            specs.append(
                AlarmSpec(
                    what=f"{component}-{metric.lower()}",
                    description=f"The {component} function {what}.",
                    metric=lambda_metric(function, metric),
                    threshold=threshold,
                )
            )
    if "prep-trigger" in watched.functions:
        specs.append(
            AlarmSpec(
                what="notification-exhausted",
                description="A prep notification failed on every channel: the executive was "
                "not told (exec-assistant replay --status failed).",
                metric=app_metric(cfg, "NotificationExhausted"),
                threshold=1,
            )
        )
    missed = limits.monitor_missed_runs
    specs.append(
        AlarmSpec(
            what="monitor-missed",
            description=f"The calendar monitor has not completed a run in {missed} intervals: "
            "no meeting enters its prep window.",
            metric=app_metric(cfg, "CalendarMonitorRun"),
            threshold=1,
            comparison="LessThanThreshold",
            evaluation_periods=missed,
            datapoints_to_alarm=missed,
            treat_missing_data="breaching",
        )
    )
    specs.append(
        AlarmSpec(
            what="slack-p99",
            description=f"The Slack webhook's p99 latency is over {limits.slack_p99_ms} ms; "
            "Slack gives up after 3 s and retries.",
            metric=slack_latency_metric(watched.api),
            threshold=limits.slack_p99_ms,
            comparison="GreaterThanThreshold",
            evaluation_periods=3,
            datapoints_to_alarm=2,
        )
    )
    return specs


def create_topic(cfg: StackConfig) -> aws.sns.Topic:
    name = resource_name("alarms", cfg.env)
    topic = aws.sns.Topic(name, name=name, tags=tags(cfg.env))
    if cfg.alarms.email:
        aws.sns.TopicSubscription(
            f"{name}-email", topic=topic.arn, protocol="email", endpoint=cfg.alarms.email
        )
    return topic


def create_alarm(
    cfg: StackConfig, spec: AlarmSpec, topic: aws.sns.Topic
) -> aws.cloudwatch.MetricAlarm:
    name = resource_name(f"alarm-{spec.what}", cfg.env)
    metric = spec.metric
    statistic: dict[str, Any] = (
        {"extended_statistic": metric.stat}
        if metric.stat.startswith("p")
        else {"statistic": metric.stat}
    )
    return aws.cloudwatch.MetricAlarm(
        name,
        name=name,
        alarm_description=spec.description,
        namespace=metric.namespace,
        metric_name=metric.name,
        dimensions=dict(metric.dimensions),
        period=PERIOD_S,
        evaluation_periods=spec.evaluation_periods,
        datapoints_to_alarm=spec.datapoints_to_alarm,
        threshold=spec.threshold,
        comparison_operator=spec.comparison,
        treat_missing_data=spec.treat_missing_data,
        alarm_actions=[topic.arn],
        ok_actions=[topic.arn],
        tags=tags(cfg.env),
        **statistic,
    )


def error_filter_metric(cfg: StackConfig, component: str) -> MetricRef:
    """The metric of ``component``'s ERROR log lines (its log metric filter)."""
    return MetricRef(LOGS_NAMESPACE, resource_name(f"{component}-logged-errors", cfg.env), {})


def create_error_filter(
    cfg: StackConfig, component: str, function: DeployedFunction
) -> aws.cloudwatch.LogMetricFilter:
    """Counts the function's ERROR log lines (every failure the code logs, handled or not)."""
    metric = error_filter_metric(cfg, component)
    return aws.cloudwatch.LogMetricFilter(
        metric.name,
        name=metric.name,
        log_group_name=function.log_group.name,
        pattern=ERROR_LINES,
        metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
            name=metric.name, namespace=metric.namespace, value="1", default_value="0"
        ),
    )


def create_alarms(cfg: StackConfig, watched: Watched) -> Alarms:
    """The topic, every alarm of :func:`alarm_specs` and one error filter per function."""
    topic = create_topic(cfg)
    result = Alarms(topic=topic)
    for spec in alarm_specs(cfg, watched):
        result.alarms[spec.what] = create_alarm(cfg, spec, topic)
    for component, function in sorted(watched.functions.items()):
        result.filters[component] = create_error_filter(cfg, component, function)
    return result
