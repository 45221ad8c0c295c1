"""Service metrics as CloudWatch Embedded Metric Format (EMF) lines on stdout.

On Lambda every line a function writes to stdout reaches its log group, and CloudWatch Logs turns
each line that is an EMF document into metric data points: no ``PutMetricData`` call on the
request path, no extra IAM permission, and the line stays searchable in Logs Insights. One line
per event, written at once (nothing is buffered, so a timeout or a crash loses nothing already
counted), under the namespace :data:`NAMESPACE`.

Dimensions are ``environment`` and, for per-channel metrics, ``channel``: never a user, meeting or
event id (each distinct dimension value is a separate, billed metric). Ids go into the same line
as plain properties, so Logs Insights can still find the events behind a figure.

Why a small writer and not Powertools' ``Metrics``: the prep trigger and the Slack bot import this
module at cold start (the Slack bot must answer Slack within 3 s of a cold start). Measured with
``bench/emf_import.py`` (2026-12-03, this shared 2-core machine under load average 7-9; 11-15
interleaved cold imports per run, each after the prep trigger's own imports):

=========================================  ==========================  ====================
compiled                                   aws_lambda_powertools 3.37  this module
=========================================  ==========================  ====================
from source (three runs)                   median 298 / 317 / 360 ms   median 14 / 8 / 12 ms
from ``.pyc``, as the bundle now ships     median 100 ms (min 46)      median 16 ms (min 2)
=========================================  ==========================  ====================

Powertools brings 41 modules of its own plus jmespath; this module needs only ``json``, ``os``,
``sys``, ``threading`` and ``time``, already loaded. The absolute figures are inflated by the
load; the ratio (6x to 40x) is the point. An EMF document is a few keys (see :func:`document`),
so writing it costs less than depending on a library for it.

Where lines go: stdout on Lambda. Elsewhere (the CLI, ``serve``, tests) nothing is written unless
``EXEC_ASSISTANT_METRICS=emf`` (``off`` silences them on Lambda too): the CLI's ``--json`` output
owns stdout.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TextIO

NAMESPACE = "ExecAssistant"


class Metric(StrEnum):
    """Every metric the service emits (the alarms and the dashboard in infra/ name these)."""

    #: a prep notification delivered (channel: the delivering channel)
    NOTIFICATION_DELIVERED = "NotificationDelivered"
    #: a cycle where every channel failed or was skipped (no channel dimension)
    NOTIFICATION_EXHAUSTED = "NotificationExhausted"
    #: a channel attempt that failed (channel; error_class as a property)
    DELIVERY_ATTEMPT_FAILED = "DeliveryAttemptFailed"
    #: an escalation delivered on another channel (channel: where it went)
    ESCALATION_DELIVERED = "EscalationDelivered"
    #: an acknowledgement of a prep notification (channel: where the executive answered)
    ACKNOWLEDGEMENT = "Acknowledgement"
    #: seconds from the meeting's prep window opening to the first delivery of that cycle
    PREP_WINDOW_TO_DELIVERY = "PrepWindowToDelivery"
    #: a Slack bot listener's work that failed after the response was sent
    POST_RESPONSE_FAILED = "PostResponseWorkFailed"
    #: a Slack request refused (bad or missing signature, outside the replay window)
    SLACK_REQUEST_REFUSED = "SlackRequestRefused"
    #: the store could not be reached or throttled a request
    STORE_UNAVAILABLE = "StoreUnavailable"
    #: one completed calendar monitor run
    CALENDAR_MONITOR_RUN = "CalendarMonitorRun"
    #: prep cycles the recovery sweep found stuck and republished (in one monitor run)
    CYCLES_RECOVERED = "CyclesRecovered"


class Unit(StrEnum):
    COUNT = "Count"
    SECONDS = "Seconds"


#: The only dimension names allowed (DESIGN: no user or meeting ids in dimensions).
DIMENSIONS = ("environment", "channel")

_lock = threading.Lock()
_state: dict[str, TextIO | None] = {"stream": None}


def _enabled() -> bool:
    setting = os.environ.get("EXEC_ASSISTANT_METRICS", "").strip().lower()
    if setting:
        return setting == "emf"
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


def set_stream(stream: TextIO | None) -> None:
    """Write EMF lines to ``stream`` whatever the environment (tests); ``None`` restores the
    default (stdout when enabled)."""
    with _lock:
        _state["stream"] = stream


def document(
    metric: Metric,
    value: float,
    unit: Unit = Unit.COUNT,
    *,
    environment: str,
    channel: str | None = None,
    properties: Mapping[str, Any] | None = None,
    timestamp_ms: int | None = None,
) -> dict[str, Any]:
    """The EMF document for one data point (the specification's required keys: ``_aws`` with
    ``Timestamp`` and ``CloudWatchMetrics[].Namespace/Dimensions/Metrics``; each dimension and
    the metric's value as top-level members)."""
    dimensions = {"environment": environment}
    if channel is not None:
        dimensions["channel"] = channel
    extra = {k: v for k, v in (properties or {}).items() if v is not None}
    clash = set(extra) & ({"_aws", str(metric)} | set(DIMENSIONS))
    if clash:
        raise ValueError(f"properties may not override {sorted(clash)}")
    return {
        "_aws": {
            "Timestamp": timestamp_ms if timestamp_ms is not None else int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [list(dimensions)],
                    "Metrics": [{"Name": str(metric), "Unit": str(unit)}],
                }
            ],
        },
        **dimensions,
        str(metric): value,
        **extra,
    }


def emit(
    metric: Metric,
    value: float = 1,
    unit: Unit = Unit.COUNT,
    *,
    channel: str | None = None,
    **properties: Any,
) -> None:
    """Write one data point of ``metric`` (dimension ``channel`` when given); ``properties``
    (ids, error class) ride along, searchable but not dimensions. Never raises: a metric is not
    worth failing a notification for, so an unwritable stream is reported on stderr."""
    with _lock:
        stream = _state["stream"]
    if stream is None:
        if not _enabled():
            return
        stream = sys.stdout
    line = json.dumps(
        document(
            metric,
            value,
            unit,
            environment=os.environ.get("ENVIRONMENT", "dev"),
            channel=channel,
            properties=properties,
        ),
        separators=(",", ":"),
        default=str,
    )
    try:
        with _lock:
            stream.write(line + "\n")
            stream.flush()
    except (OSError, ValueError) as exc:  # closed or broken stream: say so, carry on
        sys.stderr.write(f"exec_assistant.metrics: cannot write {metric}: {exc}\n")
