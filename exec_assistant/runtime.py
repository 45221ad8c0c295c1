"""The composition root: builds store, bus, scheduler, channels and services from Settings.

This is the one place that knows the embedded runtime from AWS (DESIGN.md); handlers and the CLI
ask it for a :class:`Runtime` and never branch on it themselves. It sits at the top of the
package: it may import anything it builds (and wires the local bus to the prep trigger), while
nothing it builds imports it. Only the entry points reach it: the CLI, ``interfaces``, and the
Lambda entry functions (``lambda_handler``), which import it inside the function. The
:class:`Runtime` type itself lives one layer down, in :mod:`exec_assistant.components`.

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
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exec_assistant.components import Clock, Notifier, Runtime
from exec_assistant.config import SettingsModel, get_settings, running_on_lambda
from exec_assistant.errors import ConfigurationError
from exec_assistant.events.base import EventBus, Scheduler
from exec_assistant.models import PREP_EVENT_DETAIL_TYPE, PREP_EVENT_SOURCES, Channel, utcnow
from exec_assistant.notifications.types import NotificationChannel
from exec_assistant.store.base import Store

if TYPE_CHECKING:
    from exec_assistant.events.local import LocalEventBus

__all__ = [
    "Clock",
    "Notifier",
    "Runtime",
    "build_runtime",
    "get_runtime",
    "reset_runtime",
    "uses_aws",
]


def uses_aws(settings: SettingsModel) -> bool:
    """Whether the store/bus are the AWS ones (explicit dynamodb store, or on Lambda)."""
    if settings.exec_assistant_store:
        return settings.exec_assistant_store == "dynamodb"
    return running_on_lambda()


def build_runtime(
    settings: SettingsModel | None = None,
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
        from exec_assistant.notifications.metered import MeteredNotificationService

        notifications = MeteredNotificationService(
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
        background=(_calendar_monitor_loop, _digest_planner_loop),
    )
    if local_bus is not None:
        _wire_prep_trigger(local_bus, runtime)
    return runtime


def _calendar_monitor_loop(runtime: Runtime, stop: threading.Event) -> None:
    """The calendar monitor's local loop (imported when it starts: a Lambda never runs it)."""
    from exec_assistant.workflows import calendar_monitor

    calendar_monitor.run_forever(runtime, stop)


def _digest_planner_loop(runtime: Runtime, stop: threading.Event) -> None:
    """Keep each user's next morning digest on the local scheduler (hourly: settings change)."""
    from exec_assistant.workflows import digest

    digest.plan_forever(runtime, stop)


def _build_scheduler(
    settings: SettingsModel, store: Store, bus: EventBus, clock: Clock, on_aws: bool
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
            dlq_arn=settings.scheduler_dlq_arn,
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

    The import is deferred to the first event so that building a runtime does not import the
    trigger's module; the direction is the allowed one (the root imports what it wires).
    """

    def deliver(envelope: Mapping[str, Any]) -> None:
        from exec_assistant.workflows.prep_trigger_handler import handle_event

        handle_event(envelope, runtime)

    for source in sorted(PREP_EVENT_SOURCES):
        bus.subscribe(source, PREP_EVENT_DETAIL_TYPE, deliver)

    def deliver_digest(envelope: Mapping[str, Any]) -> None:
        from exec_assistant.workflows.digest import handle_digest_event

        handle_digest_event(envelope, runtime)

    from exec_assistant.workflows.digest import DIGEST_DETAIL_TYPE, DIGEST_EVENT_SOURCE

    bus.subscribe(DIGEST_EVENT_SOURCE, DIGEST_DETAIL_TYPE, deliver_digest)


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
