"""EMF lines: the specification's required keys, dimensions limited to environment and channel,
where lines go (stdout on Lambda only), and a broken stream never failing the caller."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exec_assistant import metrics
from exec_assistant.metrics import Metric, Unit
from tests.emf import Captured, check_emf, emf

__all__ = ["emf"]

ids = st.text(min_size=1, max_size=40)


@given(
    metric=st.sampled_from(list(Metric)),
    value=st.floats(min_value=0, max_value=1e9, allow_nan=False),
    environment=ids,
    channel=st.none() | st.sampled_from(["slack", "sms", "email", "console"]),
    meeting_id=ids,
    event_id=ids,
)
def test_every_document_follows_the_specification(
    metric: Metric,
    value: float,
    environment: str,
    channel: str | None,
    meeting_id: str,
    event_id: str,
) -> None:
    doc = metrics.document(
        metric,
        value,
        Unit.SECONDS,
        environment=environment,
        channel=channel,
        properties={"meeting_id": meeting_id, "event_id": event_id},
    )
    check_emf(json.loads(json.dumps(doc)))
    (directive,) = doc["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "ExecAssistant"
    assert directive["Dimensions"] == [
        ["environment"] if channel is None else ["environment", "channel"]
    ]
    assert directive["Metrics"] == [{"Name": str(metric), "Unit": "Seconds"}]
    assert doc[str(metric)] == value
    # ids are searchable properties, never dimensions
    assert doc["meeting_id"] == meeting_id
    assert doc["event_id"] == event_id


def test_the_checker_rejects_documents_missing_required_keys() -> None:
    good = metrics.document(Metric.NOTIFICATION_EXHAUSTED, 1, environment="dev")
    check_emf(good)
    broken: list[dict[str, Any]] = []
    for path in (("_aws", "Timestamp"), ("_aws", "CloudWatchMetrics"), ("environment",)):
        doc = json.loads(json.dumps(good))
        target = doc
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
        broken.append(doc)
    no_value = json.loads(json.dumps(good))
    del no_value["NotificationExhausted"]
    no_namespace = json.loads(json.dumps(good))
    del no_namespace["_aws"]["CloudWatchMetrics"][0]["Namespace"]
    string_value = json.loads(json.dumps(good))
    string_value["NotificationExhausted"] = "1"
    for doc in [*broken, no_value, no_namespace, string_value]:
        with pytest.raises((AssertionError, KeyError)):
            check_emf(doc)


def test_properties_cannot_override_dimensions_or_the_value() -> None:
    for clash in ("environment", "channel", "_aws", "NotificationDelivered"):
        with pytest.raises(ValueError, match=clash):
            metrics.document(
                Metric.NOTIFICATION_DELIVERED, 1, environment="dev", properties={clash: "x"}
            )


def test_emit_writes_one_line_with_the_deployment_environment(
    emf: Captured, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "prod")
    metrics.emit(Metric.NOTIFICATION_DELIVERED, channel="sms", meeting_id="m-1", attempt=None)
    (doc,) = emf.documents()
    assert doc["environment"] == "prod"
    assert doc["channel"] == "sms"
    assert doc["NotificationDelivered"] == 1
    assert doc["meeting_id"] == "m-1"
    assert "attempt" not in doc  # None properties are left out


def test_stdout_on_lambda_only_unless_told(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    metrics.emit(Metric.CALENDAR_MONITOR_RUN)
    assert capsys.readouterr().out == ""  # the CLI's --json owns stdout
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "exec-assistant-calendar-monitor-dev")
    metrics.emit(Metric.CALENDAR_MONITOR_RUN)
    (line,) = capsys.readouterr().out.splitlines()
    check_emf(json.loads(line))
    monkeypatch.setenv("EXEC_ASSISTANT_METRICS", "off")
    metrics.emit(Metric.CALENDAR_MONITOR_RUN)
    assert capsys.readouterr().out == ""
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME")
    monkeypatch.setenv("EXEC_ASSISTANT_METRICS", "emf")
    metrics.emit(Metric.CALENDAR_MONITOR_RUN)
    assert len(capsys.readouterr().out.splitlines()) == 1


def test_a_broken_stream_is_reported_and_never_raises(
    capsys: pytest.CaptureFixture[str],
) -> None:
    closed = io.StringIO()
    closed.close()
    metrics.set_stream(closed)
    try:
        metrics.emit(Metric.STORE_UNAVAILABLE)
    finally:
        metrics.set_stream(None)
    assert "cannot write StoreUnavailable" in capsys.readouterr().err
