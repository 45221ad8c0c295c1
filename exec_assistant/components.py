"""The pieces a runtime is made of: :class:`Runtime`, the :class:`Notifier` protocol, ``Clock``.

Workflows and handlers take a :class:`Runtime` and use its pieces; they import this module, never
the composition root (:mod:`exec_assistant.runtime`), which builds a :class:`Runtime` from
``Settings`` and sits above everything it builds. See the architecture page of the docs.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from exec_assistant.config import SettingsModel
from exec_assistant.events.base import EventBus, Scheduler
from exec_assistant.models import Channel, Meeting, User, utcnow
from exec_assistant.notifications.types import (
    NotificationChannel,
    NotificationKind,
    NotificationResult,
)
from exec_assistant.store.base import MeetingMark, Store

#: Returns the current time, timezone-aware UTC (injectable for tests).
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
        deadline: datetime | None = None,
        log_delivery: bool = True,
        meeting_mark: MeetingMark | None = None,
    ) -> NotificationResult: ...


#: A loop the embedded runtime runs in a thread until ``stop`` is set.
BackgroundLoop = Callable[["Runtime", threading.Event], None]


@dataclass
class Runtime:
    """Everything a handler needs, built once per process by ``build_runtime``."""

    settings: SettingsModel
    store: Store
    bus: EventBus
    scheduler: Scheduler
    notifications: Notifier
    channels: dict[Channel, NotificationChannel]
    clock: Clock = field(default=utcnow)
    #: Loops :meth:`start_background` runs besides the scheduler's own (the calendar monitor).
    background: Sequence[BackgroundLoop] = ()

    @property
    def configured_channels(self) -> frozenset[Channel]:
        return frozenset(self.channels)

    def start_background(self, stop: threading.Event) -> list[threading.Thread]:
        """Start the loops the embedded runtime needs (calendar monitor, local scheduler).

        On AWS these are an EventBridge rule and EventBridge Scheduler; this is for the local
        server and the CLI, which call it without knowing which runtime they have.
        """
        loops: list[Callable[[], None]] = [
            functools.partial(loop, self, stop) for loop in self.background
        ]
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
