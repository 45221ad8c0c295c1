"""Alarms, the alarm topic, the log metric filters and the dashboard, under the Pulumi mocks."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from exec_assistant.logs import JsonFormatter
from exec_assistant.metrics import NAMESPACE, Metric
from infra import alarms as infra_alarms
from tests.infra.conftest import BASE_CONFIG, REGION, Deployment

Run = Callable[[str, Mapping[str, str]], Deployment]

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "aws:sns/topic:Topic"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
QUEUE = "aws:sqs/queue:Queue"
API = "aws:apigatewayv2/api:Api"

ALWAYS = {
    "monitor-missed",
    "slack-p99",
    "slack-bot-errors",
    "slack-bot-throttles",
}
WITH_PREP = ALWAYS | {
    "trigger-dlq",
    "scheduler-dlq",
    "prep-trigger-errors",
    "prep-trigger-throttles",
    "notification-exhausted",
    "webhooks-errors",
    "webhooks-throttles",
}
#: With email (ses_from_email): the SES events function and its dead-letter queue.
WITH_EMAIL = WITH_PREP | {"email-events-dlq", "email-events-errors", "email-events-throttles"}


def _alarms(deployment: Deployment) -> dict[str, Any]:
    prefix, suffix = "exec-assistant-alarm-", f"-{deployment.env}"
    found = {}
    for alarm in deployment.of_type(ALARM):
        name = alarm["name"]
        if name == f"exec-assistant-slack-post-response-failures-{deployment.env}":
            continue  # the Slack edge's own (tests/infra/test_post_response.py)
        assert name.startswith(prefix) and name.endswith(suffix), name
        found[name[len(prefix) : -len(suffix)]] = alarm
    return found


def _topic_arn(deployment: Deployment) -> str:
    return deployment.arn(TOPIC, f"exec-assistant-alarms-{deployment.env}")


def test_the_alarm_set_per_scenario(
    dev: Deployment, prod: Deployment, disabled: Deployment
) -> None:
    assert set(_alarms(dev)) == WITH_EMAIL
    assert set(_alarms(prod)) == WITH_PREP
    assert set(_alarms(disabled)) == ALWAYS


def test_every_alarm_notifies_the_one_topic_on_alarm_and_ok(any_deployment: Deployment) -> None:
    topic = _topic_arn(any_deployment)
    assert len(any_deployment.of_type(TOPIC)) == 1
    for what, alarm in _alarms(any_deployment).items():
        assert alarm["alarmActions"] == [topic], what
        assert alarm["okActions"] == [topic], what
        assert alarm["period"] == 300
        assert alarm["alarmDescription"]


def test_dead_letter_queue_alarms_watch_their_queue(dev: Deployment) -> None:
    alarms = _alarms(dev)
    for label, queue in (("trigger", "prep-dlq"), ("scheduler", "scheduler-dlq")):
        alarm = alarms[f"{label}-dlq"]
        dev.one(QUEUE, name=f"exec-assistant-{queue}-dev")
        assert alarm["namespace"] == "AWS/SQS"
        assert alarm["metricName"] == "ApproximateNumberOfMessagesVisible"
        assert alarm["dimensions"] == {"QueueName": f"exec-assistant-{queue}-dev"}
        assert alarm["statistic"] == "Maximum"
        assert alarm["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["threshold"] == 1
        assert f"dlq drain --queue {label}" in alarm["alarmDescription"]
    # SES events are not re-driven by the CLI: the alarm says to read them, not to drain them
    alarm = alarms["email-events-dlq"]
    assert alarm["dimensions"] == {"QueueName": "exec-assistant-email-events-dlq-dev"}
    assert "dlq drain" not in alarm["alarmDescription"]
    assert "docs/runbook.md" in alarm["alarmDescription"]


@pytest.mark.parametrize("component", ["prep-trigger", "slack-bot", "webhooks", "email-events"])
@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_function_errors_and_throttles(dev: Deployment, component: str, metric: str) -> None:
    alarm = _alarms(dev)[f"{component}-{metric.lower()}"]
    assert alarm["namespace"] == "AWS/Lambda"
    assert alarm["metricName"] == metric
    assert alarm["dimensions"] == {"FunctionName": f"exec-assistant-{component}-dev"}
    assert alarm["statistic"] == "Sum"
    assert alarm["threshold"] == 1
    assert alarm["treatMissingData"] == "notBreaching"


def test_any_exhausted_notification_alarms(dev: Deployment) -> None:
    alarm = _alarms(dev)["notification-exhausted"]
    assert (alarm["namespace"], alarm["metricName"]) == (NAMESPACE, Metric.NOTIFICATION_EXHAUSTED)
    assert alarm["dimensions"] == {"environment": "dev"}
    assert alarm["statistic"] == "Sum"
    assert alarm["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["threshold"] == 1


def test_a_monitor_that_has_not_run_for_three_intervals_alarms(prod: Deployment) -> None:
    alarm = _alarms(prod)["monitor-missed"]
    assert (alarm["namespace"], alarm["metricName"]) == (NAMESPACE, Metric.CALENDAR_MONITOR_RUN)
    assert alarm["dimensions"] == {"environment": "prod"}
    assert alarm["comparisonOperator"] == "LessThanThreshold"
    assert alarm["threshold"] == 1
    assert alarm["evaluationPeriods"] == alarm["datapointsToAlarm"] == 3
    # no data at all (the monitor never ran) is the failure, not an absence of evidence
    assert alarm["treatMissingData"] == "breaching"


def test_slack_latency_alarm_reads_api_gateway_p99(dev: Deployment) -> None:
    alarm = _alarms(dev)["slack-p99"]
    api = dev.one(API, name="exec-assistant-api-dev")
    assert alarm["namespace"] == "AWS/ApiGateway"
    assert alarm["metricName"] == "Latency"
    assert alarm["dimensions"] == {"ApiId": api.id}
    assert alarm["extendedStatistic"] == "p99"
    assert "statistic" not in alarm.inputs
    assert alarm["threshold"] == 2500
    assert alarm["comparisonOperator"] == "GreaterThanThreshold"


def test_thresholds_and_email_come_from_config(run: Run) -> None:
    tuned = run(
        "staging",
        {
            **BASE_CONFIG,
            "alarm_email": "oncall@example.com",
            "alarm_dlq_messages": "5",
            "alarm_function_errors": "3",
            "alarm_function_throttles": "2",
            "alarm_slack_p99_ms": "2000",
            "alarm_monitor_missed_runs": "4",
        },
    )
    alarms = _alarms(tuned)
    assert alarms["trigger-dlq"]["threshold"] == 5
    assert alarms["prep-trigger-errors"]["threshold"] == 3
    assert alarms["slack-bot-throttles"]["threshold"] == 2
    assert alarms["slack-p99"]["threshold"] == 2000
    assert alarms["monitor-missed"]["evaluationPeriods"] == 4
    (subscription,) = tuned.of_type(SUBSCRIPTION)
    assert subscription["protocol"] == "email"
    assert subscription["endpoint"] == "oncall@example.com"
    assert subscription["topic"] == _topic_arn(tuned)


def test_no_email_no_subscription(dev: Deployment) -> None:
    assert dev.of_type(SUBSCRIPTION) == []


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("alarm_email", "not-an-address"),
        ("alarm_dlq_messages", "0"),
        ("alarm_monitor_missed_runs", "0"),
        ("alarm_slack_p99_ms", "10"),
    ],
)
def test_bad_alarm_settings_fail_the_preview(run: Run, key: str, value: str) -> None:
    with pytest.raises(Exception, match=key):
        run("dev", {**BASE_CONFIG, key: value})


@pytest.mark.parametrize(
    "component", ["prep-trigger", "slack-bot", "calendar-monitor", "webhooks", "email-events"]
)
def test_one_error_line_filter_per_function_log_group(dev: Deployment, component: str) -> None:
    name = f"exec-assistant-{component}-logged-errors-dev"
    metric_filter = dev.one(FILTER, name=name)
    assert metric_filter["logGroupName"] == f"/aws/lambda/exec-assistant-{component}-dev"
    assert metric_filter["pattern"] == '{ $.level = "ERROR" }'
    transformation = metric_filter["metricTransformation"]
    assert transformation == {
        "name": name,
        "namespace": "ExecAssistant/Logs",
        "value": "1",
        "defaultValue": "0",
    }


def test_the_filter_pattern_matches_what_the_logger_writes() -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "notification.exhausted", (), None)
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "ERROR"
    assert infra_alarms.ERROR_LINES == '{ $.level = "ERROR" }'


def test_infra_spells_the_package_metric_names() -> None:
    assert infra_alarms.NAMESPACE == NAMESPACE
    import inspect

    from infra import dashboard

    source = inspect.getsource(infra_alarms) + inspect.getsource(dashboard)
    used = {m for m in Metric if f'"{m.value}"' in source}
    assert used == set(Metric)


def _dashboard(deployment: Deployment) -> dict[str, Any]:
    board = deployment.one(DASHBOARD, dashboardName=f"exec-assistant-ops-{deployment.env}")
    body: dict[str, Any] = json.loads(board["dashboardBody"])
    return body


def _metric_lines(body: dict[str, Any]) -> list[list[Any]]:
    return [
        line
        for widget in body["widgets"]
        if widget["type"] == "metric"
        for line in widget["properties"]["metrics"]
    ]


def test_dashboard_shows_every_alarm_and_its_figure(any_deployment: Deployment) -> None:
    body = _dashboard(any_deployment)
    (states,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert sorted(states["properties"]["alarms"]) == sorted(
        a.state["arn"] for a in any_deployment.of_type(ALARM)
    )
    shown = set()
    for line in _metric_lines(body):
        *head, options = line
        assert isinstance(options, dict) and options["stat"] and options["label"]
        namespace, name, *pairs = head
        assert len(pairs) % 2 == 0
        shown.add((namespace, name, tuple(zip(pairs[::2], pairs[1::2], strict=True))))
    for what, alarm in _alarms(any_deployment).items():
        figure = (alarm["namespace"], alarm["metricName"], tuple(alarm["dimensions"].items()))
        assert figure in shown, what


def test_dashboard_shows_the_service_metrics_per_channel(dev: Deployment) -> None:
    lines = _metric_lines(_dashboard(dev))
    per_channel = {
        (line[1], line[5])
        for line in lines
        if line[0] == NAMESPACE and len(line) == 7 and line[4] == "channel"
    }
    for metric in (
        Metric.NOTIFICATION_DELIVERED,
        Metric.ACKNOWLEDGEMENT,
        Metric.DELIVERY_ATTEMPT_FAILED,
    ):
        assert {c for m, c in per_channel if m == metric} == {"slack", "sms", "email", "console"}
    names = {line[1] for line in lines}
    assert {m.value for m in Metric} <= names
    assert {f"exec-assistant-{c}-logged-errors-dev" for c in ("prep-trigger", "slack-bot")} <= names
    for widget in _dashboard(dev)["widgets"]:
        if widget["type"] == "metric":
            assert widget["properties"]["region"] == REGION
