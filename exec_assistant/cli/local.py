"""The embedded runtime for one CLI command, with the prep trigger's results kept for display.

The runtime is the real one (``build_runtime``: configured store, channels, notification
service, local scheduler); only the in-process bus is built here, so the CLI can subscribe the
prep trigger itself and keep each :class:`TriggerResult` to show what happened.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from exec_assistant.config import get_settings
from exec_assistant.errors import ConfigurationError
from exec_assistant.logs import JsonFormatter, parse_log_level
from exec_assistant.models import PREP_EVENT_DETAIL_TYPE, PREP_EVENT_SOURCES, Channel

if TYPE_CHECKING:
    from exec_assistant.events.local import LocalEventBus
    from exec_assistant.runtime import Runtime
    from exec_assistant.workflows.prep_trigger_handler import TriggerResult


class _CurrentStderr(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is at the time (the CLI test runner swaps it)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


@contextmanager
def cli_logging(default: str = "WARNING") -> Iterator[None]:
    """JSON log lines on stderr while a command runs workflows (``LOG_LEVEL``, else default)."""
    root = logging.getLogger()
    handler = _CurrentStderr()
    handler.setFormatter(JsonFormatter())
    try:
        handler.setLevel(parse_log_level(os.environ.get("LOG_LEVEL") or default))
    except ValueError as exc:
        raise ConfigurationError(f"LOG_LEVEL: {exc}", code="bad_log_level") from None
    previous = root.level
    root.addHandler(handler)
    root.setLevel(min(previous or logging.WARNING, handler.level))
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


@dataclass
class LocalRun:
    runtime: Runtime
    bus: LocalEventBus
    results: list[TriggerResult] = field(default_factory=list)


@contextmanager
def local_runtime(*, console: TextIO | None = None) -> Iterator[LocalRun]:
    """A runtime on the in-process bus; ``console`` redirects the console channel (``--json``)."""
    from exec_assistant.events.local import LocalEventBus
    from exec_assistant.notifications.channels import build_channels
    from exec_assistant.notifications.channels.console import ConsoleChannel
    from exec_assistant.runtime import build_runtime
    from exec_assistant.workflows.prep_trigger_handler import handle_event

    settings = get_settings()
    channels = build_channels(settings)
    if console is not None and Channel.CONSOLE in channels:
        channels[Channel.CONSOLE] = ConsoleChannel(console)
    bus = LocalEventBus()
    runtime = build_runtime(settings, bus=bus, channels=channels)
    run = LocalRun(runtime=runtime, bus=bus)

    def deliver(envelope: Mapping[str, Any]) -> None:
        run.results.append(handle_event(envelope, runtime))

    for source in sorted(PREP_EVENT_SOURCES):
        bus.subscribe(source, PREP_EVENT_DETAIL_TYPE, deliver)
    try:
        yield run
    finally:
        runtime.close()
