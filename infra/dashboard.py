"""The CloudWatch dashboard ``exec-assistant-{env}``: the alarms' figures, and what they count.

Rows: alarm states; notifications (delivered, exhausted, failed attempts, escalations and
acknowledgements per channel; prep-window-to-delivery latency); dead-letter queue depths; the
functions' errors, throttles and logged errors; the Slack webhook's latency (API Gateway p99 next
to the bot's Lambda Duration p99, which also counts the work after the response); calendar monitor
runs; Slack refusals, post-response failures and store unavailability.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.alarms import (
    PERIOD_S,
    Alarms,
    MetricRef,
    Watched,
    app_metric,
    dlq_metric,
    error_filter_metric,
    lambda_metric,
    slack_latency_metric,
)
from infra.config import StackConfig
from infra.naming import resource_name

#: The notification channels (exec_assistant.models.Channel values).
CHANNELS = ("slack", "sms", "email", "console")
WIDTH, HEIGHT = 12, 6


def _line(metric: MetricRef, label: str, extra: Mapping[str, str] | None = None) -> list[Any]:
    """One metric line of a widget: namespace, name, dimension pairs, then its options."""
    pairs: list[Any] = []
    for key, value in {**metric.dimensions, **(extra or {})}.items():
        pairs += [key, value]
    return [metric.namespace, metric.name, *pairs, {"stat": metric.stat, "label": label}]


def _widget(
    title: str, lines: Sequence[list[Any]], *, region: pulumi.Input[str], stacked: bool = False
) -> dict[str, Any]:
    return {
        "type": "metric",
        "width": WIDTH,
        "height": HEIGHT,
        "properties": {
            "title": title,
            "region": region,
            "period": PERIOD_S,
            "view": "timeSeries",
            "stacked": stacked,
            "metrics": list(lines),
        },
    }


def _per_channel(cfg: StackConfig, name: str, stat: str = "Sum") -> list[list[Any]]:
    metric = app_metric(cfg, name, stat)
    return [_line(metric, channel, {"channel": channel}) for channel in CHANNELS]


def widgets(
    cfg: StackConfig, watched: Watched, alarms: Alarms, region: pulumi.Input[str]
) -> list[dict[str, Any]]:
    functions = sorted(watched.functions.items())
    body: list[dict[str, Any]] = [
        {
            "type": "alarm",
            "width": 2 * WIDTH,
            "height": 4,
            "properties": {
                "title": "Alarms (docs/runbook.md)",
                "alarms": [alarm.arn for _, alarm in sorted(alarms.alarms.items())],
            },
        },
        _widget(
            "Notifications delivered per channel",
            _per_channel(cfg, "NotificationDelivered"),
            region=region,
            stacked=True,
        ),
        _widget(
            "Exhausted notifications; failed attempts per channel",
            [
                _line(app_metric(cfg, "NotificationExhausted"), "exhausted"),
                *_per_channel(cfg, "DeliveryAttemptFailed"),
            ],
            region=region,
        ),
        _widget(
            "Escalations and acknowledgements per channel",
            [
                *[
                    _line(app_metric(cfg, "EscalationDelivered"), f"escalated {c}", {"channel": c})
                    for c in CHANNELS
                ],
                *[
                    _line(app_metric(cfg, "Acknowledgement"), f"acknowledged {c}", {"channel": c})
                    for c in CHANNELS
                ],
            ],
            region=region,
        ),
        _widget(
            "Prep window opening to delivery (seconds, p50 / p99)",
            [
                *_per_channel(cfg, "PrepWindowToDelivery", "p50"),
                *_per_channel(cfg, "PrepWindowToDelivery", "p99"),
            ],
            region=region,
        ),
        _widget(
            "Dead-letter queues (messages visible)",
            [_line(dlq_metric(queue), label) for label, queue in sorted(watched.queues.items())],
            region=region,
        ),
        _widget(
            "Function errors and throttles",
            [
                _line(lambda_metric(function, name), f"{component} {name.lower()}")
                for component, function in functions
                for name in ("Errors", "Throttles")
            ],
            region=region,
        ),
        _widget(
            "ERROR log lines per function (log metric filters)",
            [_line(error_filter_metric(cfg, component), component) for component, _ in functions],
            region=region,
        ),
        _widget(
            "Slack webhook latency (ms)",
            [
                _line(slack_latency_metric(watched.api), "API Gateway p99 (what Slack sees)"),
                *[
                    _line(lambda_metric(function, "Duration", "p99"), "slack-bot Duration p99")
                    for component, function in functions
                    if component == "slack-bot"
                ],
            ],
            region=region,
        ),
        _widget(
            "Calendar monitor runs and recovery sweep",
            [
                _line(app_metric(cfg, "CalendarMonitorRun"), "completed runs"),
                _line(app_metric(cfg, "CyclesRecovered"), "stuck cycles republished"),
            ],
            region=region,
        ),
        _widget(
            "Slack refusals, post-response failures, store unavailable",
            [
                _line(app_metric(cfg, "SlackRequestRefused"), "Slack requests refused"),
                _line(app_metric(cfg, "PostResponseWorkFailed"), "post-response work failed"),
                _line(app_metric(cfg, "StoreUnavailable"), "store unavailable"),
            ],
            region=region,
        ),
    ]
    return body


def create_dashboard(
    cfg: StackConfig, watched: Watched, alarms: Alarms, region: pulumi.Input[str]
) -> aws.cloudwatch.Dashboard:
    name = resource_name("ops", cfg.env)
    return aws.cloudwatch.Dashboard(
        name,
        dashboard_name=name,
        dashboard_body=pulumi.Output.json_dumps({"widgets": widgets(cfg, watched, alarms, region)}),
    )
