"""The composition root: builds store, bus, scheduler, channels and services from Settings.

This is the one place that knows the embedded runtime from AWS (DESIGN.md); handlers and the CLI
ask it for a :class:`Runtime` and never branch on it themselves.

=================  ===============================  ==========================================
piece              AWS                              embedded (default)
=================  ===============================  ==========================================
store              DynamoDB                         SQLite file
bus                EventBridge (``EVENT_BUS_NAME``) in-process bus, wired to the prep trigger
scheduler          EventBridge Scheduler            SQLite-backed loop (the store's file)
=================  ===============================  ==========================================

"AWS" means ``EXEC_ASSISTANT_STORE=dynamodb`` or running on Lambda. The scheduler is EventBridge
Scheduler whenever ``SCHEDULER_GROUP_NAME`` is set. SDKs are imported only when a piece is built.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from exec_assistant.config import Settings, get_settings, running_on_lambda
from exec_assistant.errors import ConfigurationError
from exec_assistant.events.base import EventBus, Scheduler
from exec_assistant.models import (
    PREP_EVENT_DETAIL_TYPE,
    PREP_EVENT_SOURCES,
    Channel,
    Meeting,
    User,
    utcnow,
)
from exec_assistant.notifications.types import (
    NotificationChannel,
    NotificationKind,
    NotificationResult,
)
from exec_assistant.store.base import Store

if TYPE_CHECKING:
    from exec_assistant.events.local import LocalEventBus

Clock = Callable[[], datetime]


class Notifier(Protocol):
    """What the workflows need of the notification service (``NotificationService``)."""

    def notify(
        self,
        meeting: Meeting,
        user: User,
        *,
        key: str,
        kind: NotificationKind = NotificationKind.INITIAL,
        channel_order: Sequence[Channel] | None = None,
    ) -> NotificationResult: ...


@dataclass
class Runtime:
    """Everything a handler needs, built once per process."""

    settings: Settings
    store: Store
    bus: EventBus
    scheduler: Scheduler
    notifications: Notifier
    channels: dict[Channel, NotificationChannel]
    clock: Clock = field(default=utcnow)

    @property
    def configured_channels(self) -> frozenset[Channel]:
        return frozenset(self.channels)

    def start_background(self, stop: threading.Event) -> list[threading.Thread]:
        """Start the loops the embedded runtime needs (calendar monitor, local scheduler).

        On AWS these are an EventBridge rule and EventBridge Scheduler; this is for the local
        server and the CLI, which call it without knowing which runtime they have.
        """
        from exec_assistant.workflows import calendar_monitor

        loops: list[Callable[[], None]] = [lambda: calendar_monitor.run_forever(self, stop)]
        run_forever = getattr(self.scheduler, "run_forever", None)
        if run_forever is not None:
            loops.append(lambda: run_forever(stop))
        threads = [threading.Thread(target=loop, daemon=True) for loop in loops]
        for thread in threads:
            thread.start()
        return threads

    def close(self) -> None:
        for part in (self.scheduler, self.store):
            close = getattr(part, "close", None)
            if close is not None:
                close()


def uses_aws(settings: Settings) -> bool:
    """Whether the store/bus are the AWS ones (explicit dynamodb store, or on Lambda)."""
    if settings.exec_assistant_store:
        return settings.exec_assistant_store == "dynamodb"
    return running_on_lambda()


def build_runtime(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    bus: EventBus | None = None,
    scheduler: Scheduler | None = None,
    channels: dict[Channel, NotificationChannel] | None = None,
    notifications: Notifier | None = None,
    clock: Clock | None = None,
) -> Runtime:
    """Build a runtime; any piece may be injected (tests, embedding services)."""
    settings = settings or get_settings()
    clock = clock or utcnow
    on_aws = uses_aws(settings)
    if store is None:
        from exec_assistant.store import open_store

        store = open_store(settings)
    local_bus: LocalEventBus | None = None
    if bus is None:
        if on_aws:
            from exec_assistant.events.eventbridge import EventBridgeBus

            bus = EventBridgeBus(settings.event_bus_name)
        else:
            from exec_assistant.events.local import LocalEventBus

            bus = local_bus = LocalEventBus(clock=clock)
    if scheduler is None:
        scheduler = _build_scheduler(settings, store, bus, clock, on_aws)
    if channels is None:
        from exec_assistant.notifications.channels import build_channels

        channels = build_channels(settings)
    if notifications is None:
        from exec_assistant.notifications.service import NotificationService

        notifications = NotificationService(
            store, channels, clock=clock, lease_seconds=settings.notification_lease_seconds
        )
    runtime = Runtime(
        settings=settings,
        store=store,
        bus=bus,
        scheduler=scheduler,
        notifications=notifications,
        channels=channels,
        clock=clock,
    )
    if local_bus is not None:
        _wire_prep_trigger(local_bus, runtime)
    return runtime


def _build_scheduler(
    settings: Settings, store: Store, bus: EventBus, clock: Clock, on_aws: bool
) -> Scheduler:
    if settings.scheduler_group_name:
        from exec_assistant.events.scheduler import EventBridgeScheduler

        if not settings.scheduler_role_arn:
            raise ConfigurationError(
                "SCHEDULER_ROLE_ARN is required with SCHEDULER_GROUP_NAME", code="missing_setting"
            )
        return EventBridgeScheduler(
            settings.scheduler_group_name,
            settings.scheduler_role_arn,
            settings.scheduler_target_arn or _bus_arn(settings.event_bus_name),
        )
    if on_aws:
        from exec_assistant.events.scheduler import UnavailableScheduler

        return UnavailableScheduler()
    from exec_assistant.events.local_scheduler import LocalScheduler
    from exec_assistant.store import default_sqlite_path

    path = getattr(store, "path", None)
    return LocalScheduler(
        Path(path) if path is not None else default_sqlite_path(),
        bus,
        clock=clock,
    )


def _bus_arn(bus_name: str) -> str:
    """The ARN of the event bus the schedules target (SCHEDULER_TARGET_ARN unset)."""
    if bus_name.startswith("arn:"):
        return bus_name
    from exec_assistant.aws import client

    return str(client("events").describe_event_bus(Name=bus_name)["Arn"])


def _wire_prep_trigger(bus: LocalEventBus, runtime: Runtime) -> None:
    """Deliver MeetingPrepRequired on the local bus to the prep trigger, as EventBridge would.

    The import is deferred: workflows depend on the runtime, not the other way round; only this
    wiring, at call time, reaches up to the handler.
    """

    def deliver(envelope: Mapping[str, Any]) -> None:
        from exec_assistant.workflows.prep_trigger_handler import handle_event

        handle_event(envelope, runtime)

    for source in sorted(PREP_EVENT_SOURCES):
        bus.subscribe(source, PREP_EVENT_DETAIL_TYPE, deliver)


_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


def get_runtime() -> Runtime:
    """The process-wide runtime (a warm Lambda reuses its clients and connections)."""
    global _runtime  # noqa: PLW0603 - the per-process cache is the point
    with _runtime_lock:
        if _runtime is None:
            _runtime = build_runtime()
        return _runtime


def reset_runtime() -> None:
    """Close and forget the cached runtime (tests; after settings change)."""
    global _runtime  # noqa: PLW0603
    with _runtime_lock:
        if _runtime is not None:
            _runtime.close()
        _runtime = None
