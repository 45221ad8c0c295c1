"""Simulated time and the Lambda pieces the harness stands in for.

* :class:`SimClock` — an injected clock on the test's own time line: a base instant plus the
  real (monotonic) time elapsed since an anchor, plus the jumps the test makes to replay Lambda's
  retry schedule. ``time.monotonic`` is system-wide on Linux, so a worker process given
  ``(base, anchor)`` reads the same clock as the test process and its fakes.
* :class:`FakeLambdaContext` — ``get_remaining_time_in_millis()`` counting down in real time.
* :class:`CapturingBus` / :class:`RecordingScheduler` — the bus and scheduler of the runtime
  under test: what the recovery sweep republishes is captured and fed back to the trigger, as
  EventBridge would; escalation schedules are recorded (they are not the subject here).
* :class:`DecisionLines` — the trigger's ``prep_trigger.<action>`` log lines of one invocation:
  exactly one per event, and ``prep_trigger.retryable`` with its ids when it raises.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self

from exec_assistant.events.base import BusEvent, ScheduledEvent
from exec_assistant.models import PREP_EVENT_DETAIL_TYPE, PREP_EVENT_SOURCE


class SimClock:
    """``base + (monotonic() - anchor) + jumped``: real time passing on a test's time line."""

    def __init__(self, base: datetime, anchor: float | None = None) -> None:
        self._base = base
        self._anchor = time.monotonic() if anchor is None else anchor
        self._jumped = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            jumped = self._jumped
        return self._base + timedelta(seconds=time.monotonic() - self._anchor + jumped)

    def jump(self, seconds: float) -> None:
        """Move the clock forward (a Lambda retry a minute later, a sweep five minutes later)."""
        with self._lock:
            self._jumped += seconds

    def spec(self) -> tuple[str, float]:
        """What another process needs to read this clock: (base incl. jumps, anchor)."""
        with self._lock:
            base = self._base + timedelta(seconds=self._jumped)
        return base.isoformat(), self._anchor

    @classmethod
    def from_spec(cls, spec: tuple[str, float]) -> SimClock:
        base, anchor = spec
        return cls(datetime.fromisoformat(base), anchor)


class FakeLambdaContext:
    """The part of Lambda's context object the handler uses, with a real countdown."""

    function_name = "exec-assistant-prep-trigger-faults"
    memory_limit_in_mb = 256

    def __init__(self, timeout_ms: int) -> None:
        self.timeout_ms = timeout_ms
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class CapturingBus:
    """An :class:`~exec_assistant.events.base.EventBus` that keeps what is published."""

    def __init__(self) -> None:
        self.published: list[BusEvent] = []
        self._lock = threading.Lock()

    def publish(self, events: list[BusEvent]) -> list[str]:
        with self._lock:
            self.published.extend(events)
        return [str(uuid.uuid4()) for _ in events]

    def drain(self) -> list[BusEvent]:
        with self._lock:
            events, self.published = self.published, []
        return events


class RecordingScheduler:
    """A :class:`~exec_assistant.events.base.Scheduler` that records schedules."""

    def __init__(self) -> None:
        self.items: dict[str, ScheduledEvent] = {}

    def schedule(self, item: ScheduledEvent) -> None:
        self.items.setdefault(item.name, item)

    def cancel(self, name: str) -> bool:
        return self.items.pop(name, None) is not None

    def pending(self, prefix: str = "") -> list[ScheduledEvent]:
        found = [item for name, item in self.items.items() if name.startswith(prefix)]
        return sorted(found, key=lambda item: (item.fire_at, item.name))

    def reschedule(self, item: ScheduledEvent) -> bool:
        if item.name not in self.items:
            return False
        self.items[item.name] = item
        return True


class DecisionLines(logging.Handler):
    """Captures the prep trigger's decision lines while in a ``with`` block."""

    LOGGER = "exec_assistant.workflows.prep_trigger_handler"

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[str, dict[str, Any]]] = []

    def emit(self, record: logging.LogRecord) -> None:
        name = str(record.msg)
        if name.startswith("prep_trigger."):
            self.lines.append((name, dict(getattr(record, "fields", None) or {})))

    def __enter__(self) -> Self:
        logging.getLogger(self.LOGGER).addHandler(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        logging.getLogger(self.LOGGER).removeHandler(self)

    def problem(self, *, event_id: object, raised: bool) -> str | None:
        """What is wrong with the lines of an invocation that ``raised`` or not, if anything."""
        if len(self.lines) != 1:
            return f"{len(self.lines)} decision lines: {[name for name, _ in self.lines]}"
        name, fields = self.lines[0]
        if raised and name != "prep_trigger.retryable":
            return f"raised but logged {name}"
        if raised and not (
            fields.get("event_id") == event_id
            and fields.get("meeting_id")
            and fields.get("error_class")
        ):
            return f"prep_trigger.retryable without event id, meeting id or error class: {fields}"
        return None


def envelope(
    detail: dict[str, Any],
    *,
    at: datetime,
    source: str = PREP_EVENT_SOURCE,
    event_id: str | None = None,
) -> dict[str, Any]:
    """An EventBridge envelope as Lambda hands it to the prep trigger."""
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": PREP_EVENT_DETAIL_TYPE,
        "source": source,
        "account": "123456789012",
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def envelope_of(event: BusEvent, *, at: datetime) -> dict[str, Any]:
    """The envelope EventBridge would deliver for a published :class:`BusEvent`."""
    return envelope(dict(event.detail), at=at, source=event.source) | {
        "detail-type": event.detail_type
    }
